"""What an SDF grid loses of a mesh: parts thinner than a voxel get no inside voxel and vanish (or
fall apart) in the prior, its renders and its density.

A point of the mesh's surface is kept when some voxel among the 3x3x3 around its nearest voxel is
inside by a quarter voxel (sdf < -h/4): every flat piece of a solid at least a voxel thick passes (the
voxel one step against the normal along its largest component is at least h/2 deep), a leg thinner
than a voxel between grid lines does not, nor one whose only inside column grazes its side (its
zero level set would be a hair that renders broken: seen at -0.002 with h = 0.032). Surfaces buried inside the solid (overlapping bodies) count as kept; open sheets,
which enclose nothing, as lost. The lost share of the area (area-weighted surface samples) and the
6-connected pieces of the grid's inside, beside the mesh's face-connected bodies, say what went.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import trimesh
from scipy import ndimage

from .sdf_grid import SDFGrid

LOST_TOLERANCE = 0.01   # a grid may drop 1% of the area (sharp rims, slivers) before a warning
MAX_RESOLUTION = 256    # the finest grid the check tries: 256^3 takes ~5 s and 1 GB in mesh_to_sdf
_SAMPLES = 20000


@dataclass(frozen=True)
class Coverage:
    resolution: int
    dilate: float          # voxels the surface was moved out by (0: none)
    lost_fraction: float   # of the mesh's surface area
    pieces: int            # 6-connected pieces of the grid's inside

    def describe(self) -> str:
        return f"{100 * self.lost_fraction:.1f}% of the surface lost, {_plural(self.pieces, 'piece')}"


@dataclass(frozen=True)
class ThinPartCheck:
    bodies: int                        # face-connected bodies of the mesh
    coverage: Coverage                 # of the prior's grid
    finer: Coverage | None             # the coarsest finer grid that keeps the surface, if any tried did
    tried: tuple[int, ...]             # the finer resolutions measured
    dilated: Coverage | None           # the smallest dilation of the prior's grid that keeps it, if any

    @property
    def ok(self) -> bool:
        return self.coverage.lost_fraction <= LOST_TOLERANCE

    def message(self) -> str:
        """One paragraph: what is lost and the options that keep it; empty when nothing is."""
        if self.ok:
            return ""
        c = self.coverage
        text = (f"the {c.resolution}^3 prior loses {100 * c.lost_fraction:.1f}% of the mesh's surface "
                f"(parts thinner than a voxel, 2/{c.resolution - 1} of the cube, or open sheets): its inside "
                f"is {_plural(c.pieces, 'piece')}, the mesh has {_plural(self.bodies, 'body')}.")
        if self.finer:
            text += (f" At --prior-resolution {self.finer.resolution}: {self.finer.describe()}"
                     f" (the density grid then learns the thin parts from the prior's renders).")
        elif self.tried:
            text += f" No resolution up to {self.tried[-1]} keeps it (open sheets never get an inside)."
        if self.dilated:
            text += (f" --prior-dilate {self.dilated.dilate:g} keeps it at {c.resolution}^3 "
                     f"({self.dilated.describe()}; every surface moves out by {self.dilated.dilate:g} voxel).")
        return text

    def to_dict(self) -> dict:
        out = {"bodies": self.bodies, "resolution": self.coverage.resolution,
               "lost_fraction": round(self.coverage.lost_fraction, 5), "pieces": self.coverage.pieces}
        if self.finer:
            out["keeps_at_resolution"] = self.finer.resolution
        if self.dilated:
            out["keeps_with_dilate"] = self.dilated.dilate
        return out


def surface_samples(mesh: trimesh.Trimesh, count: int = _SAMPLES, seed: int = 0) -> np.ndarray:
    """(count, 3) area-weighted points on the surface, the same for the same mesh and seed."""
    return trimesh.sample.sample_surface(mesh, count, seed=seed)[0]


def coverage(grid: SDFGrid, samples: np.ndarray, dilate: float = 0.0) -> Coverage:
    """How much of the surface (``samples`` of it) ``grid`` keeps, after moving its surface out by
    ``dilate`` voxels."""
    h_max = max(grid.voxel_size)
    sdf = grid.values.numpy() - dilate * h_max
    inside = sdf < 0
    near_inside = ndimage.maximum_filter(sdf < -0.25 * h_max, size=3, mode="constant")
    lo, h = np.array(grid.xyz_min), np.array(grid.voxel_size)
    ijk = np.clip(np.rint((samples - lo) / h).astype(np.int64), 0, np.array(grid.resolution) - 1)
    lost = ~near_inside[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
    return Coverage(grid.resolution[0], dilate, float(lost.mean()), int(ndimage.label(inside)[1]))


def count_bodies(mesh: trimesh.Trimesh) -> int:
    """Face-connected bodies (vertices merged by position, so split triangle soups count as one)."""
    merged = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
    return len(trimesh.graph.connected_components(merged.face_adjacency, nodes=np.arange(len(merged.faces))))


def check_thin_parts(mesh: trimesh.Trimesh, grid: SDFGrid, sdf_at: Callable[[int], SDFGrid], *,
                     dilate: float = 0.0, max_resolution: int = MAX_RESOLUTION) -> ThinPartCheck:
    """Measures what ``grid`` (the SDF of ``mesh``), moved out by ``dilate`` voxels, loses; when it
    loses more than LOST_TOLERANCE of the area, finds the coarsest of 1.5x, 2x, 3x, 4x its resolution
    (up to ``max_resolution``; grids from ``sdf_at(resolution)``, moved out by as many of their own
    voxels) and the smallest dilation of 0.5 and 1 voxel that keep it."""
    samples = surface_samples(mesh)
    base = coverage(grid, samples, dilate)
    bodies = count_bodies(mesh)
    if base.lost_fraction <= LOST_TOLERANCE:
        return ThinPartCheck(bodies, base, None, (), None)
    n = grid.resolution[0]
    tried, finer = [], None
    for resolution in sorted({min(max_resolution, round(n * f)) for f in (1.5, 2, 3, 4)}):
        if resolution <= n:
            continue
        tried.append(resolution)
        measured = coverage(sdf_at(resolution), samples, dilate)
        if measured.lost_fraction <= LOST_TOLERANCE:
            finer = measured
            break
    dilated = next((c for c in (coverage(grid, samples, d) for d in (0.5, 1.0) if d > dilate)
                    if c.lost_fraction <= LOST_TOLERANCE), None)
    return ThinPartCheck(bodies, base, finer, tuple(tried), dilated)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"
