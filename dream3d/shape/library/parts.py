"""Building blocks of the library shapes: parameter draws (seed 0 takes the defaults), parts that
carry bounding balls (their box centres and scales a shape), 2D profiles for extrusion and revolution."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..primitives import SDF, _vec, box, rotation_matrix, sphere


class _Draw:
    """Draws named parameters from ``default_rng(seed)``; with ``seed == 0`` every draw still advances
    the generator but returns its default (the canonical shape). ``values`` records what was used."""

    def __init__(self, seed: int):
        self.canonical = seed == 0
        self._rng = np.random.default_rng(seed)
        self.values: dict[str, object] = {}

    def _keep(self, name, drawn, default):
        value = default if self.canonical else drawn
        self.values[name] = value
        return value

    def uniform(self, name: str, low: float, high: float, default: float | None = None) -> float:
        return self._keep(name, float(self._rng.uniform(low, high)),
                          (low + high) / 2 if default is None else float(default))

    def integer(self, name: str, low: int, high: int, default: int) -> int:
        """An integer in [low, high] (both included)."""
        return self._keep(name, int(self._rng.integers(low, high + 1)), int(default))

    def choice(self, name: str, options: Sequence, default, p: Sequence[float] | None = None):
        if p is not None:
            p = np.asarray(p, dtype=float) / np.sum(p)
        return self._keep(name, options[int(self._rng.choice(len(options), p=p))], default)

    def chance(self, name: str, probability: float, default: bool) -> bool:
        return self._keep(name, bool(self._rng.random() < probability), bool(default))



def _min_all(sdfs: Sequence[SDF]) -> SDF:
    """Union without stacking: the running minimum keeps memory at one value per point."""
    sdfs = tuple(sdfs)

    def fn(p):
        out = sdfs[0](p)
        for s in sdfs[1:]:
            out = torch.minimum(out, s(p))
        return out
    return sdfs[0] if len(sdfs) == 1 else SDF(fn)



class _Part:
    """A solid: ``sdf`` and bounding balls (centres ``pts`` (K, 3), radii ``rad`` (K,)) whose convex
    hull contains it. The hull follows rotations exactly, so the box ``lo``..``hi`` stays tight for
    rotated parts (it is exact for boxes, spheres, capsules and extrusions; revolved parts use
    polygons circumscribing their circles; cuts keep the uncut bound)."""

    def __init__(self, sdf: SDF, pts, rad=None):
        self.sdf = sdf
        self.pts = np.asarray(pts, dtype=float).reshape(-1, 3)
        self.rad = np.zeros(len(self.pts)) if rad is None else np.broadcast_to(
            np.asarray(rad, dtype=float), (len(self.pts),)).copy()

    @property
    def lo(self) -> np.ndarray:
        return (self.pts - self.rad[:, None]).min(axis=0)

    @property
    def hi(self) -> np.ndarray:
        return (self.pts + self.rad[:, None]).max(axis=0)

    def _with(self, sdf: SDF) -> _Part:
        return _Part(sdf, self.pts, self.rad)

    def __or__(self, other: _Part) -> _Part:
        return _group([self, other])

    def __sub__(self, cutters: _Part | Sequence[_Part]) -> _Part:
        cut = _group(cutters if isinstance(cutters, (list, tuple)) else [cutters]).sdf
        base = self.sdf
        return self._with(SDF(lambda p: torch.maximum(base(p), -cut(p))))

    def __and__(self, other: _Part) -> _Part:
        a, b = self.sdf, other.sdf
        return _Part(SDF(lambda p: torch.maximum(a(p), b(p))),
                     _corners(np.maximum(self.lo, other.lo), np.minimum(self.hi, other.hi)))

    def translate(self, offset) -> _Part:
        offset = np.asarray(offset, dtype=float)
        return _Part(self.sdf.translate(offset.tolist()), self.pts + offset, self.rad)

    def rotate(self, axis, degrees: float, about=(0.0, 0.0, 0.0)) -> _Part:
        """Rotated by ``degrees`` (right-hand rule) about ``axis`` through the point ``about``."""
        pivot = np.asarray(about, dtype=float)
        rot = rotation_matrix(axis, degrees).numpy()
        sdf = self.sdf.translate((-pivot).tolist()).rotate(axis, degrees).translate(pivot.tolist())
        return _Part(sdf, (self.pts - pivot) @ rot.T + pivot, self.rad)

    def fold(self, axis: int) -> _Part:
        """This part and its mirror image across the plane through the origin normal to ``axis``. A part
        on one side of the plane is folded (one evaluation at |coordinate|, exact); one across it is
        united with its mirror image."""
        mirrored = self.pts.copy()
        mirrored[:, axis] *= -1
        pts, rad = np.concatenate([self.pts, mirrored]), np.concatenate([self.rad, self.rad])
        inner = self.sdf
        if self.lo[axis] >= 0 or self.hi[axis] <= 0:
            sign = 1.0 if self.lo[axis] >= 0 else -1.0

            def fn(p):
                q = p.clone()
                q[:, axis] = q[:, axis].abs() * sign
                return inner(q)
            return _Part(SDF(fn), pts, rad)
        return _Part(_min_all([inner, inner.mirror(axis)]), pts, rad)

    def round(self, radius: float) -> _Part:
        return _Part(self.sdf.round(radius), self.pts, self.rad + radius)

    def blend(self, other: _Part, k: float) -> _Part:
        """Smooth union over ``k``; it grows the union by at most k / 4."""
        both = _group([self, other])
        return _Part(self.sdf.smooth_union(other.sdf, k), both.pts, both.rad + k / 4)



def _group(parts: Sequence[_Part]) -> _Part:
    parts = list(parts)
    return _Part(_min_all([p.sdf for p in parts]), np.concatenate([p.pts for p in parts]),
                 np.concatenate([p.rad for p in parts]))



def _corners(lo, hi) -> np.ndarray:
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])



_RING = 16  # polygon sides circumscribing the circles of revolved parts' bounds



def _circle_points(center, radius: float, axis: int) -> np.ndarray:
    """Vertices of a regular polygon circumscribing the circle of ``radius`` around ``axis``."""
    i, j = _others(axis)
    a = np.arange(_RING) * 2 * np.pi / _RING
    out = np.tile(np.asarray(center, dtype=float), (_RING, 1))
    r = radius / np.cos(np.pi / _RING)
    out[:, i] += r * np.cos(a)
    out[:, j] += r * np.sin(a)
    return out



def _box(center, size, r: float = 0.0) -> _Part:
    """An axis-aligned box of full ``size`` centred at ``center``, edges rounded by ``r``."""
    c, s = np.asarray(center, dtype=float), np.asarray(size, dtype=float)
    r = min(r, 0.45 * float(s.min()))
    sdf = (box((s - 2 * r).tolist()).round(r) if r > 0 else box(s.tolist())).translate(c.tolist())
    return _Part(sdf, _corners(c - s / 2, c + s / 2))



def _others(axis: int) -> tuple[int, int]:
    return [(1, 2), (0, 2), (0, 1)][axis]



def _cyl(center, radius: float, length: float, axis: int = 1, r: float = 0.0) -> _Part:
    """A capped cylinder along ``axis`` (exact), edges rounded by ``r``."""
    c = np.asarray(center, dtype=float)
    i, j = _others(axis)
    r = min(r, 0.45 * radius, 0.45 * length)
    rad, half = radius - r, length / 2 - r

    def fn(p):
        q = p - _vec(c, p)
        w = torch.stack([torch.hypot(q[:, i], q[:, j]) - rad, q[:, axis].abs() - half], dim=-1)
        return w.clamp_min(0).norm(dim=-1) + w.amax(dim=-1).clamp_max(0) - r
    ends = [c.copy(), c.copy()]
    ends[0][axis] -= length / 2
    ends[1][axis] += length / 2
    return _Part(SDF(fn), np.concatenate([_circle_points(e, radius, axis) for e in ends]))



def _capsule(a, b, radius: float) -> _Part:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ba = b - a
    bb = max(float(ba @ ba), 1e-12)

    def fn(p):
        pa = p - _vec(a, p)
        h = ((pa @ _vec(ba, p)) / bb).clamp(0, 1)
        return (pa - h[:, None] * _vec(ba, p)).norm(dim=-1) - radius
    return _Part(SDF(fn), [a, b], radius)



def _sphere(center, radius: float) -> _Part:
    c = np.asarray(center, dtype=float)
    return _Part(sphere(radius).translate(c), c, radius)



def _ellipsoid(center, radii) -> _Part:
    """A sphere stretched to ``radii`` (a distance bound)."""
    c, r = np.asarray(center, dtype=float), np.asarray(radii, dtype=float)
    m = float(r.min())

    def fn(p):
        return ((p - _vec(c, p)) / _vec(r, p)).norm(dim=-1).sub(1.0) * m
    return _Part(SDF(fn), _corners(c - r, c + r))



def _cone(a, b, ra: float, rb: float) -> _Part:
    """A tapered capsule: spheres of radius ``ra`` at ``a`` and ``rb`` at ``b`` and their tangent cone
    (exact; Quilez's round cone)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ba = b - a
    l2 = float(ba @ ba)
    rr = ra - rb
    a2 = l2 - rr * rr
    if a2 <= 0:
        raise ValueError("a round cone needs |ra - rb| < |b - a|")
    il2 = 1.0 / l2
    sgn = math.copysign(1.0, rr) if rr != 0 else 0.0

    def fn(p):
        pa = p - _vec(a, p)
        bav = _vec(ba, p)
        y = pa @ bav
        z = y - l2
        x2 = (pa * l2 - y[:, None] * bav).square().sum(dim=-1)
        y2, z2 = y * y * l2, z * z * l2
        k = sgn * rr * rr * x2
        d_b = (x2 + z2).sqrt() * il2 - rb
        d_a = (x2 + y2).sqrt() * il2 - ra
        d_side = ((x2 * a2 * il2).sqrt() + y * rr) * il2 - ra
        return torch.where(torch.sign(z) * a2 * z2 > k, d_b, torch.where(torch.sign(y) * a2 * y2 < k, d_a,
                                                                          d_side))
    return _Part(SDF(fn), [a, b], [ra, rb])



def _torus(center, major: float, minor: float, axis: int = 1) -> _Part:
    """A ring of tube radius ``minor`` at ``major`` around ``axis`` through ``center``."""
    c = np.asarray(center, dtype=float)
    i, j = _others(axis)

    def fn(p):
        q = p - _vec(c, p)
        return torch.hypot(torch.hypot(q[:, i], q[:, j]) - major, q[:, axis]) - minor
    return _Part(SDF(fn), _circle_points(c, major, axis), minor)



# 2D shapes (exact signed distances in a plane) for extrusion and revolution.
@dataclass
class _Shape2D:
    fn: Callable[[torch.Tensor], torch.Tensor]  # (N, 2) -> (N,)
    outline: np.ndarray  # (K, 2) points whose convex hull contains the shape



def _poly(vertices) -> _Shape2D:
    """A simple polygon (any winding, convex or not): Quilez's exact polygon distance."""
    v = np.asarray(vertices, dtype=float)
    if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
        raise ValueError(f"a polygon needs 3 or more 2D vertices, got shape {v.shape}")

    def fn(q):
        vt = _vec(v, q)
        d = (q - vt[0]).square().sum(dim=-1)
        s = torch.ones_like(d)
        for i in range(len(v)):
            e = vt[i - 1] - vt[i]
            w = q - vt[i]
            h = ((w @ e) / (e @ e)).clamp(0, 1)
            d = torch.minimum(d, (w - h[:, None] * e).square().sum(dim=-1))
            c1, c2 = q[:, 1] >= vt[i, 1], q[:, 1] < vt[i - 1, 1]
            c3 = e[0] * w[:, 1] > e[1] * w[:, 0]
            s = torch.where((c1 & c2 & c3) | ~(c1 | c2 | c3), -s, s)
        return s * d.sqrt()
    return _Shape2D(fn, v)



def _rrect(center, size, radius: float) -> _Shape2D:
    """A rectangle of full ``size`` with corners rounded by ``radius``."""
    c, half = np.asarray(center, dtype=float), np.asarray(size, dtype=float) / 2
    radius = min(radius, 0.999 * float(half.min()))
    inner = half - radius

    def fn(q):
        w = (q - _vec(c, q)).abs() - _vec(inner, q)
        return w.clamp_min(0).norm(dim=-1) + w.amax(dim=-1).clamp_max(0) - radius
    return _Shape2D(fn, np.array([c - half, c + half * [1, -1], c + half, c - half * [1, -1]]))



def _extrude(shape: _Shape2D, axes: tuple[int, int], thickness: float, center: float = 0.0,
             r: float = 0.0) -> _Part:
    """``shape`` drawn in world coordinates (axes[0], axes[1]) and extruded along the third axis over
    ``center`` +- thickness / 2 (exact); ``r`` rounds the edges (the solid grows by r)."""
    a, b = axes
    c = 3 - a - b
    fn2 = shape.fn

    def fn(p):
        w = torch.stack([fn2(p[:, [a, b]]), (p[:, c] - center).abs() - thickness / 2], dim=-1)
        return w.amax(dim=-1).clamp_max(0) + w.clamp_min(0).norm(dim=-1) - r
    ends = []
    for z in (center - thickness / 2, center + thickness / 2):
        pts = np.empty((len(shape.outline), 3))
        pts[:, [a, b]], pts[:, c] = shape.outline, z
        ends.append(pts)
    return _Part(SDF(fn), np.concatenate(ends), r)



def _revolve(profile, center=(0.0, 0.0, 0.0), axis: int = 1) -> _Part:
    """The polygon ``profile`` of (radius >= 0, height) points spun around ``axis`` through ``center``
    (exact); height runs along +axis."""
    shape = _poly(profile)
    c = np.asarray(center, dtype=float)
    i, j = _others(axis)

    def fn(p):
        q = p - _vec(c, p)
        return shape.fn(torch.stack([torch.hypot(q[:, i], q[:, j]), q[:, axis]], dim=-1))
    rings = []
    for radius, height in shape.outline:
        ring_center = c.copy()
        ring_center[axis] += height
        rings.append(_circle_points(ring_center, radius, axis))
    return _Part(SDF(fn), np.concatenate(rings))




# Axis names for readability.
X, Y, Z = 0, 1, 2
