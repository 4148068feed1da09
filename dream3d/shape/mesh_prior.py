"""A user's mesh file -> the SDF grid of a shape prior: loaded, turned +Y up (orientation.py), fitted
into the cube, converted, optionally dilated, and checked for parts the grid loses (thin_parts.py).

The SDF is computed once, in the file's axes after centring and scaling, and then turned: the turns
between axes are signed permutations, exact on a cubic grid centred on the origin."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from .mesh_io import load_mesh, normalize_mesh
from .mesh_to_sdf import mesh_to_sdf
from .orientation import Orientation, resolve_orientation, rotate_grid
from .sdf_grid import SDFGrid
from .thin_parts import MAX_RESOLUTION, ThinPartCheck, check_thin_parts

DEFAULT_MARGIN = 0.05


@dataclass(frozen=True)
class MeshPrior:
    grid: SDFGrid
    mesh: trimesh.Trimesh        # the mesh as it lies in the prior's cube
    orientation: Orientation
    transform: np.ndarray        # (4, 4) file coordinates -> the prior's (new = T @ old)
    margin: float
    dilate: float
    thin_parts: ThinPartCheck

    @property
    def scale(self) -> float:
        return float(np.linalg.norm(self.transform[:3, 0]))

    @property
    def offset(self) -> np.ndarray:
        return self.transform[:3, 3]

    def describe(self) -> str:
        """One line: the orientation and the normalisation, for the log and the report."""
        o = self.orientation
        return (f"up {o.up} -> +Y, front {o.front} -> +Z ({o.rule}); scale {self.scale:.4g} per file unit, "
                "offset ({:.4g}, {:.4g}, {:.4g}), margin {:g}".format(*self.offset, self.margin)
                + (f", dilated {self.dilate:g} voxel" if self.dilate else ""))

    def to_dict(self) -> dict:
        return {"up": self.orientation.up, "front": self.orientation.front, "rule": self.orientation.rule,
                "rotation": self.orientation.rotation.tolist(), "scale": self.scale,
                "offset": self.offset.tolist(), "transform": self.transform.tolist(), "margin": self.margin,
                "dilate": self.dilate, "resolution": self.grid.resolution[0],
                "thin_parts": self.thin_parts.to_dict()}


def mesh_prior(path, resolution: int, *, up: str = "auto", front: str = "auto",
               margin: float = DEFAULT_MARGIN, dilate: float = 0.0,
               max_check_resolution: int = MAX_RESOLUTION) -> MeshPrior:
    """The prior of the mesh file ``path`` at ``resolution``^3 over [-1, 1]^3. ``up``/``front``: the
    file's axes ("+z", "-y", ...) that become +Y and +Z, or "auto"; ``margin``: the share of the half
    cube left free beyond the mesh's longest side; ``dilate``: voxels to move the surface out by (keeps
    parts thinner than a voxel). Raises ValueError (FileNotFoundError) naming what is wrong."""
    if not 0 <= dilate <= 4:
        raise ValueError(f"dilate must lie in [0, 4] voxels, got {dilate}")
    mesh = load_mesh(path)
    centred, fit = normalize_mesh(mesh, margin)
    try:
        grid = mesh_to_sdf(centred, resolution)  # in the file's axes
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    orientation = resolve_orientation(grid, Path(path).suffix, up, front)
    turn = np.eye(4)
    turn[:3, :3] = orientation.rotation
    grid = rotate_grid(grid, orientation.rotation)
    dilated = SDFGrid(grid.values - dilate * max(grid.voxel_size), grid.xyz_min, grid.xyz_max) if dilate else grid
    if not bool((dilated.values < 0).any()):
        raise ValueError(f"{path}: the mesh encloses no volume at {resolution}^3 (an open surface such as a "
                         "single sheet, or only parts thinner than a voxel): close it, or pass --prior-dilate 1 "
                         "(a slab around the surface) or a finer --prior-resolution")
    oriented = centred.copy().apply_transform(turn)
    check = check_thin_parts(oriented, grid, lambda n: mesh_to_sdf(oriented, n), dilate=dilate,
                             max_resolution=max_check_resolution)
    return MeshPrior(dilated, oriented, orientation, turn @ fit, margin, dilate, check)
