"""Which way is up: turning a user's mesh into the project's frame (+Y up, front facing +Z).

An axis is named "+x", "-y", ... ; ``auto`` decides from the file, then from the shape:
 - glTF (.glb/.gltf) is +Y up with its front facing +Z by its specification.
 - Other formats (OBJ, PLY, STL, OFF, ...) do not say. Files are written either +Y up (glTF, most
   modelling tools' OBJ) or +Z up (CAD, 3D printing), so auto picks one of these two from the shape's
   mirror symmetry: a left-right axis is never up. When the mesh is mirror-symmetric across Y and not
   across Z it is read as +Z up, in the opposite case as +Y up; otherwise the format's habit decides
   (+Z for STL, +Y for the rest).
 - The front is the horizontal axis that is not the mirror axis when the mirror axis is known,
   signed by habit: +X (vehicle frames' forward), -Y (the front view of CAD, which looks along +Y),
   +Z (glTF's front).
The mirror test (mean |sdf - flipped sdf| near the surface) needs one mirror plane only: shapes with
two (tables, lamps, boxes) and shapes whose mirror is across X (most files, whose X points right, e.g.
a Z-up car facing -Y) fall back to the habit. Measured on the library's 13 shapes: every +Y-up file is
read +Y up; turned Z-up with their length along X, 9 of 13 are read +Z up and the 4 with two mirror
planes fall back. Auto never picks an X-up or upside-down reading, nor a rotation off the file's axes:
give --prior-mesh-up/--prior-mesh-front, and check with the preview (dream3d-run --prior-only).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sdf_grid import SDFGrid

AXES = ("+x", "-x", "+y", "-y", "+z", "-z")
_FRONT_SIGN = {0: 1.0, 1: -1.0, 2: 1.0}  # the habit per front axis: +X, -Y, +Z
# Mean mirror residuals (in half-cube units) below which a shape counts as mirror-symmetric, above
# which as not: measured on the library's shapes at 32^3 to 64^3 (symmetric: < 0.002, others: > 0.01).
_SYMMETRIC, _ASYMMETRIC = 0.004, 0.008


@dataclass(frozen=True)
class Orientation:
    up: str           # the file's axis that becomes +Y, e.g. "+z"
    front: str        # the file's axis that becomes +Z
    rule: str         # how they were chosen, for the log and the report

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) proper rotation taking the file's coordinates to the project's (new = R @ old)."""
        return rotation_from_axes(self.up, self.front)


def axis_vector(name: str, option: str = "axis") -> np.ndarray:
    """"+x" -> (1, 0, 0), "-z" -> (0, 0, -1); a ValueError names ``option`` for anything else."""
    key = str(name).strip().lower()
    key = key if key[:1] in "+-" else "+" + key
    if key not in AXES:
        raise ValueError(f"{option} must be one of {', '.join(AXES)} or auto, got {name!r}")
    vector = np.zeros(3)
    vector["xyz".index(key[1])] = 1.0 if key[0] == "+" else -1.0
    return vector


def axis_name(vector: np.ndarray) -> str:
    a = int(np.argmax(np.abs(vector)))
    return ("+" if vector[a] > 0 else "-") + "xyz"[a]


def rotation_from_axes(up: str, front: str) -> np.ndarray:
    """Rows (up x front, up, front): maps ``up`` to +Y and ``front`` to +Z, determinant +1."""
    u, f = axis_vector(up, "up"), axis_vector(front, "front")
    if abs(float(u @ f)) > 0:
        raise ValueError(f"the front axis {front} must be perpendicular to the up axis {up}")
    return np.stack([np.cross(u, f), u, f])


