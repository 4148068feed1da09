"""total_variation loss and its gradient to the grid: the fused kernels against the autograd reference."""
import pytest
import torch

from dream3d import ops
from workload import random


@pytest.mark.parametrize("channels,size", [(1, 128), (12, 64)], ids=["128^3xC1", "64^3xC12"])
def test_loss_and_grad(bench, device, backend, channels, size):
    grid = random(channels, size, size, size, device=device).requires_grad_()

    def step():
        return torch.autograd.grad(ops.total_variation(grid, backend=backend), grid)

    bench(step, op="total_variation loss+grad", workload=f"{size}^3 x C={channels}", unit="voxels",
          count=grid.numel())
