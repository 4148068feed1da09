"""Analytic signed distance functions that compose into shapes, and their sampling onto SDF grids.

An :class:`SDF` maps points (N, 3) to distances (N,), negative inside. Shapes combine with operators
and chain transforms, so a procedural model reads like its description::

    seat = box((0.9, 0.1, 0.9))
    leg = cylinder(0.05, 0.8).translate((0.38, -0.45, 0.38))
    chair = seat | leg | leg.mirror(0) | leg.mirror(2) | leg.mirror(0).mirror(2)
    grid = chair.to_grid(128)

Exactness: the primitives, translate, rotate, uniform scale and ``mirror`` give exact Euclidean
distances. ``|`` (union) is exact outside; ``&``, ``-``, smooth union, non-uniform scale, ``round`` and
``shell`` of exact inputs are bounds: the zero set is right and the function is 1-Lipschitz (safe for
sphere tracing and SDF-to-density), but the magnitude can underestimate the distance.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from .sdf_grid import DEFAULT_MAX, DEFAULT_MIN, SDFGrid, grid_points

_CHUNK = 1 << 21  # points per evaluation batch in to_grid: bounds the temporaries of deep trees


def _vec(value, points: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=points.dtype, device=points.device)


class SDF:
    """A signed distance function; call it on (N, 3) points to get (N,) distances."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]):
        self._fn = fn

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        if points.dim() != 2 or points.shape[-1] != 3:
            raise ValueError(f"SDF points must be (N, 3), got {tuple(points.shape)}")
        return self._fn(points)

    # Combinators.
    def __or__(self, other: SDF) -> SDF:
        return union(self, other)

    def __and__(self, other: SDF) -> SDF:
        return intersection(self, other)

    def __sub__(self, other: SDF) -> SDF:
        return difference(self, other)

    def smooth_union(self, other: SDF, k: float) -> SDF:
        return smooth_union(self, other, k=k)

    # Transforms: each evaluates the inner shape at the inverse-transformed point.
    def translate(self, offset: Sequence[float]) -> SDF:
        return SDF(lambda p: self._fn(p - _vec(offset, p)))

    def rotate(self, axis: Sequence[float], degrees: float) -> SDF:
        """Rotation by ``degrees`` about ``axis`` through the origin (right-hand rule): rotate a part
        before translating it to turn it in place."""
        rot = rotation_matrix(axis, degrees)
        return SDF(lambda p: self._fn(p @ _vec(rot, p)))  # row vectors: p @ R applies R^T = R^-1

    def scale(self, factor: float | Sequence[float]) -> SDF:
        """Uniform scale (exact) or per-axis scale (a bound: scaled by the smallest factor)."""
        s = (float(factor),) * 3 if isinstance(factor, (int, float)) else tuple(float(f) for f in factor)
        if len(s) != 3 or min(s) <= 0:
            raise ValueError(f"scale factors must be 1 or 3 positive numbers, got {factor}")
        return SDF(lambda p: self._fn(p / _vec(s, p)) * min(s))

    def mirror(self, axis: int) -> SDF:
        """The mirror image across the plane through the origin normal to ``axis`` (0=X, 1=Y, 2=Z)."""
        if axis not in (0, 1, 2):
            raise ValueError(f"mirror axis must be 0, 1 or 2, got {axis}")
        flip = [1.0, 1.0, 1.0]
        flip[axis] = -1.0
        return SDF(lambda p: self._fn(p * _vec(flip, p)))

    def round(self, radius: float) -> SDF:
        """Grows the shape by ``radius`` (rounds its edges)."""
        return SDF(lambda p: self._fn(p) - radius)

    def shell(self, thickness: float) -> SDF:
        """A hollow skin of ``thickness`` centred on the surface."""
        return SDF(lambda p: self._fn(p).abs() - thickness / 2)

    def to_grid(self, resolution, xyz_min=DEFAULT_MIN, xyz_max=DEFAULT_MAX) -> SDFGrid:
        return to_grid(self, resolution, xyz_min, xyz_max)


