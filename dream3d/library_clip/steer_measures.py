"""Measures of where a guided field's shape went: its occupancy (what marching cubes would enclose),
height over width, volume, a Chamfer distance between occupancies, and the library CLIP's score of
geometry-only (shaded) renders, with the rank of the prompt's category among all 13."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree

from ..cameras import orbit_cameras
from ..field import surface_density
from ..guidance.shading import shaded_views, solid_composite
from ..shape import SDFGrid
from ..shape.library import CATEGORIES
from .captions import NOUNS, article
from .data import FOV, RADIUS, random_colours

UP = 1  # the library's up axis is +y


class Occupancy(NamedTuple):
    inside: torch.Tensor   # (X, Y, Z) bool
    xyz_min: tuple
    xyz_max: tuple

    def points(self) -> np.ndarray:
        """World positions (N, 3) of the occupied voxels."""
        idx = self.inside.nonzero().double()
        lo, hi = torch.tensor(self.xyz_min).double(), torch.tensor(self.xyz_max).double()
        return (lo + idx * (hi - lo) / (torch.tensor(self.inside.shape).double() - 1)).numpy()


def field_occupancy(field, beta: float) -> Occupancy:
    """Voxels whose rendered density softplus(V + b) exceeds 1 / (2 beta), the prior surface's density
    (eq. 9) and the run's mesh level."""
    grid = field.density
    density = F.softplus(grid.values.detach() + grid.act_shift).cpu()
    return Occupancy(density > surface_density(beta), grid.box_min, grid.box_max)


def sdf_occupancy(grid: SDFGrid) -> Occupancy:
    return Occupancy(grid.values < 0, grid.xyz_min, grid.xyz_max)


def _extent(inside: torch.Tensor, axis: int) -> int:
    hit = inside.any(dim=tuple(a for a in range(3) if a != axis)).nonzero()
    return int(hit.max() - hit.min() + 1) if len(hit) else 0


def height_over_width(occ: Occupancy) -> float:
    """The occupied box's height over its larger horizontal side (a table ~0.5, a chair ~1.6)."""
    width = max(_extent(occ.inside, a) for a in range(3) if a != UP)
    return _extent(occ.inside, UP) / width if width else float("nan")


def volume(occ: Occupancy) -> float:
    """Occupied volume in world units (the bbox [-1, 1]^3 holds 8): a voxel spacing's cube per occupied
    grid point."""
    spacing = np.subtract(occ.xyz_max, occ.xyz_min) / (np.array(occ.inside.shape) - 1)
    return float(np.prod(spacing)) * int(occ.inside.sum())


def chamfer(a: Occupancy, b: Occupancy) -> float:
    """Symmetric mean nearest-neighbour distance between the occupied voxels of two occupancies."""
    pa, pb = a.points(), b.points()
    if not len(pa) or not len(pb):
        return float("nan")
    return float((cKDTree(pb).query(pa)[0].mean() + cKDTree(pa).query(pb)[0].mean()) / 2)


def category_prompts() -> list[str]:
    return [article(NOUNS[c][0]) for c in CATEGORIES]


def ring_cameras(n_views: int = 8, elevation: float = 20.0) -> torch.Tensor:
    """Evenly spaced views at the library CLIP's mean training distance."""
    return orbit_cameras(sum(RADIUS) / 2, [i * 360.0 / n_views + 15.0 for i in range(n_views)], [elevation] * n_views)


@torch.no_grad()
def shaded_scores(field, guide, prompt: str, category: str, n_views: int = 8, colours: int = 4,
                  size: int = 64, weight_thres: float = 1e-4) -> dict:
    """The guide's mean cosine with ``prompt`` over shaded renders (``colours`` fixed object/background
    colour pairs per view), and how often ``category`` ranks first among the 13 "a <noun>" prompts."""
    shading, transmittance = shaded_views(field, ring_cameras(n_views).to(field.density.values.device), size,
                                          FOV, weight_thres)
    objects, backgrounds = (x.to(shading) for x in random_colours(n_views * colours, torch.Generator().manual_seed(0)))
    images = solid_composite(shading.repeat_interleave(colours, 0), transmittance.repeat_interleave(colours, 0),
                             objects, backgrounds)
    image_emb = guide.embed_images(images)
    score = float((image_emb @ guide.embed_text([prompt])[0]).mean())
    per_view = (image_emb @ guide.embed_text(category_prompts()).T).view(n_views, colours, -1).mean(1)
    top1 = float((per_view.argmax(1) == CATEGORIES.index(category)).float().mean())
    return {"score": score, "category_top1": top1}
