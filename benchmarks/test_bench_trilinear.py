"""trilinear gather of a 128^3 feature grid at 2^18 points along camera rays (reference: grid_sample)."""
import pytest
import torch

from dream3d import ops
from workload import BOX, random, ray_points

GRID = 128
N_POINTS = 1 << 18
CHANNELS = [1, 12, pytest.param(32, marks=pytest.mark.large)]


def make_inputs(device, channels):
    grid = random(channels, GRID, GRID, GRID, device=device).requires_grad_()
    return grid, ray_points(N_POINTS, device), f"{GRID}^3 x C={channels}"


@pytest.mark.parametrize("channels", CHANNELS)
def test_forward(bench, device, backend, channels):
    grid, points, name = make_inputs(device, channels)
    with torch.no_grad():
        bench(lambda: ops.trilinear(grid, points, BOX[:3], BOX[3:], backend=backend),
              op="trilinear forward", workload=name, unit="points", count=N_POINTS)


@pytest.mark.parametrize("channels", CHANNELS)
def test_forward_backward(bench, device, backend, channels):
    grid, points, name = make_inputs(device, channels)
    grad_values = random(N_POINTS, channels, device=device, seed=1)

    def step():
        values = ops.trilinear(grid, points, BOX[:3], BOX[3:], backend=backend)
        return torch.autograd.grad(values, grid, grad_values)

    bench(step, op="trilinear forward+backward", workload=name, unit="points", count=N_POINTS)
