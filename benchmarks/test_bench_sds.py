"""One --guidance sds step with the tiny Stable Diffusion of the tests (16^2 VAE input, 8^2 latents) on a
library chair at the preview preset (64^3 grid, one 64^2 view): render, composite over a random
background, VAE encode, the UNet with and without the prompt (classifier-free guidance), the SDS loss and
the backward into the field (density grid and colour MLP). It times the code around the models; Stable
Diffusion's own cost at 512^2 is diffusers'.

The render is timed inside the same steps: the objective's renderer is wrapped so that its outputs reach
the objective as detached leaves; the loss's backward stops there, and the renderer's own backward runs
next from the leaves' gradients. The step's work is unchanged, split in two: *render* (its forward and
backward) and *guidance* (the rest: compositing, VAE, UNet, the loss and its backward to the render).
extra_info also holds the resident-memory peak of a step (its high-water mark reset before each step on
Linux) above the memory held before it, and on CUDA torch.cuda.max_memory_allocated."""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dream3d.text2img.sd_folder import Text2ImgError, import_diffusers  # noqa: E402

try:
    import_diffusers()
except Text2ImgError as err:
    pytest.skip(str(err), allow_module_level=True)

from dream3d.eval.suite import read_peak_memory, reset_peak_memory  # noqa: E402
from dream3d.pipeline import build_config, objectives, resolve_prior  # noqa: E402
from dream3d.pipeline.objectives import make_objective  # noqa: E402
from dream3d.pipeline.field_init import build_field  # noqa: E402
from sd_helpers import build_tiny_sd  # noqa: E402

DEVICE = "cpu"  # the tiny model is a CPU workload; "backend" stays out of the argument names, or conftest
# would parametrise this over every kernel backend
ROUNDS = 10


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return build_tiny_sd(tmp_path_factory.mktemp("bench-sds"))


@pytest.fixture
def one_thread():
    """One thread, as the preview runs use (--threads 1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _rss_mib() -> float | None:
    try:
        return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
    except (OSError, AttributeError):
        return None


class SplitRender:
    """Stands in for objectives.render_premultiplied: times the render's forward, hands the objective
    detached leaves, and ``backward()`` runs the render's own backward from their gradients, timed."""

    def __init__(self, render):
        self.render, self.seconds, self.pending = render, 0.0, None

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        outputs = self.render(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        leaves = tuple(o.detach().requires_grad_() for o in outputs)
        self.pending = (outputs, leaves)
        return leaves

    def backward(self):
        outputs, leaves = self.pending
        start = time.perf_counter()
        pairs = [(o, leaf.grad) for o, leaf in zip(outputs, leaves) if leaf.grad is not None]
        torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        self.seconds += time.perf_counter() - start
        self.pending = None


def test_sds_step(benchmark, tiny_sd, tmp_path, monkeypatch, one_thread):
    config = build_config({"prompt": "a chair", "out": str(tmp_path / "o"), "preset": "preview", "guidance": "sds",
                           "sd_model": str(tiny_sd), "threads": 1, "device": DEVICE})
    grid = resolve_prior(config).grid
    objective = make_objective(config, grid, DEVICE, str(tiny_sd))
    field = build_field(config, grid, config.resolution, DEVICE)
    split = SplitRender(objectives.render_premultiplied)
    monkeypatch.setattr(objectives, "render_premultiplied", split)
    gen = torch.Generator().manual_seed(0)
    peaks = []

    def step():
        field.zero_grad(set_to_none=True)
        before = _rss_mib()
        rss_reset = reset_peak_memory()
        loss, _ = objective(field, 10, gen)
        loss.backward()
        split.backward()
        if DEVICE == "cuda":
            torch.cuda.synchronize()
        peak = read_peak_memory(rss_reset)
        peaks.append((peak["peak_rss_mb"] - before if before is not None and rss_reset else None,
                      peak["peak_cuda_mb"]))

    step()  # warm-up: first calls allocate
    assert field.density.values.grad.abs().sum() > 0  # the gradient reached the field
    split.seconds, peaks[:] = 0.0, []
    benchmark.group = (f"sds step | tiny SD, preview, grid {config.resolution}^3, {config.clip_views} view "
                       f"{config.sds_render_size}^2 | {DEVICE}")
    benchmark.pedantic(step, rounds=ROUNDS, iterations=1)
    mean = benchmark.stats.stats.mean
    render = split.seconds / ROUNDS
    rss = [p for p, _ in peaks if p is not None]
    cuda = [c for _, c in peaks if c is not None]
    benchmark.extra_info.update(op="sds step", workload="tiny SD, preview", device=DEVICE, backend="whole step",
                                unit="steps", count=1, stages={"render": render, "guidance": max(0.0, mean - render)},
                                render_share=render / mean,
                                peak_rss_delta_mb=round(max(rss), 1) if rss else None,
                                peak_cuda_mb=round(max(cuda), 1) if cuda else None)
