"""CLIP R-precision (DreamFields' protocol): each rendered view of an object retrieves, among the
embeddings of a set of prompts, the one closest to its image embedding; a view scores a hit at k when
its own prompt is among the k most similar. An object's score is its views' mean hit rate, and a set of
objects reports the mean over objects with its standard error (objects are the independent draws: the
views of one object are not).

Ties count against the object: a prompt exactly as similar as the true one ranks above it, so a model
that embeds everything alike scores 0, never 1."""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch


class Estimate(NamedTuple):
    mean: float
    stderr: float  # nan for fewer than two objects
    n: int


def true_prompt_ranks(image_emb: torch.Tensor, text_emb: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each image's own prompt among all prompts by cosine similarity.

    image_emb (N, D), text_emb (P, D) (normalised here), targets (N,) int indices into the prompts.
    rank = #{other prompts with similarity >= the true one's} (ties rank above: see the module doc)."""
    if image_emb.dim() != 2 or text_emb.dim() != 2 or image_emb.shape[1] != text_emb.shape[1]:
        raise ValueError(f"embeddings must be (N, D) and (P, D) with one D, got {tuple(image_emb.shape)} "
                         f"and {tuple(text_emb.shape)}")
    targets = torch.as_tensor(targets, dtype=torch.long, device=image_emb.device)
    if targets.shape != (image_emb.shape[0],):
        raise ValueError(f"targets must be ({image_emb.shape[0]},), got {tuple(targets.shape)}")
    if len(targets) and (targets.min() < 0 or targets.max() >= text_emb.shape[0]):
        raise ValueError(f"targets must index the {text_emb.shape[0]} prompts, got {targets.min()}..{targets.max()}")
    sim = torch.nn.functional.normalize(image_emb.double(), dim=-1) @ \
        torch.nn.functional.normalize(text_emb.double().to(image_emb.device), dim=-1).T
    true = sim.gather(1, targets[:, None])
    return (sim >= true).sum(dim=1) - 1  # minus the true prompt itself


def object_scores(image_emb: torch.Tensor, text_emb: torch.Tensor, targets: torch.Tensor,
                  ks: Sequence[int] = (1, 5)) -> torch.Tensor:
    """Each object's R-precision at each k: image_emb (N objects, V views, D) -> (N, len(ks)) float64,
    the fraction of the object's views whose own prompt ranks within the top k."""
    if image_emb.dim() != 3:
        raise ValueError(f"image embeddings must be (objects, views, D), got {tuple(image_emb.shape)}")
    if not ks or any(int(k) < 1 for k in ks):
        raise ValueError(f"k must be >= 1, got {list(ks)}")
    n, v, d = image_emb.shape
    targets = torch.as_tensor(targets, dtype=torch.long)
    ranks = true_prompt_ranks(image_emb.reshape(n * v, d), text_emb, targets.repeat_interleave(v).to(image_emb.device))
    hits = torch.stack([(ranks < int(k)) for k in ks], dim=-1).double()  # (N * V, K)
    return hits.reshape(n, v, len(ks)).mean(dim=1).cpu()


def mean_stderr(values) -> Estimate:
    """Mean and its standard error s / sqrt(n), s the sample standard deviation (n - 1 in the
    denominator); the error is nan for n < 2."""
    x = torch.as_tensor(values, dtype=torch.float64).flatten()
    n = len(x)
    if n == 0:
        raise ValueError("no values to average")
    stderr = float(x.std(correction=1) / math.sqrt(n)) if n > 1 else float("nan")
    return Estimate(float(x.mean()), stderr, n)
