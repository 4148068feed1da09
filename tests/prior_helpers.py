"""Shared pieces of the G_M and text-to-shape tests: a tiny CLIP (open_clip JSON config + random
weights), a tiny G_S, synthetic prior data, and the command-line argument lists of the tiny runs."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from dream3d.prior.data import DataPlan, write_manifest, write_shard

TINY_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def save_tiny_clip(folder: Path, name: str, architecture: dict, weights_file: str | None = None):
    """An open_clip JSON config ``name``.json, registered with open_clip, and its random weights (seed 0)
    in ``weights_file`` (default ``name``.pt): (config path, weights path, the model that was saved)."""
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / f"{name}.json"
    config.write_text(json.dumps(architecture))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model(name)
    weights = folder / (weights_file or f"{name}.pt")
    torch.save(model.state_dict(), weights)
    return str(config), str(weights), model


def make_tiny_clip(folder: Path) -> tuple[str, str]:
    """(config path, weights path) of a tiny open_clip model named tiny-prior-clip."""
    config, weights, _ = save_tiny_clip(folder, "tiny-prior-clip", TINY_CLIP)
    return config, weights


def make_tiny_generator(path: Path) -> Path:
    from dream3d.shape.generator import ShapeGenerator, get_config

    torch.manual_seed(0)
    ShapeGenerator(get_config("tiny")).save(path)
    return path


def build_args(out, generator, clip, shapes=5, shard_size=2, views=2, extra=()) -> list[str]:
    config, weights = clip
    return ["--out", str(out), "--generator", str(generator), "--shapes", str(shapes), "--shard-size",
            str(shard_size), "--views", str(views), "--size", "32", "--resolution", "12", "--batch", "2",
            "--clip-model", config, "--clip-checkpoint", weights, "--device", "cpu", "--threads", "1",
            "--no-progress", *extra]


def train_args(data, out, steps=8, extra=()) -> list[str]:
    return ["--data", str(data), "--out", str(out), "--config", "tiny", "--steps", str(steps), "--batch", "16",
            "--lr", "1e-3", "--checkpoint-every", "4", "--log-every", "2", "--device", "cpu", "--threads", "1",
            "--no-progress", *extra]


def synthetic_data(folder: Path, shapes=12, shard_size=5, views=3, embed_dim=32, w_dim=8, seed=0) -> DataPlan:
    """A data folder whose embeddings are a fixed linear map of w plus view noise (so G_M has something
    to learn), w with a non-zero mean and unequal scales (so the normalisation matters)."""
    gen = torch.Generator().manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    plan = DataPlan(shapes=shapes, shard_size=shard_size, views=views, image_size=32, resolution=12, seed=seed,
                    fov=40.0, radius=3.2, clip={"model": "synthetic", "pretrained": "", "embed_dim": embed_dim},
                    generator={"sha256": None, "z_dim": w_dim, "w_dim": w_dim})
    write_manifest(folder, plan)
    mix = torch.randn(w_dim, embed_dim, generator=gen)
    for i in range(plan.num_shards):
        n = plan.shard_count(i)
        w = 3.0 + torch.randn(n, w_dim, generator=gen) * torch.linspace(0.5, 4.0, w_dim)
        emb = (w @ mix)[:, None] + 0.1 * torch.randn(n, views, embed_dim, generator=gen)
        write_shard(folder, i, torch.nn.functional.normalize(emb, dim=-1), w, torch.zeros(n, w_dim))
    return plan


def make_stage1_models(root: Path, train_steps: int) -> Path:
    """ROOT/models/{generator.pt, prior.pt, clip/tiny-prior-clip.{json,pt}}: a tiny G_S and CLIP, and a
    G_M trained for ``train_steps`` on data built from them (the models folder dream3d-shape reads)."""
    import shutil

    from dream3d.prior.build_data import main as build_main
    from dream3d.prior.train import main as train_main

    models = root / "models"
    generator = make_tiny_generator(root / "generator.pt")
    clip = make_tiny_clip(models / "clip")
    assert build_main(build_args(root / "data", generator, clip, shapes=4, shard_size=4)) == 0
    assert train_main(train_args(root / "data", root / "run", steps=train_steps)) == 0
    shutil.copy(generator, models / "generator.pt")
    shutil.copy(root / "run" / "prior.pt", models / "prior.pt")
    return models
