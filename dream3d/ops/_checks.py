"""Argument checks shared by the public ops: bad input raises a ValueError/TypeError naming the argument."""
from __future__ import annotations

import math
from typing import Sequence

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_tensor(name: str, x, ndim: int | None = None, last_dim: int | None = None,
                 floating: bool = True) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if last_dim is not None and x.shape[-1] != last_dim:
        raise ValueError(f"{name} must have a last dimension of {last_dim}, got shape {tuple(x.shape)}")
    return x


def check_grid_dims(name: str, spatial: Sequence[int]) -> None:
    if any(s < 2 for s in spatial):
        raise ValueError(f"{name} needs at least 2 voxels along every spatial axis, got {tuple(spatial)}")


def check_same(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> None:
    first = tensors[0]
    for name, t in zip(names[1:], tensors[1:]):
        if t.device != first.device:
            raise ValueError(f"{name} is on {t.device} but {names[0]} is on {first.device}")
        if t.dtype != first.dtype:
            raise TypeError(f"{name} is {t.dtype} but {names[0]} is {first.dtype}")


def check_finite(name: str, x: torch.Tensor) -> None:
    check_all_finite([(name, x)])


def check_all_finite(named: list[tuple[str, torch.Tensor]]) -> None:
    """Raises a ValueError naming the first tensor with a NaN or an inf. Fast path, one vectorised pass
    per tensor instead of isfinite's four, their sums read back at once (one wait on a GPU): a NaN or an
    inf anywhere makes the sum NaN or inf, so finite sums prove every element finite; a non-finite sum
    may be overflow of large finite values, so the exact test decides."""
    sums = [x.sum() for _, x in named if x.numel()]
    if not sums or bool(torch.isfinite(torch.stack(sums)).all()):
        return
    for name, x in named:
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or inf")


def as_box(xyz_min, xyz_max) -> tuple:
    """bbox corners (tensors or 3-sequences) as six Python floats (xmin, ymin, zmin, xmax, ymax, zmax)."""
    corners = []
    for name, v in (("xyz_min", xyz_min), ("xyz_max", xyz_max)):
        if isinstance(v, torch.Tensor):
            v = v.detach().reshape(-1).tolist()
        try:
            v = [float(c) for c in v]
        except TypeError:
            raise TypeError(f"{name} must be a tensor or a sequence of 3 numbers, got {type(v).__name__}") from None
        if len(v) != 3:
            raise ValueError(f"{name} must have 3 components, got {len(v)}")
        if not all(math.isfinite(c) for c in v):
            raise ValueError(f"{name} must be finite, got {v}")
        corners.extend(v)
    if not all(corners[i] < corners[i + 3] for i in range(3)):
        raise ValueError(f"xyz_min must be below xyz_max on every axis, got {corners[:3]} and {corners[3:]}")
    return tuple(corners)


def check_positive(name: str, value) -> float:
    value = check_number(name, value)
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def check_number(name: str, value) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value