def rotation_matrix(axis: Sequence[float], degrees: float) -> torch.Tensor:
    """(3, 3) float64 rotation about ``axis`` by ``degrees`` (Rodrigues)."""
    a = torch.as_tensor(axis, dtype=torch.float64)
    if a.shape != (3,) or float(a.norm()) == 0.0:
        raise ValueError(f"rotation axis must be a non-zero 3-vector, got {axis}")
    x, y, z = (a / a.norm()).tolist()
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    t = 1 - c
    return torch.tensor([[t * x * x + c, t * x * y - s * z, t * x * z + s * y],
                         [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
                         [t * x * z - s * y, t * y * z + s * x, t * z * z + c]], dtype=torch.float64)


# Primitives, centred at the origin (move them with .translate / .rotate).
def sphere(radius: float = 1.0) -> SDF:
    return SDF(lambda p: p.norm(dim=-1) - radius)


def box(size: Sequence[float] = (1.0, 1.0, 1.0)) -> SDF:
    """An axis-aligned box with full edge lengths ``size`` (exact, including outside the corners)."""
    def fn(p):
        q = p.abs() - _vec(size, p) / 2
        return q.clamp_min(0).norm(dim=-1) + q.amax(dim=-1).clamp_max(0)
    return SDF(fn)


def torus(major_radius: float, minor_radius: float) -> SDF:
    """A ring in the XZ plane (around the +Y axis): tube of ``minor_radius`` at ``major_radius``."""
    def fn(p):
        ring = torch.hypot(p[:, 0], p[:, 2]) - major_radius
        return torch.hypot(ring, p[:, 1]) - minor_radius
    return SDF(fn)


def capsule(a: Sequence[float], b: Sequence[float], radius: float) -> SDF:
    """All points within ``radius`` of the segment from ``a`` to ``b``."""
    def fn(p):
        pa, ba = p - _vec(a, p), _vec(b, p) - _vec(a, p)
        h = ((pa @ ba) / (ba @ ba).clamp_min(torch.finfo(p.dtype).tiny)).clamp(0, 1)
        return (pa - h[:, None] * ba).norm(dim=-1) - radius
    return SDF(fn)


def cylinder(radius: float, height: float) -> SDF:
    """A capped cylinder along Y, from y = -height/2 to height/2 (exact)."""
    def fn(p):
        q = torch.stack([torch.hypot(p[:, 0], p[:, 2]) - radius, p[:, 1].abs() - height / 2], dim=-1)
        return q.clamp_min(0).norm(dim=-1) + q.amax(dim=-1).clamp_max(0)
    return SDF(fn)


# Combinators.
def union(*shapes: SDF) -> SDF:
    _need_shapes(shapes)
    return SDF(lambda p: torch.stack([s._fn(p) for s in shapes]).amin(dim=0))


def intersection(*shapes: SDF) -> SDF:
    _need_shapes(shapes)
    return SDF(lambda p: torch.stack([s._fn(p) for s in shapes]).amax(dim=0))


def difference(shape: SDF, *cutters: SDF) -> SDF:
    """``shape`` with every cutter carved out of it."""
    _need_shapes((shape,) + cutters)
    return intersection(shape, *(SDF(lambda p, c=c: -c._fn(p)) for c in cutters))


def smooth_union(a: SDF, b: SDF, k: float) -> SDF:
    """Union blended over a distance ``k`` (quadratic smooth minimum; k -> 0 gives ``a | b``)."""
    if k <= 0:
        raise ValueError(f"smooth_union needs k > 0, got {k}")

    def fn(p):
        da, db = a._fn(p), b._fn(p)
        h = (0.5 + 0.5 * (db - da) / k).clamp(0, 1)
        return torch.lerp(db, da, h) - k * h * (1 - h)
    return SDF(fn)


def _need_shapes(shapes):
    if not shapes or not all(isinstance(s, SDF) for s in shapes):
        raise TypeError(f"expected one or more SDF shapes, got {shapes!r}")


def to_grid(shape: SDF, resolution, xyz_min=DEFAULT_MIN, xyz_max=DEFAULT_MAX) -> SDFGrid:
    """Samples ``shape`` at the voxels of a grid of ``resolution`` (an int or 3 ints) over the bbox."""
    points = grid_points(resolution, xyz_min, xyz_max)
    values = torch.cat([shape(chunk) for chunk in points.reshape(-1, 3).split(_CHUNK)])
    return SDFGrid(values.reshape(points.shape[:3]), xyz_min, xyz_max)
