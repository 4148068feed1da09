"""sdf_render: the data-set view set (24 views of 256^2, fov 40 degrees, 3 units away) of 128^3 torus
SDFs, forward and forward + backward of a photometric loss; on a GPU also a batch of 64 shapes."""
import functools

import pytest
import torch

from dream3d import ops
from dream3d.cameras import dataset_views
from dream3d.scene import grid_coordinates
from workload import random

FOV, SIZE, VIEWS, GRID = 40.0, 256, 24, 128


@functools.lru_cache(maxsize=None)
def tori(batch: int, device: str) -> torch.Tensor:
    """(B, 128, 128, 128) SDFs of tori in the xz plane, minor radius 0.25, major radii 0.6 down to 0.45."""
    p = grid_coordinates(GRID)
    major = torch.linspace(0.6, 0.45, batch)
    ring = torch.sqrt(p[..., 0] ** 2 + p[..., 2] ** 2)
    return torch.stack([torch.hypot(ring - r, p[..., 1]) - 0.25 for r in major.tolist()]).to(device)


@functools.lru_cache(maxsize=None)
def cameras(batch: int, device: str) -> torch.Tensor:
    """(B, 24, 4, 4): each shape's own draw of the data-set views (seeded by its index)."""
    return torch.stack([dataset_views(VIEWS, radius=3.0, seed=b) for b in range(batch)]).float().to(device)


def workload_name(batch: int) -> str:
    return f"torus {GRID}^3 x {batch}, {VIEWS} views {SIZE}^2"


def render(sdf, c2w, backend):
    return ops.sdf_render(sdf, c2w, FOV, SIZE, SIZE, backend=backend)


WORKLOADS = [
    pytest.param(1, id="1x24views"),
    pytest.param(64, id="64x24views", marks=pytest.mark.large),
]


def skip_off_gpu(batch: int, device: str):
    if batch > 1 and device != "cuda":
        pytest.skip("the batch of 64 shapes is a GPU workload")


@pytest.mark.parametrize("batch", WORKLOADS)
def test_forward(bench, device, backend, batch):
    skip_off_gpu(batch, device)
    sdf, c2w = tori(batch, device), cameras(batch, device)
    bench(lambda: render(sdf, c2w, backend), op="sdf_render forward", workload=workload_name(batch),
          unit="images", count=batch * VIEWS)


@pytest.mark.parametrize("batch", WORKLOADS)
def test_forward_backward(bench, device, backend, batch):
    """MSE of the rendered rgb against a random target, differentiated to the SDF grids."""
    skip_off_gpu(batch, device)
    sdf, c2w = tori(batch, device).clone().requires_grad_(), cameras(batch, device)
    target = random(batch, VIEWS, SIZE, SIZE, 3, device=device)

    def step():
        return torch.autograd.grad((render(sdf, c2w, backend).rgb - target).square().mean(), sdf)

    bench(step, op="sdf_render forward+backward", workload=workload_name(batch), unit="images",
          count=batch * VIEWS)
