"""The SDF grid type and its file formats.

A grid holds signed distances (negative inside) at voxel (i, j, k) = xyz_min + (i, j, k) * voxel_size,
voxel_size = (xyz_max - xyz_min) / (shape - 1): the project's align_corners=True convention.

Files: ``.npz`` keeps the values (float32), the bbox and a format version; ``.npy`` keeps the values
only and loads with the default bbox [-1, 1]^3.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ._atomic import atomic_path

Vec3 = tuple[float, float, float]
DEFAULT_MIN: Vec3 = (-1.0, -1.0, -1.0)
DEFAULT_MAX: Vec3 = (1.0, 1.0, 1.0)
FORMAT_VERSION = 1
_NPZ_KEYS = ("values", "xyz_min", "xyz_max", "format_version")


def _check_bbox(xyz_min, xyz_max) -> tuple[Vec3, Vec3]:
    lo = tuple(float(v) for v in xyz_min)
    hi = tuple(float(v) for v in xyz_max)
    if len(lo) != 3 or len(hi) != 3:
        raise ValueError(f"xyz_min and xyz_max need 3 values each, got {lo} and {hi}")
    if not all(np.isfinite(lo + hi)) or not all(a < b for a, b in zip(lo, hi)):
        raise ValueError(f"the bbox needs finite xyz_min < xyz_max on every axis, got {lo} and {hi}")
    return lo, hi


def _check_resolution(resolution) -> tuple[int, int, int]:
    """An int or 3 ints, each >= 2, as 3 ints."""
    array = np.asarray(resolution)
    if array.shape not in ((), (3,)) or array.dtype.kind not in "iu" or array.min() < 2:
        raise ValueError(f"resolution must be an int or 3 ints, each >= 2, got {resolution}")
    return tuple(int(n) for n in np.broadcast_to(array, (3,)))


def grid_points(resolution, xyz_min=DEFAULT_MIN, xyz_max=DEFAULT_MAX, dtype=torch.float32,
                device=None) -> torch.Tensor:
    """(X, Y, Z, 3) voxel positions of a grid of ``resolution`` (an int or 3 ints) over the bbox."""
    res = _check_resolution(resolution)
    lo, hi = _check_bbox(xyz_min, xyz_max)
    axes = [torch.linspace(lo[a], hi[a], res[a], dtype=dtype, device=device) for a in range(3)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)


def resample_values(values: torch.Tensor, resolution: int) -> torch.Tensor:
    """A (X, Y, Z) or (C, X, Y, Z) grid trilinearly resampled to resolution^3 over the same bbox
    (corners kept in place, align_corners), contiguous."""
    batched = values[None] if values.dim() == 4 else values[None, None]
    out = torch.nn.functional.interpolate(batched, size=(resolution,) * 3, mode="trilinear", align_corners=True)
    return (out[0] if values.dim() == 4 else out[0, 0]).contiguous()


@dataclass
class SDFGrid:
    """Signed distances (negative inside) sampled on a grid spanning the bbox [xyz_min, xyz_max]."""

    values: torch.Tensor
    xyz_min: Vec3 = DEFAULT_MIN
    xyz_max: Vec3 = DEFAULT_MAX

    def __post_init__(self):
        self.values = torch.as_tensor(self.values, dtype=torch.float32)
        if self.values.dim() != 3 or min(self.values.shape) < 2:
            raise ValueError("SDF values must be (X, Y, Z) with every size >= 2, "
                             f"got {tuple(self.values.shape)}")
        self.xyz_min, self.xyz_max = _check_bbox(self.xyz_min, self.xyz_max)

    @property
    def resolution(self) -> tuple[int, int, int]:
        return tuple(self.values.shape)

    @property
    def voxel_size(self) -> Vec3:
        return tuple((hi - lo) / (n - 1) for lo, hi, n in zip(self.xyz_min, self.xyz_max, self.resolution))

    def coordinates(self) -> torch.Tensor:
        """(X, Y, Z, 3) world position of every voxel, on the values' device."""
        return grid_points(self.resolution, self.xyz_min, self.xyz_max, device=self.values.device)


