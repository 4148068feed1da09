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


def _extend_upper(grid: torch.Tensor) -> torch.Tensor:
    """The (C, X, Y, Z) grid with one more node past its upper end along each axis, extrapolated
    linearly (2 v[n-1] - v[n-2]): the cell past an upper face continues the last cell's slope."""
    for dim in (1, 2, 3):
        last, before = grid.narrow(dim, -1, 1), grid.narrow(dim, -2, 1)
        grid = torch.cat([grid, 2 * last - before], dim=dim)
    return grid


def trilinear_ref(grid: torch.Tensor, points: torch.Tensor, box: Box) -> torch.Tensor:
    """Values of a (C, X, Y, Z) grid at (N, 3) points: (N, C); zero outside the bbox.

    Written the way DVGO samples its grids: ``F.grid_sample`` with align_corners=True. grid_sample
    indexes (D, H, W) with (z, y, x) coordinates, so the xyz of a point is flipped. On an upper face
    grid_sample takes the cell past it, which zero padding would fill with 0s: the point gradient there
    would be the jump to 0, not the slope. So the grid gets one linearly extrapolated node past each upper
    face (weight 0 at the face, so values and the grid gradient are unchanged), and the point gradient
    on any face of the closed box is the slope of the cell inside, as in the kernels.
    """
    lo = points.new_tensor(box[:3])
    hi = points.new_tensor(box[3:])
    size = points.new_tensor(grid.shape[1:])
    # (n - 1) / n: the extended grid's n + 1 nodes span one voxel more than the box
    normalized = ((points - lo) / (hi - lo)) * ((size - 1) / size) * 2 - 1
    sample_grid = normalized.flip(-1).reshape(1, 1, 1, -1, 3)
    values = F.grid_sample(_extend_upper(grid).unsqueeze(0), sample_grid, mode="bilinear", align_corners=True)
    values = values.reshape(grid.shape[0], -1).t()
    return values * inside_box(points, box).unsqueeze(-1).to(values.dtype)