def resolve_orientation(grid: SDFGrid, file_type: str, up: str = "auto", front: str = "auto") -> Orientation:
    """The orientation of a mesh read from a ``file_type`` file, given the user's ``up`` and ``front``
    (axis names or "auto") and ``grid``, the mesh's SDF in its file's axes, centred on its bbox centre
    over a cube centred on the origin (so a mirror is a flip of the grid); see the module notes."""
    file_type = file_type.lower().lstrip(".")
    up_given, front_given = str(up).lower() != "auto", str(front).lower() != "auto"
    up = axis_name(axis_vector(up, "--prior-mesh-up")) if up_given else None
    front = axis_name(axis_vector(front, "--prior-mesh-front")) if front_given else None
    mirror, why = None, ""
    if up is None or front is None:
        if file_type in ("glb", "gltf"):
            up_auto, front_auto, why = "+y", "+z", "glTF is +Y up, front +Z, by its specification"
        else:
            up_auto, mirror, why = _up_from_shape(grid, file_type)
            front_auto = None
        up = up or up_auto
        if front is None:
            front = front_auto if front_auto and _perpendicular(front_auto, up) else _default_front(up, mirror)
    if not _perpendicular(front, up):
        raise ValueError(f"--prior-mesh-front {front} must be perpendicular to --prior-mesh-up {up}")
    given = [f"{name} given" for name, flag in (("up", up_given), ("front", front_given)) if flag]
    rule = "; ".join(given + ([why] if why and not (up_given and front_given) else []))
    return Orientation(up, front, rule)


def rotate_grid(grid: SDFGrid, rotation: np.ndarray) -> SDFGrid:
    """``grid`` turned by a signed axis permutation (new = R @ old): an exact transpose and flip of the
    values when the bbox is a cube centred on the origin, which the callers' normalisation gives."""
    lo, hi = np.array(grid.xyz_min), np.array(grid.xyz_max)
    if not (np.allclose(lo, -hi) and np.allclose(hi, hi[0]) and len(set(grid.resolution)) == 1):
        raise ValueError("rotate_grid needs a cubic grid over a cube centred on the origin")
    source = np.abs(rotation).argmax(axis=1)
    values = grid.values.permute(*source.tolist())
    flips = [k for k in range(3) if rotation[k, source[k]] < 0]
    return SDFGrid(values.flip(flips).contiguous() if flips else values.contiguous(), grid.xyz_min, grid.xyz_max)


def _perpendicular(a: str, b: str) -> bool:
    return a[1] != b[1]


def _default_front(up: str, mirror: int | None) -> str:
    """The horizontal axis that is not the mirror axis (when known and horizontal), else the first of
    Z, Y, X that is horizontal; signed by habit."""
    horizontal = [a for a in (2, 1, 0) if a != "xyz".index(up[1])]
    if mirror in horizontal:
        horizontal.remove(mirror)
    a = horizontal[0]
    return ("+" if _FRONT_SIGN[a] > 0 else "-") + "xyz"[a]


def _up_from_shape(grid: SDFGrid, file_type: str) -> tuple[str, int | None, str]:
    """(+y or +z, the mirror axis or None, the reason) from the grid's mirror residuals."""
    residual = mirror_residuals(grid)
    habit = "+z" if file_type in ("stl", "stl_ascii") else "+y"
    habit_why = ("STL is read +Z up, the habit of CAD and 3D printing" if habit == "+z"
                 else f"{file_type.upper() or 'this format'} is read +Y up, the habit of modelling tools")
    mirrors = residual < _SYMMETRIC
    only = lambda a: mirrors[a] and all(residual[b] > _ASYMMETRIC for b in range(3) if b != a)
    if only(1):
        up, mirror, why = "+z", 1, "its only mirror plane is across Y, so Y is left-right and Z up"
    elif only(2):
        up, mirror, why = "+y", 2, "its only mirror plane is across Z, so Z is left-right and Y up"
    else:
        mirror = 0 if only(0) else None
        up, why = habit, f"no single Y or Z mirror plane: {habit_why}"
    note = " (mirror residuals X {:.3f}, Y {:.3f}, Z {:.3f})".format(*residual)
    return up, mirror, "from the shape: " + why + note


def mirror_residuals(grid: SDFGrid) -> np.ndarray:
    """For X, Y, Z: the mean |sdf(p) - sdf(mirrored p)| over the voxels within 2 voxels of the surface
    (mirrored about the grid's centre: a flip), in units of the cube's half side."""
    sdf = grid.values.double()
    h = max(grid.voxel_size)
    near = sdf.abs() < 2 * h
    if not bool(near.any()):
        return np.full(3, np.inf)
    half = (grid.xyz_max[0] - grid.xyz_min[0]) / 2
    return np.array([float((sdf - sdf.flip(a)).abs()[near].mean()) / half for a in range(3)])

