"""Multi-channel trilinear gather of a feature grid: public entry point, autograd and dispatch."""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from . import _checks, _dispatch
from .trilinear_ref import trilinear_ref


class _FusedTrilinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grid, points, kernels, box):
        ctx.save_for_backward(grid, points)
        ctx.kernels, ctx.box = kernels, box
        return kernels.trilinear_forward(grid, points, box)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_values):
        grid, points = ctx.saved_tensors
        grad_grid, grad_points = ctx.kernels.trilinear_backward(
            grid, points, ctx.box, grad_values.contiguous(), ctx.needs_input_grad[1])
        return (grad_grid if ctx.needs_input_grad[0] else None), grad_points, None, None


def trilinear(grid: torch.Tensor, points: torch.Tensor, xyz_min, xyz_max, backend: str = "auto"):
    """Values of a (C, X, Y, Z) grid at points (..., 3): (..., C).

    Voxel (i, j, k) sits at xyz_min + (i, j, k) * (xyz_max - xyz_min) / (shape - 1) (align_corners=True);
    a point outside the closed bbox reads 0. Differentiable to the grid, and to the points when they
    require grad. Any dense grid layout (e.g. channels-last) is read in place.
    """
    _checks.check_tensor("grid", grid, ndim=4)
    _checks.check_grid_dims("grid", grid.shape[1:])
    _checks.check_tensor("points", points, last_dim=3)
    _checks.check_same(("grid", "points"), (grid, points))
    box = _checks.as_box(xyz_min, xyz_max)
    flat = points.reshape(-1, 3)
    name = _dispatch.resolve(backend, grid.device)
    if name == "torch":
        values = trilinear_ref(grid, flat, box)
    else:
        values = _FusedTrilinear.apply(grid, flat.contiguous(), _dispatch.kernels_for(name), box)
    return values.reshape(*points.shape[:-1], grid.shape[0])
