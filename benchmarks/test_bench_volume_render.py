"""volume_render on the sphere workloads: the forward march, and forward + backward of a photometric loss."""
import pytest
import torch

from dream3d import ops
from workload import random, render_workload

WORKLOADS = [
    pytest.param(128, 4096, id="128^3-4096rays"),
    pytest.param(128, 8192, id="128^3-8192rays", marks=pytest.mark.large),
    pytest.param(160, 4096, id="160^3-4096rays", marks=pytest.mark.large),
    pytest.param(160, 8192, id="160^3-8192rays", marks=pytest.mark.large),
]


@pytest.mark.parametrize("grid,n_rays", WORKLOADS)
def test_forward(bench, device, backend, grid, n_rays):
    work = render_workload(grid, n_rays, device)
    bench(lambda: work.render(work.density, backend), op="volume_render forward", workload=work.name,
          unit="samples", count=work.marched.weights.numel())


@pytest.mark.parametrize("grid,n_rays", WORKLOADS)
def test_forward_backward(bench, device, backend, grid, n_rays):
    """MSE of the composited colour (random per-sample colours, white background through T_final)
    against a random target, differentiated to the density grid."""
    work = render_workload(grid, n_rays, device)
    marched = work.marched.weights.numel()
    density = work.density.clone().requires_grad_()
    colors = random(marched, 3, device=device)
    target = random(n_rays, 3, device=device, seed=1)

    def step():
        samples = work.render(density, backend)
        rgb = ops.composite(samples, colors[:samples.weights.numel()], bg=1.0, backend=backend)
        return torch.autograd.grad((rgb - target).square().mean(), density)

    bench(step, op="volume_render forward+backward", workload=work.name, unit="samples", count=marched)
