"""Plain torch reference of the grid total variation (squared neighbour differences)."""
from __future__ import annotations

import torch


def total_variation_ref(grid: torch.Tensor, axis_weights=(1.0, 1.0, 1.0)) -> torch.Tensor:
    """sum over axes a of w_a * mean((v[next along a] - v)^2) for a (C, X, Y, Z) grid; a scalar."""
    loss = grid.new_zeros(())
    for axis, weight in enumerate(axis_weights):
        diff = grid.diff(dim=axis + 1)
        loss = loss + weight * diff.square().mean()
    return loss
