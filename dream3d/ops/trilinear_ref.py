"""Plain torch reference of the trilinear gather (align_corners=True, zero outside the bbox)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

Box = tuple  # (xmin, ymin, zmin, xmax, ymax, zmax)


def inside_box(points: torch.Tensor, box: Box) -> torch.Tensor:
    """Bool mask of the points inside the closed bbox."""
    lo = points.new_tensor(box[:3])
    hi = points.new_tensor(box[3:])
    return ((points >= lo) & (points <= hi)).all(dim=-1)


def trilinear_ref(grid: torch.Tensor, points: torch.Tensor, box: Box) -> torch.Tensor:
    """Values of a (C, X, Y, Z) grid at (N, 3) points: (N, C); zero outside the bbox.

    Written the way DVGO samples its grids: ``F.grid_sample`` with align_corners=True. grid_sample
    indexes (D, H, W) with (z, y, x) coordinates, so the xyz of a point is flipped.
    """
    lo = points.new_tensor(box[:3])
    hi = points.new_tensor(box[3:])
    normalized = ((points - lo) / (hi - lo)) * 2 - 1
    sample_grid = normalized.flip(-1).reshape(1, 1, 1, -1, 3)
    values = F.grid_sample(grid.unsqueeze(0), sample_grid, mode="bilinear", align_corners=True)
    values = values.reshape(grid.shape[0], -1).t()
    return values * inside_box(points, box).unsqueeze(-1).to(values.dtype)
