"""Stage 1's models: G_S synthesising a 128^3 SDF grid from w, a G_S training step (generator and both
critics, R1 included on its steps), and a G_M training step at the paper's size. Random weights: the
cost does not depend on what they learned. Throughput is shapes (or (embedding, w) pairs) per second.
dream3d-build-prior-data prints its own images/s and the split between rendering, CLIP and the rest."""
from __future__ import annotations

import pytest
import torch

from dream3d.prior.config import named_config as prior_config
from dream3d.prior.model import DiffusionPrior
from dream3d.shape import sphere, to_grid
from dream3d.shape.generator import ShapeGenerator, get_config
from dream3d.shape.generator.train import Trainer

# "backend" stays out of the argument names, or conftest would parametrise these over every kernel backend
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _info(benchmark, op: str, workload: str, unit: str, count: int) -> None:
    benchmark.group = f"{op} | {workload} | {DEVICE}"
    benchmark.extra_info.update(op=op, workload=workload, device=DEVICE, backend="torch", unit=unit, count=count)


def _timed(fn):
    if DEVICE != "cuda":
        return fn

    def synced():
        fn()
        torch.cuda.synchronize()

    synced()  # warm-up outside the timing (cuDNN autotuning, the caching allocator)
    return synced


@pytest.mark.parametrize("config", ["small", pytest.param("paper", marks=pytest.mark.large)])
def test_synthesize_128(benchmark, config):
    torch.manual_seed(0)
    G = ShapeGenerator(get_config(config)).to(DEVICE).eval()
    w = G.mapping(torch.randn(1, G.z_dim, device=DEVICE)).detach()
    _info(benchmark, f"G_S synthesize ({config})", "128^3 SDF grid", "shapes", 1)
    benchmark(_timed(lambda: G.synthesize(w, 128)))


@pytest.mark.parametrize("config", ["small", pytest.param("paper", marks=pytest.mark.large)])
def test_generator_training_step(benchmark, config):
    torch.manual_seed(0)
    cfg = get_config(config)
    trainer = Trainer(cfg, torch.device(DEVICE))
    real = to_grid(sphere(0.6), cfg.data_resolution).values[None].repeat(cfg.batch_size, 1, 1, 1)
    steps = iter(range(10**9))
    _info(benchmark, f"G_S training step ({config}, batch {cfg.batch_size})",
          f"{cfg.data_resolution}^3 data", "shapes", cfg.batch_size)
    benchmark(_timed(lambda: trainer.step(real, next(steps))))


def test_prior_training_step(benchmark):
    torch.manual_seed(0)
    cfg = prior_config("paper")
    model = DiffusionPrior(cfg).to(DEVICE)
    opt = torch.optim.AdamW(model.parameters(), lr=1.1e-4, weight_decay=6.02e-2)
    batch = 64
    embedding = torch.randn(batch, cfg.embed_dim, device=DEVICE)
    w = torch.randn(batch, cfg.latent_dim, device=DEVICE)
    gen = torch.Generator().manual_seed(0)

    def step():
        t, noise, keep = model.draw(batch, gen)
        keep = None if keep is None else keep.to(DEVICE)
        loss = model(embedding, w, t.to(DEVICE), noise.to(DEVICE), keep)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    _info(benchmark, f"G_M training step (paper, batch {batch})", "Table 3 config", "pairs", batch)
    benchmark(_timed(step))
