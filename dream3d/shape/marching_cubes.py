"""SDF or density grid -> triangle mesh (marching cubes), in world coordinates, faces outward,
optionally closed where the bbox cuts it."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import trimesh
from skimage.measure import marching_cubes

from .sdf_grid import DEFAULT_MAX, DEFAULT_MIN, SDFGrid

ColorFn = Callable[[torch.Tensor], "torch.Tensor | np.ndarray"]


class NoSurfaceError(ValueError):
    """The grid never crosses the level: there is no surface to mesh."""


def extract_mesh(grid: SDFGrid | torch.Tensor, level: float = 0.0, *, xyz_min=None, xyz_max=None,
                 color_fn: ColorFn | None = None, closed: bool = False) -> trimesh.Trimesh:
    """The ``level`` isosurface of ``grid`` as a mesh whose faces wind counter-clockwise seen from
    outside (normals point out). An :class:`SDFGrid` is inside below ``level`` and uses its own bbox;
    a plain tensor (X, Y, Z) (leading size-1 dims allowed) is a density, inside above ``level``, over
    the bbox ``xyz_min``..``xyz_max`` ([-1, 1]^3 by default). ``color_fn`` maps the (N, 3) float32
    vertex positions to (N, 3) colours in [0, 1], stored as vertex colours. The surface is open where
    it meets the bbox, unless ``closed``: then the grid is padded with one layer of empty space and the
    cap this adds is pressed onto the bbox faces, so a shape cut by the bbox comes back watertight.
    Raises NoSurfaceError (a ValueError) when the grid never crosses ``level``."""
    if isinstance(grid, SDFGrid):
        if xyz_min is not None or xyz_max is not None:
            raise ValueError("an SDFGrid carries its own bbox; xyz_min/xyz_max are for plain tensors")
        values, inside_below = grid.values, True
    else:
        values, inside_below = _density_values(grid), False
        grid = SDFGrid(values, DEFAULT_MIN if xyz_min is None else xyz_min,
                       DEFAULT_MAX if xyz_max is None else xyz_max)
    volume = values.detach().cpu().numpy().astype(np.float32, copy=False)
    if not np.isfinite(volume).all():
        raise ValueError("extract_mesh: the grid has NaN or infinite values")
    low, high = float(volume.min()), float(volume.max())
    if not low < level < high:
        raise NoSurfaceError(f"extract_mesh: level {level} is not crossed; the grid's values lie in "
                         f"[{low:.4g}, {high:.4g}] (an empty grid or no surface)")
    origin = np.asarray(grid.xyz_min, dtype=np.float64)
    if closed:
        outside = max(high, level) + 1.0 if inside_below else min(low, level) - 1.0
        volume = np.pad(volume, 1, constant_values=outside)
        origin = origin - np.asarray(grid.voxel_size)
    # skimage winds faces outward for fields that grow outward ("descent"), as an SDF does.
    vertices, faces, _, _ = marching_cubes(volume, level, spacing=grid.voxel_size, allow_degenerate=False,
                                           gradient_direction="descent" if inside_below else "ascent")
    vertices = vertices + origin
    if closed:
        vertices = np.clip(vertices, grid.xyz_min, grid.xyz_max)
    colors = None if color_fn is None else _vertex_colors(color_fn, vertices)
    return trimesh.Trimesh(vertices, faces, vertex_colors=colors, process=False)


def _density_values(grid) -> torch.Tensor:
    values = torch.as_tensor(grid)
    while values.dim() > 3 and values.shape[0] == 1:
        values = values[0]
    if values.dim() != 3:
        raise ValueError(f"a density grid must be (X, Y, Z), got shape {tuple(torch.as_tensor(grid).shape)}")
    return values


def _vertex_colors(color_fn: ColorFn, vertices: np.ndarray) -> np.ndarray:
    colors = color_fn(torch.from_numpy(vertices.astype(np.float32)))
    if isinstance(colors, torch.Tensor):
        colors = colors.detach().cpu()
    colors = np.asarray(colors, dtype=np.float64)
    if colors.shape != (len(vertices), 3):
        raise ValueError(f"color_fn must return ({len(vertices)}, 3) colours, got shape {colors.shape}")
    if not np.isfinite(colors).all():
        raise ValueError("color_fn returned NaN or infinite colours")
    return np.round(np.clip(colors, 0.0, 1.0) * 255).astype(np.uint8)
