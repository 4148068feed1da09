"""Fused total-variation loss of a grid: public entry point, autograd and dispatch."""
from __future__ import annotations

import torch

from . import _checks, _dispatch
from .total_variation_ref import total_variation_ref


class _FusedTotalVariation(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grid, kernels, axis_weights):
        loss, grad = kernels.total_variation(grid, axis_weights)
        ctx.save_for_backward(grad)  # the gradient comes with the loss: backward only scales it
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        (grad,) = ctx.saved_tensors
        return grad * grad_loss, None, None


def total_variation(grid: torch.Tensor, axis_weights=(1.0, 1.0, 1.0), backend: str = "auto"):
    """sum_a w_a * mean((v[next along a] - v)^2) over a (C, X, Y, Z) or (X, Y, Z) grid: a scalar.

    The regulariser DVGO adds to its grids; the kernels compute the loss and its gradient in one pass.
    """
    _checks.check_tensor("grid", grid)
    if grid.dim() not in (3, 4):
        raise ValueError(f"grid must be (X, Y, Z) or (C, X, Y, Z), got shape {tuple(grid.shape)}")
    grid4 = grid.unsqueeze(0) if grid.dim() == 3 else grid
    _checks.check_grid_dims("grid", grid4.shape[1:])
    weights = tuple(_checks.check_number("axis_weights", w) for w in axis_weights)
    if len(weights) != 3:
        raise ValueError(f"axis_weights must hold 3 numbers, got {len(weights)}")
    name = _dispatch.resolve(backend, grid.device)
    if name == "torch":
        return total_variation_ref(grid4, weights)
    return _FusedTotalVariation.apply(grid4, _dispatch.kernels_for(name), weights)
