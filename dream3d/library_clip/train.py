"""dream3d-train-clip: trains the library CLIP (an open_clip model from a JSON config) on SDF-renderer
images of library shapes with captions from their parameters, using CLIP's contrastive loss.

    dream3d-train-clip --out runs/library_clip --steps 3000     # then --resume to continue

The run folder gets <name>.json (the architecture) and <name>.pt (the weights, float16), loadable with
``dream3d-run --clip-model runs/library_clip/<name>.json --clip-checkpoint runs/library_clip/<name>.pt``,
a resumable training state (train_state.pt) and log.jsonl; every file is written atomically."""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..guidance.clip import import_open_clip
from ..shape._atomic import atomic_path
from ..shape.library import library_shape
from . import CONFIG_PATH
from .captions import (NOUNS, PHRASES, TEMPLATES, applies, article, describe, phrasings, random_caption,
                       visible_attributes)
from .data import DEFAULT_CACHE, RenderSpec, ViewSet, compose, load_views, random_colours
from .splits import train_items

STATE = "train_state.pt"
LOG = "log.jsonl"


class TrainError(ValueError):
    """The training run cannot start or resume; the message says why."""


@dataclass
class TrainConfig:
    out: str = "runs/library_clip"
    model_config: str = str(CONFIG_PATH)   # an open_clip JSON config; its stem names the model
    cache: str = str(DEFAULT_CACHE)         # cached renders (shared with evaluation and the retrieval prior)
    shapes_per_category: int = 100
    grid_resolution: int = 48
    image_size: int = 64
    views: int = 12
    steps: int = 3000
    batch: int = 64
    lr: float = 1e-3
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.05
    class_weight: float = 1.0              # weight of the class-text cross-entropy (batch_loss)
    warmup: int = 100
    checkpoint_every: int = 100
    seed: int = 0
    threads: int = 1
    stop_after: int | None = None          # stop (with a checkpoint) after this step; the schedule keeps `steps`

    def check(self):
        for name in ("shapes_per_category", "steps", "batch", "checkpoint_every", "threads", "views"):
            if getattr(self, name) < 1:
                raise TrainError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch < 2:
            raise TrainError("batch must be >= 2 (the contrastive loss needs negatives)")
        if not self.lr > 0 or not 0 <= self.min_lr_ratio <= 1 or self.weight_decay < 0 or self.warmup < 0:
            raise TrainError("lr must be > 0, min_lr_ratio in [0, 1], weight_decay and warmup >= 0")
        if not Path(self.model_config).is_file():
            raise TrainError(f"model config {self.model_config}: no such file (an open_clip JSON config)")
        RenderSpec(self.grid_resolution, self.image_size, self.views).check()
        return self


def read_model_config(path) -> dict:
    try:
        cfg = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise TrainError(f"model config {path}: {err}") from err
    if not isinstance(cfg, dict) or not {"embed_dim", "vision_cfg", "text_cfg"} <= set(cfg):
        raise TrainError(f"model config {path}: an open_clip config needs embed_dim, vision_cfg and text_cfg")
    return cfg


def create_model(config_path) -> tuple[torch.nn.Module, str]:
    """A randomly initialised open_clip model of the JSON config at ``config_path`` and its name (the
    file's stem, under which open_clip registers it, as guidance/clip.py does)."""
    open_clip = import_open_clip()
    read_model_config(config_path)
    open_clip.add_model_config(Path(config_path))
    name = Path(config_path).stem
    return open_clip.create_model(name), name


