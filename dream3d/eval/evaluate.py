"""R-precision of finished runs: render each field from the evaluation views once, then for each CLIP
retrieval model embed the candidate prompts (the prompt set, plus any run prompt it lacks) and the
renders, and score every run against the candidates; groups of runs get a mean and standard error."""
from __future__ import annotations

import sys
from pathlib import Path
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from ..guidance import ClipSpec, load_clip, locate_weights
from .fields import eval_cameras, load_field, render_eval_views
from .rprecision import mean_stderr, object_scores
from .report import write_strip
from .runs import EvalRun

DEFAULT_MODELS = ("ViT-B-32", "ViT-B-16")


@dataclass(frozen=True)
class Protocol:
    """The evaluation views (DreamFields: one elevation and radius, 224 px, white background)."""

    views: int = 8
    elevation: float = 30.0
    radius: float = 4.0
    fov: float = 40.0
    size: int = 224


def parse_model(text: str, cache_dir: str | None = None, download: bool = False) -> tuple[str, ClipSpec]:
    """``ARCH[:TAG][=CHECKPOINT]`` or ``CONFIG.json[=CHECKPOINT]`` -> (label, ClipSpec). The tag defaults
    to openai; a JSON config (open_clip's format) needs its checkpoint."""
    model, sep, checkpoint = text.rpartition("=") if "=" in text else (text, "", "")
    if not model:
        raise ValueError(f"--model {text!r}: expected ARCH[:TAG][=CHECKPOINT] or CONFIG.json=CHECKPOINT")
    tag = "openai"
    if not model.endswith(".json") and ":" in model:
        model, tag = model.split(":", 1)
    label = model.rsplit("/", 1)[-1].removesuffix(".json")
    label += f"@{Path(checkpoint).stem}" if checkpoint else "" if model.endswith(".json") else f":{tag}"
    return label, ClipSpec(model=model, pretrained="" if model.endswith(".json") else tag,
                           checkpoint=checkpoint or None, cache_dir=cache_dir, download=download)


def candidate_prompts(prompt_set: list[str], runs: list[EvalRun]) -> tuple[list[str], list[str]]:
    """The retrieval candidates: the set, then the runs' prompts it lacks (returned second)."""
    added = [p for p in dict.fromkeys(r.prompt for r in runs) if p not in set(prompt_set)]
    return [*prompt_set, *added], added


def render_runs(runs: list[EvalRun], protocol: Protocol, device, progress: bool = True) -> list[torch.Tensor]:
    """Each run's evaluation renders, (V, 3, S, S) uint8 on the CPU, one field in memory at a time."""
    from tqdm import tqdm

    cameras = eval_cameras(protocol.views, protocol.elevation, protocol.radius)
    renders = []
    for run in tqdm(runs, desc="render", unit="run", file=sys.stderr, disable=not progress):
        field = load_field(run.folder, device)
        renders.append(render_eval_views(field, cameras, protocol.size, protocol.fov))
        del field
    return renders


@torch.no_grad()
def embed_renders(guide, renders: list[torch.Tensor], batch: int = 64) -> torch.Tensor:
    """(runs, views, D) image embeddings of uint8 renders."""
    flat = torch.cat(renders)
    device = guide.mean.device
    out = [guide.embed_images(flat[i:i + batch].to(device).float() / 255) for i in range(0, len(flat), batch)]
    return torch.cat(out).reshape(len(renders), renders[0].shape[0], -1).cpu()


def evaluate(runs: list[EvalRun], prompt_set: list[str], models: list[tuple[str, ClipSpec]], ks=(1, 5),
             protocol: Protocol = Protocol(), device="cpu", progress: bool = True, renders_dir: Path | None = None,
             log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    """Group results (rows of group, model, k, mean, stderr, n) and per-run scores. Every model's
    weights are located before any rendering, so a missing one stops the evaluation at once. With
    ``renders_dir``, each run's views are saved there as one strip, renders_dir/GROUP/FOLDER.png."""
    ks = sorted({int(k) for k in ks})
    labels = [label for label, _ in models]
    if len(set(labels)) < len(labels):
        raise ValueError(f"two retrieval models share a name: {', '.join(labels)}")
    weights = [locate_weights(spec) for _, spec in models]
    candidates, added = candidate_prompts(prompt_set, runs)
    index = {p: i for i, p in enumerate(candidates)}
    targets = torch.tensor([index[r.prompt] for r in runs])
    if added:
        log(f"[dream3d-eval] {len(added)} run prompt(s) not in the prompt set join the candidates")
    renders = render_runs(runs, protocol, device, progress)
    if renders_dir is not None:
        for run, views in zip(runs, renders):
            write_strip(Path(renders_dir) / run.group / f"{run.folder.name}.png", views)
    groups = list(dict.fromkeys(r.group for r in runs))
    rows, per_run = [], [{"group": r.group, "prompt": r.prompt, "folder": str(r.folder), "scores": {}} for r in runs]
    for (label, spec), found in zip(models, weights):
        log(f"[dream3d-eval] scoring with {label}")
        guide = load_clip(spec, device, found)
        scores = object_scores(embed_renders(guide, renders), guide.embed_text(candidates).cpu(), targets, ks)
        del guide
        for i, entry in enumerate(per_run):
            entry["scores"][label] = {f"top{k}": float(scores[i, j]) for j, k in enumerate(ks)}
        for g in groups:
            members = [i for i, r in enumerate(runs) if r.group == g]
            for j, k in enumerate(ks):
                est = mean_stderr(scores[members, j])
                rows.append({"group": g, "model": label, "k": k, "mean": est.mean, "stderr": est.stderr, "n": est.n})
    return {"protocol": {**asdict(protocol), "background": "white"}, "ks": ks,
            "models": {label: asdict(spec) for label, spec in models}, "n_candidates": len(candidates),
            "added_prompts": added, "results": rows, "runs": per_run}
