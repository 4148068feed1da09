"""The run's mesh: extracted from the trained field, coloured by its colour model, and measured against
the prior's."""
from __future__ import annotations

import torch
import torch.nn.functional as F
import trimesh
from scipy.spatial import cKDTree

from ..field import DVGOField
from ..shape import extract_mesh


def textured_mesh(field: DVGOField, beta: float) -> trimesh.Trimesh:
    """Marching cubes on the rendered density softplus(V + b) at 1 / (2 beta), the density the prior's
    zero level set gets (eq. 9), coloured by the field's colour model at the vertices."""
    grid = field.density
    density = F.softplus(grid.values.detach() + grid.act_shift)
    with torch.no_grad():
        return extract_mesh(density.cpu(), 1.0 / (2.0 * beta), xyz_min=grid.xyz_min.tolist(),
                            xyz_max=grid.xyz_max.tolist(),
                            color_fn=lambda p: field.color(p.to(grid.values.device)))


def chamfer(a: trimesh.Trimesh, b: trimesh.Trimesh, n_points: int = 20000, seed: int = 0) -> float:
    """Symmetric mean nearest-neighbour distance between surface samples of two meshes."""
    pa = trimesh.sample.sample_surface(a, n_points, seed=seed)[0]
    pb = trimesh.sample.sample_surface(b, n_points, seed=seed + 1)[0]
    return float((cKDTree(pb).query(pa)[0].mean() + cKDTree(pa).query(pb)[0].mean()) / 2)