def contrastive_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor,
                     match: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric cross-entropy, with every caption that is true of an image a positive (a batch
    often holds several chairs, and "a chair" is true of all of them): soft targets spread over the
    true pairs. match (B, B) bool, match[i, j]: caption j is true of image i (the diagonal always)."""
    logits = logit_scale.exp().clamp(max=100) * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    target = match.float()
    loss_i = -(target / target.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
    loss_t = -(target / target.sum(0, keepdim=True) * logits.log_softmax(0)).sum(0).mean()
    return (loss_i + loss_t) / 2


class Batcher:
    """Random training batches: category uniform, then a shape, a view, colours, a mirror flip and a
    caption; all randomness from one torch generator and one random.Random (saved with checkpoints)."""

    def __init__(self, views: ViewSet, tokenizer, seed: int):
        self.views, self.tokenizer = views, tokenizer
        self.attrs = [visible_attributes(c, library_shape(c, s).params) for c, s in views.items]
        self.by_category: dict[str, list[int]] = {}
        for i, (c, _) in enumerate(views.items):
            self.by_category.setdefault(c, []).append(i)
        self.categories = sorted(self.by_category)
        self.gen = torch.Generator().manual_seed(seed)
        self.rng = random.Random(seed)

    def state(self) -> dict:
        return {"gen": self.gen.get_state(), "rng": self.rng.getstate()}

    def load_state(self, state: dict):
        self.gen.set_state(state["gen"])
        self.rng.setstate(state["rng"])

    def __call__(self, batch: int) -> "Batch":
        g = self.gen
        cat = torch.randint(len(self.categories), (batch,), generator=g).tolist()
        shapes = [self.by_category[self.categories[c]][int(torch.randint(
            len(self.by_category[self.categories[c]]), (1,), generator=g))] for c in cat]
        view = torch.randint(self.views.shading.shape[1], (batch,), generator=g)
        idx = torch.tensor(shapes)
        objects, backgrounds = random_colours(batch, g)
        images = compose(self.views.shading[idx, view], self.views.coverage[idx, view], objects, backgrounds)
        flip = torch.rand(batch, generator=g) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        caps = [random_caption(self.views.items[i][0], self.attrs[i], "train", self.rng) for i in shapes]
        match = torch.tensor([[applies(cap, self.views.items[i][0], self.attrs[i]) for cap in caps] for i in shapes])
        anchors, groups = self._anchors([self.views.items[i][0] for i in shapes], [self.attrs[i] for i in shapes])
        return Batch(images, self.tokenizer([c.text for c in caps]), match, self.tokenizer(anchors), groups)

    def _anchors(self, cats: list[str], attrs: list[dict]):
        """Class texts (one per category, one per attribute value of the batch's categories, in a random
        training phrasing) and the groups each image is classified in: (image rows, anchor rows, target
        position). They give every image a fixed set of negatives: all categories, all values."""
        texts = [random_template(self.rng).format(article(self.rng.choice(NOUNS[c]))) for c in self.categories]
        groups = [(torch.arange(len(cats)), torch.arange(len(texts)),
                   torch.tensor([self.categories.index(c) for c in cats]))]
        for c in sorted(set(cats)):
            for attribute, values in PHRASES[c].items():
                rows = [i for i, (ci, a) in enumerate(zip(cats, attrs)) if ci == c and attribute in a]
                if not rows:
                    continue
                names = sorted(values)
                first = len(texts)
                texts += [random_template(self.rng).format(describe(self.rng.choice(NOUNS[c]), [
                    self.rng.choice(phrasings(c, attribute, v, "train"))])) for v in names]
                groups.append((torch.tensor(rows), torch.arange(first, len(texts)),
                               torch.tensor([names.index(attrs[i][attribute]) for i in rows])))
        return texts, groups


class Batch(NamedTuple):
    images: torch.Tensor        # (B, 3, S, S) in [0, 1]
    tokens: torch.Tensor        # (B, L) one caption per image
    match: torch.Tensor         # (B, B) bool: caption j is true of image i
    anchor_tokens: torch.Tensor  # (A, L) class texts
    groups: list                # (image rows, anchor rows, targets): classification groups over the anchors


def random_template(rng: random.Random) -> str:
    return rng.choice(TEMPLATES["train"])


def normalise(model, images: torch.Tensor) -> torch.Tensor:
    open_clip = import_open_clip()
    pre = open_clip.get_model_preprocess_cfg(model)
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    if images.shape[-1] != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(pre.get("mean", open_clip.OPENAI_DATASET_MEAN)).view(1, 3, 1, 1)
    std = torch.tensor(pre.get("std", open_clip.OPENAI_DATASET_STD)).view(1, 3, 1, 1)
    return (images - mean) / std


def batch_loss(model, batch: Batch, class_weight: float = 1.0) -> torch.Tensor:
    """The contrastive loss of the batch's captions, plus ``class_weight`` times the mean cross-entropy
    of classifying each image among the class texts (its category among all, each attribute's value
    among that attribute's values): zero-shot classification as a training signal, which gives every
    image the same negatives and makes categories and attributes emerge in far fewer steps."""
    image_emb = model.encode_image(normalise(model, batch.images))
    loss = contrastive_loss(image_emb, model.encode_text(batch.tokens), model.logit_scale, batch.match)
    if class_weight:
        scale = model.logit_scale.exp().clamp(max=100)
        anchors = F.normalize(model.encode_text(batch.anchor_tokens), dim=-1)
        image_n = F.normalize(image_emb, dim=-1)
        ces = [F.cross_entropy(scale * image_n[rows] @ anchors[cols].T, target) for rows, cols, target in batch.groups]
        loss = loss + class_weight * torch.stack(ces).mean()
    return loss


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then a cosine down to min_lr_ratio * lr at cfg.steps."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def make_optimizer(model, cfg: TrainConfig) -> torch.optim.Optimizer:
    # no decay on gains, biases, embeddings' positions and the temperature
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": other, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)


def export_paths(cfg: TrainConfig) -> tuple[Path, Path]:
    """Where the run writes the open_clip config and the weights: <out>/<stem>.json and <stem>.pt."""
    stem = Path(cfg.model_config).stem
    return Path(cfg.out) / f"{stem}.json", Path(cfg.out) / f"{stem}.pt"


def export(model, cfg: TrainConfig, dtype=torch.float16) -> tuple[Path, Path]:
    """Writes the config and the weights (a plain state dict, float16 halves the file) atomically."""
    config_out, weights_out = export_paths(cfg)
    with atomic_path(config_out) as tmp:
        shutil.copyfile(cfg.model_config, tmp)
    state = {k: v.detach().to(dtype) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    with atomic_path(weights_out) as tmp:
        torch.save(state, tmp)
    return config_out, weights_out


def _save_state(path: Path, model, optimizer, batcher: Batcher, step: int, cfg: TrainConfig, model_cfg: dict):
    with atomic_path(path) as tmp:
        torch.save({"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "batcher": batcher.state(), "config": dataclasses.asdict(cfg), "model_config": model_cfg}, tmp)


def _append_log(out: Path, record: dict):
    with open(out / LOG, "a") as f:
        f.write(json.dumps(record) + "\n")


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, views: ViewSet | None = None) -> dict:
    """Trains (or resumes) the run in cfg.out; returns {"step", "loss"} of the last step. ``views``
    replaces the rendered training set (tests)."""
    cfg.check()
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    model_cfg = read_model_config(cfg.model_config)
    state_path = out / STATE
    if state_path.exists() and not resume:
        raise TrainError(f"{state_path} exists: pass --resume to continue that run, or choose another --out")
    if resume and not state_path.exists():
        raise TrainError(f"--resume: no training state in {out} ({STATE})")
    spec = RenderSpec(cfg.grid_resolution, cfg.image_size, cfg.views)
    if views is None:
        views = load_views(cfg.cache, train_items(cfg.shapes_per_category), spec, progress)
    torch.manual_seed(cfg.seed)
    model, _ = create_model(cfg.model_config)
    open_clip = import_open_clip()
    tokenizer = open_clip.get_tokenizer(Path(cfg.model_config).stem)
    optimizer = make_optimizer(model, cfg)
    batcher = Batcher(views, tokenizer, cfg.seed)
    step = 0
    if resume:
        saved = torch.load(state_path, map_location="cpu", weights_only=False)
        if saved["model_config"] != model_cfg:
            raise TrainError(f"--resume: {state_path} was trained with another model config than {cfg.model_config}")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        batcher.load_state(saved["batcher"])
        step = saved["step"]
    model.train()
    last = min(cfg.steps, cfg.stop_after if cfg.stop_after is not None else cfg.steps)
    loss_value = float("nan")
    bar = tqdm(range(step, last), desc="train library CLIP", disable=not progress, initial=step, total=last)
    t0 = time.time()
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        loss = batch_loss(model, batcher(cfg.batch), cfg.class_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        loss_value = loss.item()
        bar.set_postfix(loss=f"{loss_value:.3f}")
        done = step + 1
        if done % cfg.checkpoint_every == 0 or done == last:
            _save_state(state_path, model, optimizer, batcher, done, cfg, model_cfg)
            export(model, cfg)
            _append_log(out, {"step": done, "loss": loss_value, "lr": learning_rate(cfg, step),
                              "logit_scale": model.logit_scale.exp().item(), "seconds": round(time.time() - t0, 1)})
    return {"step": last, "loss": loss_value}


def parse_args(argv=None) -> tuple[TrainConfig, bool]:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="dream3d-train-clip", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=d.out, help="the run folder (default %(default)s)")
    p.add_argument("--model-config", default=d.model_config, help="an open_clip JSON config (default: the library CLIP's)")
    p.add_argument("--cache", default=d.cache, help="folder of cached renders (default %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    for name in ("shapes_per_category", "grid_resolution", "image_size", "views", "steps", "batch", "warmup",
                 "checkpoint_every", "seed", "threads", "stop_after"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("lr", "min_lr_ratio", "weight_decay", "class_weight"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    args = vars(p.parse_args(argv))
    resume = args.pop("resume")
    return TrainConfig(**args), resume


def main(argv=None) -> int:
    cfg, resume = parse_args(argv)
    try:
        result = train(cfg, resume=resume)
    except TrainError as err:
        print(f"dream3d-train-clip: error: {err}", file=sys.stderr)
        return 2
    config_out, weights_out = export_paths(cfg)
    print(f"step {result['step']}: loss {result['loss']:.4f}; model: --clip-model {config_out} "
          f"--clip-checkpoint {weights_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