def save_sdf(path: str | os.PathLike, grid: SDFGrid) -> None:
    """Writes ``grid`` to a .npz (values, bbox, format version) or .npy (values only) file atomically.
    A .npy file cannot hold a bbox, so a grid whose bbox is not [-1, 1]^3 must go to .npz."""
    path = Path(path)
    values = grid.values.detach().cpu().numpy().astype(np.float32, copy=False)
    if path.suffix == ".npy":
        if (grid.xyz_min, grid.xyz_max) != (DEFAULT_MIN, DEFAULT_MAX):
            raise ValueError(f"{path}: .npy keeps no bbox and this grid's is {grid.xyz_min}..{grid.xyz_max}; "
                             "save it as .npz")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, values)
    elif path.suffix == ".npz":
        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.savez adds no suffix
            np.savez(f, values=values, xyz_min=np.array(grid.xyz_min), xyz_max=np.array(grid.xyz_max),
                     format_version=np.array(FORMAT_VERSION))
    else:
        raise ValueError(f"{path}: SDF grids are saved as .npz or .npy, not {path.suffix!r}")


# The first bytes of each format: numpy falls back to unpickling a file without them, and says so.
_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK\x03\x04"}


def _check_magic(path: Path) -> None:
    magic = _MAGIC[path.suffix]
    with open(path, "rb") as f:
        head = f.read(len(magic))
    if head != magic:
        kind = "a NumPy .npy array" if path.suffix == ".npy" else "a NumPy .npz archive (a zip file)"
        raise ValueError(f"{path} is not a readable SDF grid: it is not {kind}"
                         + (" (the file is empty)" if not head else ""))


def load_sdf(path: str | os.PathLike) -> SDFGrid:
    """Reads a grid written by :func:`save_sdf` (or any 3D float .npy array), checking that it is whole:
    a ValueError names the file and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no SDF file at {path}")
    if path.suffix not in (".npz", ".npy"):
        raise ValueError(f"{path}: SDF grids are .npz or .npy files, not {path.suffix!r}")
    _check_magic(path)
    try:
        if path.suffix == ".npy":
            fields = {"values": np.load(path, allow_pickle=False)}
        else:
            with np.load(path, allow_pickle=False) as data:
                fields = {k: data[k] for k in _NPZ_KEYS if k in data.files}
    except ValueError as err:  # numpy's own words advise allow_pickle, which a grid never needs
        what = "holds Python objects, not numbers" if "pickle" in str(err) else str(err)
        raise ValueError(f"{path} is not a readable SDF grid: {what}") from err
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(f"{path} is not a readable SDF grid: {err}") from err
    missing = [k for k in _NPZ_KEYS if k not in fields] if path.suffix == ".npz" else []
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    return _grid_from_fields(path, fields)


def _grid_from_fields(path: Path, fields: dict) -> SDFGrid:
    version = fields.get("format_version")
    if version is not None:
        if version.shape != () or version.dtype.kind not in "iu":
            raise ValueError(f"{path}: format_version must be an integer, got {version!r}")
        if int(version) > FORMAT_VERSION:
            raise ValueError(f"{path}: format version {int(version)} is newer than this reader's "
                             f"({FORMAT_VERSION})")
    values = fields["values"]
    if values.dtype.kind not in "fiu":
        raise ValueError(f"{path}: SDF values must be real numbers, got dtype {values.dtype}")
    if values.ndim != 3 or min(values.shape) < 2:
        raise ValueError(f"{path}: SDF values must be a 3D (X, Y, Z) array with every size >= 2, "
                         f"got shape {values.shape}")
    values = values.astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ValueError(f"{path}: {bad} SDF values are NaN or infinite")
    xyz_min, xyz_max = fields.get("xyz_min", DEFAULT_MIN), fields.get("xyz_max", DEFAULT_MAX)
    if np.shape(xyz_min) != (3,) or np.shape(xyz_max) != (3,):
        raise ValueError(f"{path}: xyz_min and xyz_max must hold 3 values each")
    try:
        return SDFGrid(torch.from_numpy(values), tuple(xyz_min), tuple(xyz_max))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
