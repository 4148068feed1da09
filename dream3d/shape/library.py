"""Built-in procedural shapes of ShapeNet's 13 categories: the shape prior when no text-to-shape model is
at hand.

Each category is a parametric composition of analytic SDFs (boxes, cylinders, capsules, tapered
capsules, extruded and revolved polygons, tori) whose parameters (sizes, leg counts and styles,
armrests or not, ...) are drawn from ``numpy.random.default_rng(seed)``; ``seed=0`` gives the
category's canonical look (every parameter at its default), other seeds vary it. The same seed always
gives the same shape::

    sdf = make_shape("chair", seed=3)                  # an SDF: (N, 3) points -> (N,) distances
    grid = library_sdf_grid("chair", 64, seed=3)       # an SDFGrid over [-1, 1]^3
    category_from_prompt("an old wooden rocking chair")   # -> "chair"

Conventions: +Y up, the object's front faces +Z (a chair's seat opens to +Z, a car's nose, a rifle's
muzzle and a boat's bow point to +Z, a display's screen and a loudspeaker's drivers face +Z); long
objects (sofa, bench, table) run along X. Every shape is one connected solid (its parts overlap), built
in natural units, then centred on its bounding box and uniformly scaled so that its longest side spans
[-HALF_EXTENT, HALF_EXTENT]. Parts are kept at least ~3.5% of the longest side thick so that they
survive sampling on 48^3 grids. The distances are 1-Lipschitz bounds with the exact zero set (see
:mod:`.primitives`), fit for sphere tracing and SDF-to-density.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from numbers import Integral
from types import MappingProxyType
from typing import Callable, Sequence

import numpy as np
import torch

from .primitives import SDF, box, rotation_matrix, to_grid
from .sdf_grid import DEFAULT_MAX, DEFAULT_MIN, SDFGrid

__all__ = ["CATEGORIES", "HALF_EXTENT", "SYNONYMS", "LibraryShape", "category_from_prompt",
           "library_sdf_grid", "library_shape", "make_shape", "resolve_category"]

HALF_EXTENT = 0.85  # the longest side of every library shape spans [-0.85, 0.85]

CATEGORIES = ("airplane", "bench", "cabinet", "car", "chair", "display", "lamp", "loudspeaker", "rifle",
              "sofa", "table", "telephone", "watercraft")


# ----------------------------------------------------------------------------------------------------
# Parameter draws: seed 0 takes the defaults, other seeds draw from the generator.
# ----------------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------------
# Parts: an SDF and bounding balls whose hull contains its solid (its box centres and scales it).
# ----------------------------------------------------------------------------------------------------
def _t(value, p: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=p.dtype, device=p.device)


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
        q = p - _t(c, p)
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
        pa = p - _t(a, p)
        h = ((pa @ _t(ba, p)) / bb).clamp(0, 1)
        return (pa - h[:, None] * _t(ba, p)).norm(dim=-1) - radius
    return _Part(SDF(fn), [a, b], radius)


def _sphere(center, radius: float) -> _Part:
    c = np.asarray(center, dtype=float)
    return _Part(SDF(lambda p: (p - _t(c, p)).norm(dim=-1) - radius), c, radius)


def _ellipsoid(center, radii) -> _Part:
    """A sphere stretched to ``radii`` (a distance bound)."""
    c, r = np.asarray(center, dtype=float), np.asarray(radii, dtype=float)
    m = float(r.min())

    def fn(p):
        return ((p - _t(c, p)) / _t(r, p)).norm(dim=-1).sub(1.0) * m
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
        pa = p - _t(a, p)
        bav = _t(ba, p)
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
        q = p - _t(c, p)
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
        vt = _t(v, q)
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
        w = (q - _t(c, q)).abs() - _t(inner, q)
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
        q = p - _t(c, p)
        return shape.fn(torch.stack([torch.hypot(q[:, i], q[:, j]), q[:, axis]], dim=-1))
    rings = []
    for radius, height in shape.outline:
        ring_center = c.copy()
        ring_center[axis] += height
        rings.append(_circle_points(ring_center, radius, axis))
    return _Part(SDF(fn), np.concatenate(rings))


# Axis names for readability.
X, Y, Z = 0, 1, 2


# ----------------------------------------------------------------------------------------------------
# The categories. Units are natural (metres, or a length of 1 for airplanes and boats); every builder
# returns one _Part whose box bounds it. Front is +Z, up is +Y.
# ----------------------------------------------------------------------------------------------------
def _chair(d: _Draw) -> _Part:
    W = d.uniform("seat_width", 0.42, 0.60, 0.48)
    D = d.uniform("seat_depth", 0.40, 0.54, 0.46)
    Hs = d.uniform("seat_height", 0.40, 0.50, 0.45)
    ts = d.uniform("seat_thickness", 0.04, 0.08, 0.05)
    Hb = d.uniform("back_height", 0.36, 0.60, 0.46)
    tilt = d.uniform("back_tilt_deg", 0.0, 15.0, 8.0)
    tb = d.uniform("back_thickness", 0.035, 0.06, 0.04)
    lw = d.uniform("leg_width", 0.038, 0.055, 0.045)
    legs = d.choice("legs", ("square", "round", "tapered", "pedestal", "sled", "rocker"), "square",
                    p=(0.28, 0.18, 0.18, 0.16, 0.1, 0.1))
    back = d.choice("back", ("panel", "slats", "ladder"), "panel", p=(0.5, 0.25, 0.25))
    n_bars = d.integer("back_bars", 2, 5, 3)
    arms = d.chance("armrests", 0.35, False)
    stretchers = d.chance("stretchers", 0.4, False)

    parts = [_box((0, Hs - ts / 2, 0), (W, ts, D), r=0.012)]
    ix, iz = W / 2 - lw / 2 - 0.015, D / 2 - lw / 2 - 0.015
    if legs in ("square", "round", "tapered", "rocker"):
        top = Hs - ts / 2
        if legs == "rocker":  # square legs standing on two arcs
            R, r = 1.0, lw * 0.5
            foot = R - math.sqrt(R * R - iz * iz) + r
            arc = _torus((ix, R + r, 0), R, r, axis=X) & _box((ix, 0.15, 0), (3 * r, 0.3, D + 0.18))
            parts.append(arc.fold(X))
            leg = _box((ix, (foot + top) / 2, iz), (lw, top - foot, lw))
        elif legs == "square":
            leg = _box((ix, top / 2, iz), (lw, top, lw))
        elif legs == "round":
            leg = _cyl((ix, top / 2, iz), lw / 2, top)
        else:  # tapered and splayed
            leg = _cone((ix + 0.025, lw * 0.3, iz + 0.025), (ix, top, iz), lw * 0.3, lw * 0.55)
        parts.append(leg.fold(X).fold(Z))
        if stretchers:
            bar = lw * 0.6
            parts += [_box((0, 0.14, iz), (2 * ix + lw / 2, bar, bar)).fold(Z),
                      _box((ix, 0.14, 0), (bar, bar, 2 * iz + lw / 2)).fold(X)]
    elif legs == "pedestal":  # office chair: gas column, hub, five spokes with casters
        parts += [_cyl((0, (0.08 + Hs - ts) / 2 + 0.005, 0), 0.028, Hs - ts - 0.07),
                  _cyl((0, 0.085, 0), 0.05, 0.05, r=0.01),
                  _box((0, Hs - ts - 0.012, 0), (W * 0.55, 0.03, D * 0.55))]
        reach = 0.6 * max(W, D)
        for k in range(5):
            a = 2 * math.pi * k / 5
            end = (reach * math.sin(a), 0.055, reach * math.cos(a))
            parts += [_capsule((0, 0.085, 0), end, 0.022), _sphere((end[0], 0.03, end[2]), 0.03)]
    else:  # sled: a bent tube on each side
        r = lw / 2
        parts.append(_group([_capsule((ix, Hs - ts / 2, iz), (ix, r, iz + 0.02), r),
                             _capsule((ix, Hs - ts / 2, -iz), (ix, r, -iz - 0.02), r),
                             _capsule((ix, r, iz + 0.04), (ix, r, -iz - 0.04), r)]).fold(X))

    # The back, built upright behind the seat, then tilted about the seat's back edge.
    zb = -D / 2 + tb / 2
    y0, y1 = Hs - ts * 0.9, Hs + Hb
    if back == "panel":
        back_parts = [_box((0, (y0 + y1) / 2, zb), (W, y1 - y0, tb), r=0.01)]
    else:
        pw, rail = max(lw, 0.04), 0.07
        back_parts = [_box((W / 2 - pw / 2, (y0 + y1) / 2, zb), (pw, y1 - y0, tb)).fold(X),
                      _box((0, y1 - rail / 2, zb), (W, rail, tb), r=0.008)]
        inner, low, high = W - 2 * pw, Hs - 0.01, y1 - rail + 0.01
        if back == "slats":
            width = min(0.045, inner / (2 * n_bars))
            for i in range(n_bars):
                x = -inner / 2 + (i + 0.5) * inner / n_bars
                back_parts.append(_box((x, (low + high) / 2, zb), (width, high - low, tb * 0.7)))
        else:  # ladder: horizontal rails under the top rail
            for i in range(1, n_bars):
                y = Hs + (y1 - rail - Hs) * i / n_bars
                back_parts.append(_box((0, y, zb), (W - pw, 0.045, tb * 0.7)))
    parts.append(_group(back_parts).rotate((1, 0, 0), -tilt, about=(0, Hs, zb)))

    if arms:
        Ha = Hs + d.uniform("arm_height", 0.18, 0.26, 0.22)
        aw = 0.05
        xa = W / 2 - aw / 2
        z0 = -D / 2 + tb - (Ha - Hs) * math.tan(math.radians(tilt)) - 0.02
        z1 = D / 2 + 0.03
        post = _box((xa, (Hs + Ha) / 2, D / 2 - 0.06), (0.04, Ha - Hs, 0.04))
        bar = _box((xa, Ha, (z0 + z1) / 2), (aw, 0.04, z1 - z0), r=0.012)
        parts.append((post | bar).fold(X))
    return _group(parts)


def _table(d: _Draw) -> _Part:
    top = d.choice("top", ("rectangular", "round"), "rectangular", p=(0.7, 0.3))
    H = d.uniform("height", 0.45, 0.78, 0.74)
    tt_ratio = d.uniform("top_thickness_ratio", 0.03, 0.045, 0.034)  # of the longest side
    parts = []
    if top == "rectangular":
        W = d.uniform("width", 1.0, 1.8, 1.4)
        D = d.uniform("depth", 0.55, 0.95, 0.8)
        tt = tt_ratio * max(W, H)
        lw = W * d.uniform("leg_width_ratio", 0.036, 0.055, 0.04)
        inset = d.uniform("leg_inset", 0.02, 0.12, 0.05)
        base = d.choice("base", ("four_legs", "round_legs", "trestle", "panels"), "four_legs",
                        p=(0.4, 0.25, 0.2, 0.15))
        parts.append(_box((0, H - tt / 2, 0), (W, tt, D), r=0.01))
        ix, iz = W / 2 - lw / 2 - inset, D / 2 - lw / 2 - inset
        leg_top = H - tt / 2
        if base in ("four_legs", "round_legs"):
            leg = (_box((ix, leg_top / 2, iz), (lw, leg_top, lw)) if base == "four_legs"
                   else _cyl((ix, leg_top / 2, iz), lw * 0.55, leg_top))
            parts.append(leg.fold(X).fold(Z))
            if d.chance("apron", 0.55, True):
                ah, at = d.uniform("apron_height", 0.06, 0.12, 0.08), lw * 0.5
                y = H - tt - ah / 2 + 0.005
                parts += [_box((0, y, iz + lw / 4), (2 * ix, ah, at)).fold(Z),
                          _box((ix + lw / 4, y, 0), (at, ah, 2 * iz)).fold(X)]
            if d.chance("shelf", 0.2, False):
                parts.append(_box((0, 0.14, 0), (2 * ix + lw * 0.5, lw * 0.5, 2 * iz + lw * 0.5)))
        elif base == "trestle":
            xt = W / 2 - inset - 0.1
            parts.append(_group([_box((xt, (0.05 + H - tt) / 2, 0), (lw, H - tt - 0.04, D * 0.35)),
                                 _box((xt, 0.03, 0), (lw * 1.3, 0.06, D * 0.85), r=0.01),
                                 _box((xt, H - tt - 0.02, 0), (lw * 1.3, 0.05, D * 0.8))]).fold(X))
            parts.append(_box((0, H * 0.35, 0), (2 * xt, 0.06, lw)))
        else:  # panels: solid side slabs and a modesty panel, like a desk
            tp = max(lw * 0.8, 0.04)
            xs = W / 2 - tp / 2 - inset * 0.3
            parts += [_box((xs, leg_top / 2, 0), (tp, leg_top, D * 0.92)).fold(X),
                      _box((0, H - tt - H * 0.22, -D / 2 + D * 0.12), (2 * xs, H * 0.44, tp * 0.7))]
        return _group(parts)

    R = d.uniform("radius", 0.4, 0.65, 0.5)
    tt = tt_ratio * max(2 * R, H)
    lw = 2 * R * d.uniform("leg_width_ratio", 0.036, 0.055, 0.04)
    base = d.choice("base", ("pedestal", "three_legs", "four_legs"), "pedestal", p=(0.5, 0.25, 0.25))
    parts.append(_cyl((0, H - tt / 2, 0), R, tt, r=0.01))
    if base == "pedestal":
        cr = R * d.uniform("column_ratio", 0.1, 0.18, 0.13)
        rb = R * d.uniform("foot_ratio", 0.45, 0.7, 0.55)
        parts += [_cyl((0, H / 2, 0), cr, H - tt / 2), _cyl((0, H - tt - 0.015, 0), cr * 2.2, 0.04)]
        if d.choice("foot", ("disc", "cross"), "disc") == "disc":
            parts.append(_revolve([(0, 0), (rb, 0), (rb, 0.03), (cr * 1.3, 0.1), (0, 0.1)]))
        else:
            for k in range(4):
                a = math.pi / 4 + k * math.pi / 2
                parts.append(_capsule((0, 0.07, 0), (rb * math.cos(a), 0.03, rb * math.sin(a)), 0.03))
    else:
        n = 3 if base == "three_legs" else 4
        for k in range(n):
            a = 2 * math.pi * k / n
            c, s = math.cos(a), math.sin(a)
            parts.append(_capsule((R * 0.5 * c, H - tt / 2, R * 0.5 * s),
                                  (R * 0.68 * c, lw / 2, R * 0.68 * s), lw / 2))
        y_ring = H * 0.3
        f = (H - tt / 2 - y_ring) / (H - tt / 2 - lw / 2)  # where the legs cross the ring's height
        parts.append(_torus((0, y_ring, 0), R * (0.5 + 0.18 * f), lw * 0.45))
    return _group(parts)


def _bench(d: _Draw) -> _Part:
    L = d.uniform("length", 1.2, 1.9, 1.5)
    D = d.uniform("seat_depth", 0.36, 0.5, 0.42)
    Hs = d.uniform("seat_height", 0.4, 0.48, 0.44)
    m = L * d.uniform("member_ratio", 0.036, 0.05, 0.04)  # frame members' section
    seat = d.choice("seat", ("slats", "plank"), "slats", p=(0.65, 0.35))
    supports = d.choice("supports", ("frames", "legs", "slabs"), "frames", p=(0.5, 0.3, 0.2))
    overhang = d.uniform("overhang", 0.06, 0.2, 0.12)
    has_back = d.chance("backrest", 0.6, True)
    ts = m * 0.85
    xf = L / 2 - overhang - m / 2
    parts = []
    if seat == "slats":
        n = d.integer("seat_slats", 3, 5, 4)
        gap = d.uniform("slat_gap", 0.02, 0.04, 0.03)
        depth = (D - (n - 1) * gap) / n
        for i in range(n):
            z = -D / 2 + depth / 2 + i * (depth + gap)
            parts.append(_box((0, Hs - ts / 2, z), (L, ts, depth), r=0.006))
    else:
        parts.append(_box((0, Hs - ts * 0.65, 0), (L, ts * 1.3, D), r=0.01))
    rail_y = Hs - ts - m / 2 + 0.01
    zl = D / 2 - m / 2 - 0.02
    if supports == "frames":  # cast end frames: two legs, a seat rail and a floor runner
        frame = [_box((xf, rail_y, 0), (m, m, D)),
                 _box((xf, rail_y / 2, zl), (m, rail_y, m)), _box((xf, rail_y / 2, -zl), (m, rail_y, m)),
                 _box((xf, m * 0.3, 0), (m, m * 0.6, D * 0.95))]
        if d.chance("armrests", 0.5, True):
            ya = Hs + 0.22
            frame += [_box((xf, (rail_y + ya) / 2, zl), (m * 0.8, ya - rail_y, m * 0.8)),
                      _box((xf, ya, -0.04), (m, m * 0.7, D + 0.02), r=0.01)]
        parts.append(_group(frame).fold(X))
    elif supports == "legs":
        low = rail_y * 0.35
        end_rails = [_box((xf, rail_y, 0), (m, m, D)), _box((xf, low, 0), (m * 0.7, m * 0.7, 2 * zl))]
        parts += [_group(end_rails).fold(X),
                  _box((xf, rail_y / 2, zl), (m, rail_y, m)).fold(X).fold(Z),
                  _box((0, low, 0), (2 * xf, m * 0.7, m * 0.7))]
    else:  # slabs
        parts.append(_box((xf, (Hs - ts) / 2 + 0.005, 0), (m * 1.4, Hs - ts + 0.01, D * 0.9)).fold(X))
    if has_back:
        Hb = d.uniform("back_height", 0.28, 0.45, 0.36)
        tilt = d.uniform("back_tilt_deg", 5.0, 18.0, 12.0)
        nb = d.integer("back_slats", 1, 3, 3)
        zp = -D / 2 + m / 2
        y0, y1 = Hs - ts - m, Hs + Hb
        back = [_box((xf, (y0 + y1) / 2, zp), (m, y1 - y0, m)).fold(X)]
        span = Hb - 0.06
        height = (span - (nb - 1) * 0.03) / nb
        for i in range(nb):
            y = y1 - height / 2 - i * (height + 0.03)
            back.append(_box((0, y, zp + m / 2 + ts / 2 - 0.01), (L, height, ts), r=0.006))
        parts.append(_group(back).rotate((1, 0, 0), -tilt, about=(0, Hs, zp)))
    return _group(parts)


def _sofa(d: _Draw) -> _Part:
    L = d.uniform("length", 1.5, 2.4, 2.0)
    D = d.uniform("depth", 0.8, 1.0, 0.9)
    lh = d.uniform("leg_height", 0.04, 0.16, 0.1)
    Hs = d.uniform("seat_height", 0.38, 0.48, 0.44)
    Hb = d.uniform("back_top", 0.72, 0.95, 0.84)
    tb = d.uniform("back_thickness", 0.15, 0.25, 0.2)
    ch = d.uniform("cushion_height", 0.1, 0.16, 0.13)
    arm = d.choice("arms", ("square", "rolled", "low", "none"), "square", p=(0.45, 0.3, 0.15, 0.1))
    aw = d.uniform("arm_width", 0.12, 0.24, 0.17) if arm != "none" else 0.0
    Ha = d.uniform("arm_height", 0.56, 0.7, 0.62) if arm != "low" else Hs + 0.1
    n = d.integer("seat_cushions", 1, 3, 3)
    back_cushions = d.chance("back_cushions", 0.6, True)
    legs = d.choice("base", ("legs", "plinth"), "legs", p=(0.7, 0.3))

    y_base = Hs - ch + 0.01
    parts = [_box((0, (lh + y_base) / 2, 0), (L, y_base - lh, D), r=0.03),
             _box((0, (lh + Hb) / 2, -D / 2 + tb / 2), (L, Hb - lh, tb), r=0.06)]
    if arm in ("square", "low"):
        parts.append(_box((L / 2 - aw / 2, (lh + Ha) / 2, 0), (aw, Ha - lh, D), r=0.05).fold(X))
    elif arm == "rolled":
        roll = aw * 0.6
        parts.append(_group([_box((L / 2 - aw / 2, (lh + Ha - roll) / 2, 0), (aw, Ha - roll - lh, D), r=0.04),
                             _cyl((L / 2 - roll, Ha - roll, 0), roll, D, axis=Z, r=0.04)]).fold(X))
    inner = L - 2 * aw
    gap = 0.015
    width = (inner - (n - 1) * gap) / n
    for i in range(n):
        x = -inner / 2 + width / 2 + i * (width + gap)
        z0, z1 = -D / 2 + tb - 0.01, D / 2 + 0.01
        parts.append(_box((x, Hs - ch / 2 - 0.005, (z0 + z1) / 2), (width, ch + 0.01, z1 - z0), r=0.045))
        if back_cushions:
            cushion = _box((x, (Hs - 0.02 + Hb - 0.04) / 2, -D / 2 + tb + 0.06),
                           (width, Hb - 0.04 - Hs + 0.02, 0.16), r=0.06)
            parts.append(cushion.rotate((1, 0, 0), -8.0, about=(x, Hs, -D / 2 + tb)))
    if legs == "legs":
        rl = L * 0.018
        parts.append(_cyl((L / 2 - 0.07, (lh + 0.02) / 2, D / 2 - 0.07), rl, lh + 0.02).fold(X).fold(Z))
    else:
        parts.append(_box((0, (lh + 0.02) / 2, 0), (L - 0.1, lh + 0.02, D - 0.1)))
    return _group(parts)


_CAR_STYLES = {  # length, width, clearance, body height, cabin height, wheel radius (ranges, metres);
    # cabin profile as fractions of the length from the rear: rear base, roof rear, roof front, front base
    "sedan": ((4.3, 4.9), (1.75, 1.9), (0.14, 0.18), (0.58, 0.66), (0.48, 0.56), (0.32, 0.36),
              (0.19, 0.36, 0.6, 0.75)),
    "hatchback": ((3.8, 4.3), (1.68, 1.8), (0.14, 0.18), (0.58, 0.66), (0.52, 0.6), (0.3, 0.34),
                  (0.04, 0.12, 0.56, 0.74)),
    "suv": ((4.4, 4.9), (1.85, 2.0), (0.2, 0.26), (0.7, 0.8), (0.55, 0.62), (0.36, 0.4),
            (0.03, 0.06, 0.62, 0.77)),
    "pickup": ((5.0, 5.6), (1.9, 2.0), (0.22, 0.28), (0.7, 0.8), (0.55, 0.62), (0.37, 0.41),
               (0.38, 0.40, 0.62, 0.74)),
    "sports": ((4.2, 4.6), (1.85, 2.0), (0.1, 0.13), (0.45, 0.52), (0.36, 0.42), (0.32, 0.35),
               (0.15, 0.38, 0.55, 0.72)),
}


def _car(d: _Draw) -> _Part:
    style = d.choice("style", tuple(_CAR_STYLES), "sedan", p=(0.3, 0.2, 0.2, 0.15, 0.15))
    (l_rng, w_rng, c_rng, b_rng, h_rng, r_rng, cabin) = _CAR_STYLES[style]
    L = d.uniform("length", *l_rng)
    W = d.uniform("width", *w_rng)
    clr = d.uniform("clearance", *c_rng)
    bh = d.uniform("body_height", *b_rng)
    chh = d.uniform("cabin_height", *h_rng)
    rw = d.uniform("wheel_radius", *r_rng)
    ww = d.uniform("wheel_width", 0.2, 0.28, 0.24)
    jitter = [d.uniform(f"cabin_shift_{i}", -0.02, 0.02, 0.0) for i in range(4)]
    front_ovh = d.uniform("front_overhang", 0.17, 0.22, 0.19)
    rear_ovh = d.uniform("rear_overhang", 0.18, 0.24, 0.21)
    nose = d.uniform("nose_height", 0.4, 0.6, 0.5)

    y0, y1, y2 = clr, clr + bh, clr + bh + chh
    rr = 0.07
    # Side profile: trunk, beltline, hood sloping down to the nose, bumpers, flat floor.
    body = _poly([(-L / 2, y0 + 0.12), (-L / 2 + 0.03, y1 - 0.07), (-L / 2 + 0.2, y1),
                  (-L / 2 + (cabin[3] + jitter[3]) * L, y1 + 0.01), (L / 2 - 0.12, y1 - 0.13),
                  (L / 2, y0 + bh * nose), (L / 2 - 0.05, y0 + 0.06), (L / 2 - 0.25, y0), (-L / 2 + 0.2, y0),
                  (-L / 2 + 0.02, y0 + 0.05)])
    body = _extrude(body, (Z, Y), W - 2 * rr, r=rr)
    zs = [-L / 2 + (f + j) * L for f, j in zip(cabin, jitter)]
    zs[1] = max(zs[1], zs[0] + 0.02)
    zs[3] = max(zs[3], zs[2] + 0.3)
    yb, yt = y1 - 0.06, y2 - 0.05
    greenhouse = _extrude(_poly([(zs[0], yb), (zs[1], yt), (zs[2], yt), (zs[3], yb)]), (Z, Y), W * 0.88)
    tumblehome = _extrude(_poly([(-W * 0.44, yb - 0.01), (W * 0.44, yb - 0.01), (W * 0.36, yt + 0.01),
                                 (-W * 0.36, yt + 0.01)]), (X, Y), L)
    zf, zr = L / 2 - front_ovh * L, -L / 2 + rear_ovh * L
    fenders = _group([_cyl((0, rw, z), rw + 0.09, W - 0.1, axis=X, r=0.05) for z in (zf, zr)])
    shell = body.blend(fenders, 0.15).blend((greenhouse & tumblehome).round(0.05), 0.1)
    # Side windows: a recess in the cabin's sides, inset from its pillars.
    yw0, yw1 = y1 + 0.07, y2 - 0.1

    def slope(z_low, z_high, y):  # z on the pillar from (z_low, yb) to (z_high, yt) at height y
        return z_low + (z_high - z_low) * (y - yb) / (yt - yb)
    window = _poly([(slope(zs[0], zs[1], yw0) + 0.14, yw0), (slope(zs[0], zs[1], yw1) + 0.14, yw1),
                    (slope(zs[3], zs[2], yw1) - 0.14, yw1), (slope(zs[3], zs[2], yw0) - 0.14, yw0)])
    window_cut = _extrude(window, (Z, Y), 0.6, center=W * 0.44 + 0.3 - 0.05)
    window_cut = window_cut.rotate((0, 0, 1), math.degrees(math.atan2(W * 0.08, yt - yb)),
                                   about=(W * 0.44 - 0.05, yb, 0)).fold(X)
    cuts = [window_cut]
    xw = W / 2 - ww / 2 - 0.03
    x_in = W / 2 - ww - 0.09  # the wheel wells' inner wall
    for z in (zf, zr):
        cuts.append(_cyl(((x_in + W / 2 + 0.2) / 2, rw, z), rw + 0.06, W / 2 + 0.2 - x_in, axis=X).fold(X))
    if style == "pickup":
        cuts.append(_box((0, y1 + 0.5 - 0.4, (-L / 2 + 0.1 + zs[0] - 0.08) / 2),
                         (W - 0.16, 1.0, zs[0] - 0.08 - (-L / 2 + 0.1))))
    parts = [shell - cuts]
    for z in (zf, zr):
        tyre = _cyl((xw, rw, z), rw, ww, axis=X, r=0.05)
        rim = _cyl((xw + ww / 2, rw, z), rw * 0.62, 0.08, axis=X)
        hub = _cyl((xw, rw, z), rw * 0.22, ww + 0.02, axis=X)
        parts += [((tyre - rim) | hub).fold(X), _cyl((0, rw, z), 0.09, 2 * xw, axis=X)]
    if style == "sports" and d.chance("spoiler", 0.5, True):
        zsp = -L / 2 + 0.2
        parts += [_box((0, y1 + 0.14, zsp), (W * 0.85, 0.05, 0.3), r=0.02),
                  _box((W * 0.3, y1 + 0.06, zsp), (0.06, 0.16, 0.12)).fold(X)]
    return _group(parts)


def _wing(root_le: float, root_chord: float, span: float, sweep_deg: float, tip_ratio: float,
          thickness: float, y: float, dihedral: float = 0.0, x0: float = 0.01) -> _Part:
    """A pair of straight-tapered wings in the XZ plane (leading edge toward +Z), root at x = x0."""
    tip_le = root_le - (span - x0) * math.tan(math.radians(sweep_deg))
    half = _extrude(_poly([(x0, root_le), (span, tip_le), (span, tip_le - root_chord * tip_ratio),
                           (x0, root_le - root_chord)]), (X, Z), thickness, center=y, r=0.005)
    if dihedral:
        half = half.rotate((0, 0, 1), dihedral, about=(0, y, 0))
    return half.fold(X)


def _airplane(d: _Draw) -> _Part:
    style = d.choice("style", ("airliner", "fighter", "propeller"), "airliner", p=(0.5, 0.25, 0.25))
    L = 1.0
    parts = []
    if style == "airliner":
        rf = d.uniform("fuselage_radius", 0.042, 0.06, 0.05)
        span = d.uniform("half_span", 0.42, 0.55, 0.48)
        sweep = d.uniform("sweep_deg", 22.0, 35.0, 28.0)
        chord = d.uniform("root_chord", 0.16, 0.22, 0.19)
        taper = d.uniform("taper", 0.22, 0.4, 0.3)
        zw = d.uniform("wing_position", -0.05, 0.04, -0.01)
        dihedral = d.uniform("dihedral_deg", 2.0, 7.0, 5.0)
        n_eng = d.choice("engines", (2, 4), 2, p=(0.75, 0.25))
        t_tail = d.chance("t_tail", 0.15, False)
        tail_span = d.uniform("tail_half_span", 0.14, 0.2, 0.17)
        fin_h = d.uniform("fin_height", 0.12, 0.18, 0.15)
        parts += [_capsule((0, 0, -0.22), (0, 0, L / 2 - rf), rf),
                  _cone((0, 0, -0.22), (0, rf * 0.55, -L / 2 + rf * 0.25), rf, rf * 0.25)]
        wy = -rf * 0.45
        root_le = zw + chord / 2
        parts.append(_wing(root_le, chord, span, sweep, taper, 0.04, wy, dihedral))
        tan_s, tan_d = math.tan(math.radians(sweep)), math.tan(math.radians(dihedral))
        rn = rf * 0.6
        stations = (0.36,) if n_eng == 2 else (0.3, 0.6)
        for f in stations:
            x = span * f
            le = root_le - x * tan_s
            y = wy + x * tan_d - 0.0175 - rn + 0.012
            parts.append(_cone((x, y, le + 0.06), (x, y, le - 0.08), rn, rn * 0.75).fold(X))
        fin_root = -L / 2 + 0.2
        fin_top_y = rf * 0.5 + fin_h
        parts.append(_extrude(_poly([(fin_root, rf * 0.3), (fin_root - 0.17, rf * 0.3),
                                     (fin_root - 0.17 - fin_h * 0.1, fin_top_y),
                                     (fin_root - 0.17 + 0.075 - fin_h * 0.1 + 0.0, fin_top_y)]),
                              (Z, Y), 0.03, r=0.004))
        ty = fin_top_y - 0.02 if t_tail else rf * 0.4
        tz = fin_root - 0.17 + 0.075 if t_tail else -L / 2 + 0.14
        parts.append(_wing(tz, 0.1, tail_span, sweep + 5, 0.45, 0.035, ty))
    elif style == "fighter":
        rf = d.uniform("fuselage_radius", 0.045, 0.058, 0.05)
        span = d.uniform("half_span", 0.26, 0.36, 0.31)
        chord = d.uniform("root_chord", 0.42, 0.55, 0.48)
        tip = d.uniform("tip_chord", 0.04, 0.09, 0.06)
        twin = d.chance("twin_fins", 0.5, True)
        fin_h = d.uniform("fin_height", 0.12, 0.17, 0.14)
        parts += [_capsule((0, 0, -L / 2 + rf), (0, 0, 0.18), rf),
                  _cone((0, 0, 0.18), (0, -0.005, L / 2 - 0.015), rf, 0.015),
                  _ellipsoid((0, rf * 0.75, 0.2), (0.032, 0.035, 0.1)),
                  _box((rf * 0.9, -0.005, -0.02), (0.05, 0.06, 0.22), r=0.01).fold(X)]
        root_le = -L / 2 + 0.06 + chord
        sweep = math.degrees(math.atan2(chord - tip - 0.02, span))
        parts.append(_wing(root_le, chord, span, sweep, tip / chord, 0.035, 0.0))
        parts.append(_wing(-L / 2 + 0.16, 0.12, span * 0.55, 40, 0.35, 0.035, 0.0))
        fin = _extrude(_poly([(-L / 2 + 0.22, rf * 0.5), (-L / 2 + 0.04, rf * 0.5),
                              (-L / 2 + 0.02, rf * 0.5 + fin_h), (-L / 2 + 0.08, rf * 0.5 + fin_h)]),
                       (Z, Y), 0.032, r=0.005)
        if twin:
            fin = fin.rotate((0, 0, 1), -15, about=(0, rf * 0.5, 0)).translate((rf * 0.75, 0, 0)).fold(X)
        parts.append(fin)
    else:  # propeller: straight high wing, spinner and blades
        rf = d.uniform("fuselage_radius", 0.06, 0.075, 0.065)
        span = d.uniform("half_span", 0.52, 0.62, 0.57)
        chord = d.uniform("chord", 0.14, 0.18, 0.16)
        taper = d.uniform("taper", 0.7, 1.0, 0.85)
        n_blades = d.integer("blades", 2, 3, 2)
        parts += [_capsule((0, 0, -0.1), (0, 0, L / 2 - 0.07), rf),
                  _cone((0, 0, -0.1), (0, rf * 0.5, -L / 2 + 0.02), rf, 0.02),
                  _ellipsoid((0, rf * 0.55, 0.18), (rf * 0.85, rf * 0.7, 0.12))]
        wy = rf + 0.012
        parts.append(_wing(0.26, chord, span, 2.0, taper, 0.045, wy, 1.5))
        parts.append(_capsule((rf * 0.8, -rf * 0.4, 0.16), (span * 0.4, wy - 0.01, 0.18), 0.02).fold(X))
        parts.append(_wing(-L / 2 + 0.12, 0.09, 0.18, 8, 0.7, 0.04, rf * 0.4))
        parts.append(_extrude(_poly([(-L / 2 + 0.15, rf * 0.3), (-L / 2 + 0.03, rf * 0.3),
                                     (-L / 2 + 0.02, rf * 0.5 + 0.13), (-L / 2 + 0.08, rf * 0.5 + 0.13)]),
                              (Z, Y), 0.036, r=0.005))
        parts.append(_cone((0, 0, L / 2 - 0.07), (0, 0, L / 2 - 0.01), 0.035, 0.012))
        for k in range(n_blades):
            blade = _box((0, 0.075, L / 2 - 0.04), (0.05, 0.15, 0.035), r=0.01)
            parts.append(blade.rotate((0, 0, 1), 360.0 * k / n_blades + 20, about=(0, 0, 0)))
    return _group(parts)


def _rifle(d: _Draw) -> _Part:
    style = d.choice("style", ("hunting", "assault", "shotgun"), "hunting", p=(0.45, 0.35, 0.2))
    parts = []
    barrel_len = d.uniform("barrel_length", 0.45, 0.7, 0.58)
    rb_ratio = d.uniform("barrel_radius_ratio", 0.018, 0.022, 0.019)  # of the overall length
    tx = d.uniform("stock_thickness", 0.05, 0.065, 0.055)
    if style in ("hunting", "shotgun"):
        stock = d.uniform("stock_length", 0.32, 0.42, 0.38)
        rb = rb_ratio * (0.22 + stock + barrel_len)
        drop = d.uniform("stock_drop", 0.02, 0.07, 0.045)
        fore = d.uniform("forend_length", 0.2, 0.32, 0.27)
        zb = -0.12 - stock
        profile = [(zb, 0.025 - drop), (-0.16, 0.02), (-0.12, 0.03), (0.1, 0.012), (fore, 0.01),
                   (fore + 0.015, -0.01), (fore, -0.03), (0.02, -0.045), (-0.06, -0.05), (-0.11, -0.055),
                   (-0.15, -0.1), (-0.2, -0.09), (zb + 0.02, -0.14 - drop), (zb, -0.13 - drop)]
        parts.append(_extrude(_poly(profile), (Z, Y), tx - 0.01, r=0.005))
        parts.append(_capsule((0, 0.03, -0.13), (0, 0.03, 0.1), 0.024))
        parts.append(_box((0, -0.07, -0.085), (0.022, 0.045, 0.05), r=0.008))
        if style == "hunting":
            parts.append(_cyl((0, 0.03, (0.05 + 0.1 + barrel_len) / 2), rb, barrel_len + 0.05, axis=Z))
            if d.chance("scope", 0.6, True):
                ys = 0.03 + 0.024 + 0.04
                parts += [_cyl((0, ys, 0.0), 0.022, 0.2, axis=Z),
                          _cone((0, ys, 0.08), (0, ys, 0.15), 0.02, 0.03),
                          _cone((0, ys, -0.08), (0, ys, -0.14), 0.02, 0.026),
                          _box((0, (0.03 + ys) / 2, 0.05), (0.036, ys - 0.03, 0.035)),
                          _box((0, (0.03 + ys) / 2, -0.06), (0.036, ys - 0.03, 0.035))]
            else:
                parts.append(_box((0, 0.03 + rb + 0.01, 0.1 + barrel_len - 0.02), (0.015, 0.025, 0.02)))
        else:  # shotgun: side-by-side or pump
            if d.choice("action", ("double", "pump"), "double") == "double":
                parts.append(_cyl((rb * 0.95, 0.03, (0.08 + 0.1 + barrel_len) / 2), rb, barrel_len + 0.02,
                                  axis=Z).fold(X))
                parts.append(_box((0, 0.03, 0.0), (4 * rb, 2 * rb, 0.2), r=0.01))
            else:
                parts += [_cyl((0, 0.03, (0.05 + 0.1 + barrel_len) / 2), rb, barrel_len + 0.05, axis=Z),
                          _cyl((0, 0.03 - 2 * rb, (0.1 + 0.1 + barrel_len * 0.8) / 2), rb * 0.9,
                               barrel_len * 0.8, axis=Z),
                          _cyl((0, 0.03 - 2 * rb, fore + 0.15), rb * 1.6, 0.18, axis=Z, r=0.01)]
        return _group(parts)

    # assault: boxy receiver, pistol grip, magazine, straight stock, handguard
    stock_len = d.uniform("stock_length", 0.24, 0.34, 0.28)
    rb = rb_ratio * (0.36 + stock_len + barrel_len)
    mag_len = d.uniform("magazine_length", 0.13, 0.2, 0.16)
    mag_curve = d.uniform("magazine_curve", 0.0, 0.06, 0.03)
    handle = d.chance("carry_handle", 0.4, False)
    parts.append(_box((0, 0.0, -0.02), (tx, 0.08, 0.32), r=0.01))
    parts.append(_extrude(_poly([(-0.17, 0.03), (-0.17 - stock_len, 0.035), (-0.17 - stock_len, -0.09),
                                 (-0.17 - stock_len + 0.03, -0.095), (-0.17, -0.02)]),
                          (Z, Y), tx - 0.01, r=0.005))
    parts.append(_extrude(_poly([(-0.07, -0.03), (-0.03, -0.03), (-0.07, -0.15), (-0.11, -0.15)]),
                          (Z, Y), tx * 0.75, r=0.006))
    parts.append(_extrude(_poly([(0.03, -0.03), (0.09, -0.03), (0.09 + mag_curve, -0.03 - mag_len),
                                 (0.04 + mag_curve * 1.3, -0.03 - mag_len)]), (Z, Y), tx * 0.6, r=0.005))
    zb0 = 0.14
    parts += [_cyl((0, 0.02, zb0 + 0.12), 0.034, 0.25, axis=Z, r=0.01),
              _cyl((0, 0.02, (zb0 + zb0 + barrel_len) / 2), rb, barrel_len, axis=Z),
              _cyl((0, 0.02, zb0 + barrel_len + 0.02), rb * 1.3, 0.06, axis=Z),
              _box((0, 0.02 + 0.04, zb0 + barrel_len - 0.08), (0.015, 0.08, 0.02))]
    if handle:
        parts += [_box((0, 0.08, -0.02), (0.035, 0.03, 0.2)),
                  _box((0, 0.055, -0.1), (0.035, 0.05, 0.035)), _box((0, 0.055, 0.06), (0.035, 0.05, 0.035))]
    return _group(parts)


def _hull(length: float, beam: float, depth: float, sheer: float, pointed_stern: bool,
          bow_power: float, deadrise: float) -> _Part:
    """A boat hull along Z (bow at +Z), keel at y = 0: the intersection of its plan (XZ), side profile
    (ZY) and cross-section (XY) extrusions."""
    h, b = length / 2, beam / 2
    zm = -0.1 * length if not pointed_stern else 0.0
    ts = np.linspace(0.0, 1.0, 10)
    tip = 0.012 * length  # blunt tips: a needle point would vanish on coarse grids
    right = [(max(b * (1 - t ** bow_power), tip), zm + t * (h - zm)) for t in ts]  # to the bow
    if pointed_stern:
        stern = [(max(b * (1 - t ** bow_power), tip), zm - t * (h + zm)) for t in ts[1:]]
    else:
        stern = [(b * 0.82, -h)]
    side = list(reversed(stern)) + right
    plan = [(x, z) for x, z in side] + [(-x, z) for x, z in reversed(side)]
    rise = depth * 0.6
    keel = [(zm + t * (h - zm), rise * t ** 2) for t in ts]
    if pointed_stern:
        aft = [(zm - t * (h + zm), rise * t ** 2) for t in ts[1:]]
        profile = list(reversed(aft)) + keel + [(h + 0.001, depth + sheer), (-h - 0.001, depth + sheer)]
    else:
        profile = [(-h, depth * 0.25), (-h + 0.1 * length, 0.0)] + keel + [(h + 0.001, depth + sheer),
                                                                         (-h, depth)]
    deck_y = depth + sheer + 0.01
    section = [(0, 0.0), (b * 0.8, depth * deadrise), (b + 0.01, deck_y), (-b - 0.01, deck_y),
               (-b * 0.8, depth * deadrise)]
    top = depth + sheer
    return (_extrude(_poly(plan), (X, Z), 2 * top + 0.1, center=top / 2)
            & _extrude(_poly(profile), (Z, Y), beam + 0.1)
            & _extrude(_poly(section), (X, Y), length + 0.1))


def _watercraft(d: _Draw) -> _Part:
    style = d.choice("style", ("motorboat", "sailboat", "ship", "canoe"), "motorboat",
                     p=(0.3, 0.25, 0.25, 0.2))
    parts = []
    if style == "motorboat":
        B = d.uniform("beam", 0.3, 0.4, 0.34)
        Hd = d.uniform("hull_depth", 0.12, 0.17, 0.14)
        sheer = d.uniform("sheer", 0.02, 0.06, 0.04)
        ch = d.uniform("cabin_height", 0.08, 0.14, 0.1)
        cz = d.uniform("cabin_position", -0.12, 0.05, -0.05)
        hull = _hull(1.0, B, Hd, sheer, False, d.uniform("bow_power", 1.6, 2.4, 2.0), 0.3)
        deck = Hd + sheer * 0.3
        cabin = _extrude(_poly([(cz - 0.18, deck - 0.03), (cz - 0.16, deck + ch), (cz + 0.05, deck + ch),
                                (cz + 0.17, deck - 0.03)]), (Z, Y), B * 0.62 - 0.02, r=0.01)
        parts += [hull, cabin]
        if d.chance("hardtop", 0.4, False):
            parts += [_box((0, deck + ch + 0.06, cz - 0.1), (B * 0.6, 0.035, 0.22), r=0.01),
                      _box((B * 0.24, deck + ch + 0.025, cz - 0.14), (0.035, 0.08, 0.035)).fold(X)]
        if d.chance("outboard", 0.5, True):
            parts += [_box((0, Hd * 0.75, -0.51), (0.08, 0.12, 0.08), r=0.015),
                      _box((0, Hd * 0.3, -0.53), (0.04, 0.14, 0.045))]
        return _group(parts)
    if style == "sailboat":
        B = d.uniform("beam", 0.26, 0.34, 0.3)
        Hd = d.uniform("hull_depth", 0.1, 0.13, 0.11)
        mast = d.uniform("mast_height", 0.45, 0.6, 0.55)
        zm = d.uniform("mast_position", 0.05, 0.18, 0.12)
        jib = d.chance("jib", 0.7, True)
        hull = _hull(1.0, B, Hd, 0.03, False, d.uniform("bow_power", 1.6, 2.4, 2.0), 0.35)
        deck = Hd + 0.01
        top = deck + mast
        parts += [hull, _box((0, deck + 0.03, -0.08), (B * 0.5, 0.07, 0.3), r=0.02),
                  _cyl((0, (deck - 0.03 + top) / 2, zm), 0.022, top - deck + 0.03),
                  _cyl((0, deck + 0.09, (zm - 0.36) / 2), 0.02, zm + 0.36, axis=Z),
                  _extrude(_poly([(zm - 0.01, deck + 0.09), (zm - 0.01, top - 0.02), (-0.34, deck + 0.09)]),
                           (Z, Y), 0.036)]
        if jib:
            jib_sail = _poly([(zm + 0.01, top - 0.08), (zm + 0.01, deck + 0.05), (0.44, deck + 0.05)])
            parts.append(_extrude(jib_sail, (Z, Y), 0.036))
        return _group(parts)
    if style == "ship":
        B = d.uniform("beam", 0.14, 0.2, 0.17)
        Hd = d.uniform("hull_depth", 0.09, 0.12, 0.1)
        decks = d.integer("decks", 1, 3, 2)
        zs = d.uniform("superstructure_position", -0.25, 0.05, -0.1)
        funnels = d.integer("funnels", 0, 2, 1)
        hull = _hull(1.0, B, Hd, 0.02, False, d.uniform("bow_power", 1.3, 2.0, 1.6), 0.5)
        parts.append(hull)
        y, length, width = Hd, 0.34, B * 0.75
        for _ in range(decks):
            parts.append(_box((0, y + 0.025, zs), (width, 0.06, length), r=0.008))
            y, length, width = y + 0.05, length * 0.7, width * 0.85
        parts.append(_box((0, y + 0.03, zs + 0.03), (B * 0.85, 0.04, 0.07), r=0.008))  # bridge
        for k in range(funnels):
            zf = zs - 0.08 - 0.09 * k
            parts.append(_cone((0, Hd + 0.02, zf), (0, y + 0.09, zf - 0.03), 0.03, 0.026))
        parts.append(_cyl((0, (y + y + 0.16) / 2, zs + 0.08), 0.02, 0.16))
        return _group(parts)
    # canoe (open, with thwarts) or kayak (decked, with a cockpit)
    B = d.uniform("beam", 0.13, 0.18, 0.15)
    Hd = d.uniform("hull_depth", 0.07, 0.09, 0.08)
    sheer = d.uniform("end_rise", 0.02, 0.05, 0.035)
    hull = _hull(1.0, B, Hd, sheer, True, d.uniform("end_power", 1.6, 2.4, 2.0), 0.45)
    hull = hull | _capsule((0, Hd * 0.7, 0.47), (0, Hd + sheer - 0.02, 0.48), 0.02).fold(Z)  # stems
    if d.choice("kind", ("canoe", "kayak"), "canoe") == "canoe":
        wall = 0.035
        inner = _hull(1.0 - 0.14, B - 2 * wall, Hd, sheer + 0.2, True, 2.0, 0.45)
        parts += [hull - inner.translate((0, wall * 0.8, 0)),
                  _box((0, Hd - 0.02, 0.18), (B - 0.02, 0.03, 0.04)).fold(Z),  # thwarts
                  _box((0, Hd * 0.55, 0.32), (B * 0.7, 0.03, 0.05)).fold(Z)]  # seats
    else:
        cockpit = _ellipsoid((0, Hd + 0.02, -0.02), (B * 0.32, 0.05, 0.13))
        parts += [hull - cockpit, _torus((0, Hd + 0.005, -0.02), B * 0.3, 0.012)]
    return _group(parts)


def _display(d: _Draw) -> _Part:
    style = d.choice("style", ("monitor", "tv", "crt"), "monitor", p=(0.5, 0.35, 0.15))
    aspect = d.choice("aspect", (16 / 9, 16 / 10, 21 / 9, 4 / 3), 16 / 9, p=(0.5, 0.2, 0.1, 0.2))
    if style == "crt":
        aspect = d.values["aspect"] = 4 / 3
    W = d.uniform("width", 0.45, 0.7, 0.6) if style != "tv" else d.uniform("width", 0.9, 1.3, 1.1)
    Hp = W / aspect
    tp = W * d.uniform("thickness_ratio", 0.04, 0.065, 0.05)
    bezel = W * d.uniform("bezel_ratio", 0.015, 0.04, 0.025)
    lift = W * d.uniform("lift_ratio", 0.08, 0.22, 0.15)
    base_t = W * 0.04
    yc = base_t + lift + Hp / 2
    panel = _box((0, yc, 0), (W, Hp, tp), r=min(0.01, tp / 3))
    screen = _box((0, yc, tp / 2), (W - 2 * bezel, Hp - 2 * bezel, tp * 0.6))
    parts = [panel - screen]
    if style == "crt":
        depth = W * d.uniform("depth_ratio", 0.6, 0.85, 0.7)
        back = (_extrude(_poly([(-tp / 2 + 0.01, yc - Hp / 2 + 0.01), (-tp / 2 + 0.01, yc + Hp / 2 - 0.01),
                                (-depth, yc + Hp * 0.22), (-depth, yc - Hp * 0.32)]), (Z, Y), W - 0.02)
                & _extrude(_poly([(-W / 2 + 0.01, -tp / 2 + 0.02), (W / 2 - 0.01, -tp / 2 + 0.02),
                                  (W * 0.3, -depth), (-W * 0.3, -depth)]), (X, Z), 2 * yc + Hp))
        stand_top = yc - Hp * 0.3
        parts += [back.round(0.01),
                  _box((0, stand_top / 2, -depth / 2), (W * 0.5, stand_top, depth * 0.6), r=0.01)]
        return _group(parts)
    stand = d.choice("stand", ("neck", "feet"), "neck" if style == "monitor" else "feet",
                     p=(0.8, 0.2) if style == "monitor" else (0.4, 0.6))
    if d.chance("back_housing", 0.6, True):
        parts.append(_box((0, yc - Hp * 0.05, -tp / 2 - W * 0.02), (W * 0.4, Hp * 0.45, W * 0.05), r=0.015))
    if stand == "neck":
        nw, nt = W * 0.1, W * 0.035
        zn = -tp / 2 - nt * 0.3
        parts.append(_box((0, (base_t / 2 + yc) / 2, zn), (nw, yc - base_t / 2, nt), r=0.006))
        if d.choice("base", ("plate", "disc"), "plate") == "plate":
            parts.append(_box((0, base_t / 2, zn + W * 0.06), (W * 0.36, base_t, W * 0.26), r=0.01))
        else:
            parts.append(_cyl((0, base_t / 2, zn + W * 0.05), W * 0.16, base_t, r=0.008))
    else:
        xf = W * d.uniform("feet_spread", 0.3, 0.42, 0.38)
        foot_y = yc - Hp / 2 + 0.02
        rf = W * 0.02
        front, back = (xf - W * 0.03, rf, W * 0.1), (xf - W * 0.03, rf, -W * 0.12)
        parts.append(_group([_capsule((xf, foot_y, 0), front, rf), _capsule((xf, foot_y, 0), back, rf),
                             _capsule(front, back, rf)]).fold(X))
    return _group(parts)


def _driver(center_y: float, front: float, radius: float) -> tuple[_Part, list[_Part]]:
    """A cone driver on the face z = ``front``: the recess to cut and the parts to add (cap, surround)."""
    depth = radius * 0.35
    recess = _revolve([(0, -depth), (radius * 0.3, -depth), (radius * 0.92, -radius * 0.06), (radius, 0.0),
                       (radius, 0.05), (0, 0.05)], center=(0, center_y, front), axis=Z)
    return recess, [_sphere((0, center_y, front - depth), radius * 0.24),
                    _torus((0, center_y, front - radius * 0.03), radius * 0.94, radius * 0.05, axis=Z)]


def _loudspeaker(d: _Draw) -> _Part:
    style = d.choice("style", ("bookshelf", "tower", "subwoofer"), "bookshelf", p=(0.45, 0.35, 0.2))
    if style == "bookshelf":
        W, H = d.uniform("width", 0.16, 0.24, 0.2), d.uniform("height", 0.26, 0.4, 0.32)
        D, n = d.uniform("depth", 0.18, 0.28, 0.24), 1
    elif style == "tower":
        W, H = d.uniform("width", 0.18, 0.26, 0.22), d.uniform("height", 0.8, 1.1, 0.95)
        D, n = d.uniform("depth", 0.24, 0.34, 0.28), d.integer("woofers", 2, 3, 2)
    else:
        W = d.uniform("width", 0.3, 0.42, 0.36)
        H, D, n = W, W * d.uniform("depth_ratio", 0.9, 1.1, 1.0), 1
    r = W * d.uniform("edge_round", 0.02, 0.12, 0.05)
    feet = (style != "bookshelf") or d.chance("feet", 0.2, False)
    y0 = 0.03 if feet else 0.0
    body = _box((0, y0 + H / 2, 0), (W, H, D), r=r)
    front = D / 2
    rw = W * (d.uniform("woofer_ratio", 0.33, 0.4, 0.37) if style != "subwoofer" else 0.4)
    cuts, adds = [], []
    tweeter = style != "subwoofer"
    top = y0 + H - (W * 0.22 if tweeter else H / 2)
    if tweeter:
        rt = W * 0.12
        cuts.append(_cyl((0, top, front), rt, rt * 0.6))
        adds.append(_sphere((0, top, front - rt * 0.3), rt * 0.7))
        top -= rt + W * 0.1 + rw
    for i in range(n):
        cut, add = _driver(top - i * (2 * rw + W * 0.08), front, rw)
        cuts.append(cut)
        adds += add
    port = "none" if style == "subwoofer" else d.choice("port", ("none", "round", "slot"), "round")
    yp = y0 + W * 0.12
    if port == "round":
        cuts.append(_cyl((0, yp, front), W * 0.08, 0.1, axis=Z))
    elif port == "slot":
        cuts.append(_box((0, yp, front), (W * 0.6, W * 0.05, 0.1)))
    parts = [body - cuts] + adds
    if feet:
        if style == "tower" and d.chance("plinth", 0.5, True):
            parts.append(_box((0, 0.02, 0), (W + 0.06, 0.04, D + 0.06), r=0.01))
        else:
            parts.append(_cyl((W / 2 - 0.04, 0.02, D / 2 - 0.04), 0.025, 0.04 + 0.01).fold(X).fold(Z))
    return _group(parts)


_CABINET_STYLES = {  # width, height, depth ranges
    "cupboard": ((0.8, 1.1), (0.8, 1.2), (0.4, 0.55)),
    "wardrobe": ((0.9, 1.4), (1.7, 2.0), (0.5, 0.62)),
    "dresser": ((0.9, 1.5), (0.7, 1.0), (0.42, 0.52)),
    "sideboard": ((1.4, 1.9), (0.7, 0.9), (0.4, 0.5)),
    "filing": ((0.4, 0.5), (0.7, 1.35), (0.55, 0.65)),
}


def _cabinet(d: _Draw) -> _Part:
    style = d.choice("style", tuple(_CABINET_STYLES), "cupboard", p=(0.3, 0.2, 0.2, 0.15, 0.15))
    (w_rng, h_rng, d_rng) = _CABINET_STYLES[style]
    W, H, D = d.uniform("width", *w_rng), d.uniform("height", *h_rng), d.uniform("depth", *d_rng)
    size = max(W, H)
    base = d.choice("base", ("plinth", "legs", "none"), "plinth", p=(0.5, 0.3, 0.2))
    bh = {"plinth": d.uniform("plinth_height", 0.05, 0.1, 0.07), "none": 0.0,
          "legs": d.uniform("leg_height", 0.08, 0.2, 0.12)}[base]
    top_slab = d.chance("top_slab", 0.5, True) and style != "filing"
    # The front's rows, top to bottom: (height fraction, "doors" | "drawers", count).
    if style == "cupboard":
        rows = [(1.0, "doors", 2)]
        if d.chance("drawer_row", 0.6, True):
            rows = [(0.25, "drawers", 2), (0.75, "doors", 2)]
    elif style == "wardrobe":
        doors = 3 if W > 1.2 else 2
        rows = [(1.0, "doors", doors)]
        if d.chance("drawer_row", 0.4, False):
            rows = [(0.82, "doors", doors), (0.18, "drawers", 2)]
    elif style == "dresser":
        k = d.integer("drawer_rows", 3, 4, 3)
        rows = [(1 / k, "drawers", d.integer("top_drawers", 1, 3, 2))] + [(1 / k, "drawers", 1)] * (k - 1)
    elif style == "sideboard":
        k = d.integer("columns", 3, 4, 3)
        rows = [(1.0, "doors", k)]
        if d.chance("drawer_row", 0.5, True):
            rows = [(0.3, "drawers", k), (0.7, "doors", k)]
    else:
        k = max(2, min(4, int(round(H / 0.33))))
        rows = [(1 / k, "drawers", 1)] * k
    pd = 0.025
    g = size * 0.01
    hs = 0.03 if top_slab else 0.0
    parts = [_box((0, bh + (H - bh - hs) / 2, -pd / 2), (W, H - bh - hs, D - pd), r=0.008)]
    if top_slab:
        parts.append(_box((0, H - hs / 2, 0.01), (W + 0.03, hs, D + 0.02), r=0.008))
    if base == "plinth":
        parts.append(_box((0, bh / 2 + 0.005, -0.02), (W - 0.06, bh + 0.01, D - 0.08)))
    elif base == "legs":
        xl, zl = W / 2 - 0.05, D / 2 - 0.06
        parts.append(_cone((xl, 0.018, zl), (xl, bh + 0.01, zl), 0.018, 0.028).fold(X).fold(Z))
    y = H - hs - 0.02
    front_h = H - hs - 0.02 - bh - 0.02
    hw = size * 0.022  # handle section
    for frac, kind, count in rows:
        h = front_h * frac
        w = (W - 0.04) / count
        for i in range(count):
            xc = -W / 2 + 0.02 + w * (i + 0.5)
            yc = y - h / 2
            parts.append(_box((xc, yc, D / 2 - pd), (w - 2 * g, h - 2 * g, 2 * pd)))
            if kind == "drawers":
                parts.append(_box((xc, yc + h * 0.1, D / 2 + 0.012), (min(w * 0.4, 0.16), hw, 0.03), r=0.006))
            else:
                side = 1 if i < count / 2 else -1  # handles toward the middle
                xh = xc + side * (w / 2 - g - 0.05)
                parts.append(_box((xh, yc + h * (0.25 if h > 1.0 else 0.15), D / 2 + 0.012),
                                  (hw, min(h * 0.25, 0.2), 0.03), r=0.006))
        y -= h
    return _group(parts)


def _lamp(d: _Draw) -> _Part:
    style = d.choice("style", ("table", "floor", "desk"), "table", p=(0.5, 0.25, 0.25))
    parts = []
    if style == "desk":  # architect lamp: base, two arms, a conical head pointing down and forward
        rb = d.uniform("base_radius", 0.08, 0.1, 0.09)
        ye, ze = d.uniform("elbow_height", 0.34, 0.42, 0.38), d.uniform("elbow_back", -0.08, -0.02, -0.05)
        yh, zh = d.uniform("head_height", 0.42, 0.5, 0.46), d.uniform("head_reach", 0.08, 0.15, 0.12)
        aim = d.uniform("head_tilt_deg", 15.0, 45.0, 30.0)
        R = d.uniform("shade_radius", 0.055, 0.075, 0.065)
        parts += [_cyl((0, 0.015, 0), rb, 0.03, r=0.008), _sphere((0, 0.04, -0.02), 0.02),
                  _capsule((0, 0.04, -0.02), (0, ye, ze), 0.012), _sphere((0, ye, ze), 0.018),
                  _capsule((0, ye, ze), (0, yh, zh), 0.012), _sphere((0, yh, zh), 0.018)]
        t, hc = 0.016, R * 1.6
        head = _revolve([(0, 0.012), (0.028, 0.012), (R + t / 2, -hc), (R - t / 2, -hc), (0.022, -t),
                         (0, -t)], center=(0, yh, zh + 0.02))
        parts.append(head.rotate((1, 0, 0), -aim, about=(0, yh, zh)))
        return _group(parts)
    if style == "table":
        H = d.uniform("height", 0.5, 0.75, 0.62)
        base_kind = d.choice("base", ("disc", "vase", "column"), "vase", p=(0.35, 0.4, 0.25))
        rb = H * d.uniform("base_ratio", 0.14, 0.22, 0.17)
        Rb = H * d.uniform("shade_ratio", 0.25, 0.33, 0.29)
        hs = H * d.uniform("shade_height_ratio", 0.28, 0.4, 0.34)
        hb = H * d.uniform("body_ratio", 0.25, 0.4, 0.32)
        if base_kind == "disc":
            parts.append(_revolve([(0, 0), (rb, 0), (rb, 0.03 * H), (rb * 0.5, 0.07 * H), (0, 0.07 * H)]))
            body_top = 0.07 * H
        elif base_kind == "vase":
            parts.append(_revolve([(0, 0), (rb * 0.65, 0), (rb * 0.95, hb * 0.3), (rb, hb * 0.55),
                                   (rb * 0.75, hb * 0.85), (rb * 0.35, hb), (0, hb)]))
            body_top = hb
        else:
            parts += [_cyl((0, 0.015 * H, 0), rb, 0.03 * H, r=0.005),
                      _cyl((0, hb / 2, 0), rb * 0.45, hb, r=0.01)]
            body_top = hb
    else:
        H = d.uniform("height", 1.4, 1.8, 1.6)
        rb = H * d.uniform("base_ratio", 0.1, 0.14, 0.12)
        Rb = H * d.uniform("shade_ratio", 0.12, 0.17, 0.14)
        hs = H * d.uniform("shade_height_ratio", 0.12, 0.18, 0.15)
        parts.append(_cyl((0, 0.015 * H, 0), rb, 0.03 * H, r=0.01))
        body_top = 0.03 * H
    rp = H * 0.02
    t = H * 0.03
    y_sb = H - hs
    shade_kind = d.choice("shade", ("drum", "empire", "bowl"), "empire" if style == "table" else "drum",
                          p=(0.4, 0.4, 0.2) if style == "floor" else (0.4, 0.6, 0.0))
    if shade_kind == "bowl":  # torchiere: an open bowl on the pole, closed at the bottom
        R = Rb * 1.4
        y_b = H - hs * 0.8
        parts += [_cyl((0, (body_top + y_b) / 2 + 0.01, 0), rp, y_b - body_top + 0.02),
                  _revolve([(0, y_b - t), (R * 0.2, y_b - t), (R, H - t * 0.5), (R, H), (R - t * 1.2, H),
                            (R * 0.2 - t * 0.3, y_b), (0, y_b)])]
        return _group(parts)
    Rt = Rb * (d.uniform("shade_top_ratio", 0.55, 0.8, 0.65) if shade_kind == "empire" else 1.0)
    parts.append(_revolve([(Rb - t / 2, y_sb), (Rb + t / 2, y_sb), (Rt + t / 2, H), (Rt - t / 2, H)]))
    y_hub = y_sb + hs * 0.45
    parts += [_cyl((0, (body_top + y_hub) / 2, 0), rp, y_hub - body_top + 0.01),
              _sphere((0, y_hub, 0), rp * 2.2)]
    y_rim = H - t * 0.8
    r_rim = Rt - t * 0.2
    for k in range(3):
        a = 2 * math.pi * k / 3 + math.pi / 2
        parts.append(_capsule((0, y_hub, 0), (r_rim * math.cos(a), y_rim, r_rim * math.sin(a)), H * 0.021))
    return _group(parts)


def _telephone(d: _Draw) -> _Part:
    style = d.choice("style", ("smartphone", "cellphone", "desk"), "smartphone", p=(0.5, 0.25, 0.25))
    if style in ("smartphone", "cellphone"):
        smart = style == "smartphone"
        sizes = {"width": ((0.068, 0.078, 0.072), (0.045, 0.052, 0.048)),  # (smartphone, cellphone)
                 "height": ((0.14, 0.165, 0.15), (0.105, 0.125, 0.115)),
                 "thickness": ((0.0085, 0.012, 0.0095), (0.014, 0.019, 0.016))}
        W, H, t = (d.uniform(name, *sizes[name][0 if smart else 1]) for name in ("width", "height",
                                                                                   "thickness"))
        rc = d.uniform("corner_radius", 0.006, 0.012, 0.009)
        re_ = t * 0.3
        body = _extrude(_rrect((0, H / 2), (W - 2 * re_, H - 2 * re_), rc - re_), (X, Y), t - 2 * re_, r=re_)
        if smart:
            glass = _rrect((0, H / 2), (W - 0.006, H - 0.008), rc - 0.003)
            screen = _extrude(glass, (X, Y), t * 0.4, center=t / 2)
            cam = d.uniform("camera_size", 0.02, 0.04, 0.028)
            bump = _extrude(_rrect((-W / 2 + 0.006 + cam / 2, H - 0.006 - cam / 2), (cam, cam), 0.005),
                            (X, Y), t * 0.5, center=-t / 2)
            lens = _cyl((-W / 2 + 0.006 + cam * 0.3, H - 0.006 - cam * 0.3, -t / 2 - t * 0.25), cam * 0.2,
                        t * 0.3, axis=Z)
            return _group([body - screen, bump, lens])
        screen = _extrude(_rrect((0, H * 0.7), (W * 0.75, H * 0.3), 0.003), (X, Y), t * 0.3, center=t / 2)
        parts = [body - screen]
        for r_ in range(4):
            for c_ in range(3):
                parts.append(_box(((c_ - 1) * W * 0.27, H * (0.1 + 0.085 * r_), t / 2),
                                  (W * 0.2, H * 0.055, t * 0.35), r=0.0015))
        parts.append(_cyl((0, H * 0.46, t / 2), W * 0.13, t * 0.35, axis=Z))
        if d.chance("antenna", 0.5, True):
            parts.append(_capsule((W * 0.3, H - 0.005, 0), (W * 0.3, H + 0.012, 0), 0.0045))
        return _group(parts)
    # desk phone: a wedge base with a keypad and a handset across the top
    Wb = d.uniform("width", 0.18, 0.24, 0.21)
    Db = d.uniform("depth", 0.17, 0.22, 0.2)
    hf, hb = 0.03, d.uniform("back_height", 0.065, 0.09, 0.075)
    Lh = d.uniform("handset_length", 0.19, 0.23, 0.21)
    wedge = _poly([(-Db / 2, 0), (Db / 2, 0), (Db / 2, hf), (-Db / 2, hb)])
    base = _extrude(wedge, (Z, Y), Wb - 0.02, r=0.01)
    slope = math.degrees(math.atan2(hb - hf, Db))
    parts = [base]

    def top_at(z):
        return hf + (hb - hf) * (Db / 2 - z) / Db + 0.01
    for r_ in range(4):
        for c_ in range(3):
            z = Db / 2 - 0.03 - r_ * 0.022
            x = (c_ - 1) * 0.026 + (0.035 if Wb > 0.2 else 0.025)
            key = _box((x, top_at(z), z), (0.018, 0.012, 0.015), r=0.003)
            parts.append(key.rotate((1, 0, 0), slope, about=(x, top_at(z), z)))
    zh = -Db / 2 + 0.05
    yh = hb + 0.01 + 0.025
    parts += [_capsule((-Lh / 2 + 0.04, yh + 0.01, zh), (Lh / 2 - 0.04, yh + 0.01, zh), 0.016),
              _cyl((Lh / 2 - 0.03, yh - 0.008, zh), 0.03, 0.03, r=0.008).fold(X),
              _box((Lh / 2 - 0.03, hb + 0.005, zh), (0.05, 0.02, 0.05)).fold(X)]
    return _group(parts)


_BUILDERS: dict[str, Callable[[_Draw], _Part]] = {
    "airplane": _airplane, "bench": _bench, "cabinet": _cabinet, "car": _car, "chair": _chair,
    "display": _display, "lamp": _lamp, "loudspeaker": _loudspeaker, "rifle": _rifle, "sofa": _sofa,
    "table": _table, "telephone": _telephone, "watercraft": _watercraft,
}
assert tuple(sorted(_BUILDERS)) == CATEGORIES


# ----------------------------------------------------------------------------------------------------
# Public API.
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LibraryShape:
    """A library shape: its SDF, the parameters drawn for it and the box bounding it (after
    normalisation into the cube: the longest side spans [-HALF_EXTENT, HALF_EXTENT])."""

    category: str
    seed: int
    sdf: SDF = field(repr=False)
    params: dict = field(repr=False)
    xyz_min: tuple[float, float, float]
    xyz_max: tuple[float, float, float]


def resolve_category(name: str) -> str:
    """The category ``name`` stands for: a category or a synonym (any case, singular or plural).
    Raises ValueError listing the categories when there is none."""
    if not isinstance(name, str):
        raise TypeError(f"a category is a string, got {type(name).__name__}")
    key = name.strip().lower()
    for candidate in _singulars(key):
        if candidate in SYNONYMS:
            return SYNONYMS[candidate]
    raise ValueError(f"unknown shape category {name!r}; the library has {', '.join(CATEGORIES)}")


def library_shape(category: str, seed: int = 0) -> LibraryShape:
    """Builds ``category`` (a category or a synonym) from ``seed`` (an int >= 0; 0 is the canonical
    look)."""
    name = resolve_category(category)
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    draw = _Draw(int(seed))
    part = _BUILDERS[name](draw)
    center, extent = (part.lo + part.hi) / 2, float((part.hi - part.lo).max())
    scale = 2 * HALF_EXTENT / extent
    sdf = part.sdf.translate((-center).tolist()).scale(scale)
    lo, hi = (part.lo - center) * scale, (part.hi - center) * scale
    return LibraryShape(name, int(seed), sdf, dict(draw.values), tuple(lo.tolist()), tuple(hi.tolist()))


def make_shape(category: str, seed: int = 0) -> SDF:
    """The SDF of ``category`` drawn from ``seed`` (0: canonical), inside [-1, 1]^3 with its longest
    side spanning [-HALF_EXTENT, HALF_EXTENT]. Same seed, same shape."""
    return library_shape(category, seed).sdf


def library_sdf_grid(category: str, resolution=64, seed: int = 0, *, xyz_min=DEFAULT_MIN,
                     xyz_max=DEFAULT_MAX) -> SDFGrid:
    """``make_shape(category, seed)`` sampled on a grid of ``resolution`` (an int or 3 ints) over the
    bbox ([-1, 1]^3 by default)."""
    return to_grid(make_shape(category, seed), resolution, xyz_min, xyz_max)


# ----------------------------------------------------------------------------------------------------
# Words -> categories.
# ----------------------------------------------------------------------------------------------------
_WORDS = {
    "airplane": "airplane aeroplane plane airliner aircraft jet jetliner jumbo biplane seaplane "
                "warplane glider",
    "bench": "bench pew",
    "cabinet": "cabinet cupboard dresser wardrobe drawer armoire sideboard closet credenza nightstand "
               "locker bureau",
    "car": "car automobile vehicle truck pickup jeep sedan suv van minivan hatchback coupe convertible "
           "limousine limo taxi cab racecar roadster lorry motorcar sportscar supercar",
    "chair": "chair armchair stool barstool recliner throne highchair",
    "display": "display monitor screen tv television lcd",
    "lamp": "lamp lantern chandelier lampshade sconce streetlight streetlamp lamppost",
    "loudspeaker": "loudspeaker speaker subwoofer woofer soundbar",
    "rifle": "rifle gun shotgun musket carbine firearm machinegun",
    "sofa": "sofa couch settee loveseat divan futon chesterfield sectional",
    "table": "table desk workbench",
    "telephone": "telephone phone smartphone cellphone iphone handset payphone",
    "watercraft": "watercraft boat ship yacht canoe kayak sailboat sailship steamboat steamship speedboat "
                  "motorboat rowboat dinghy ferry tugboat submarine vessel sloop schooner galleon raft "
                  "catamaran warship battleship frigate barge trawler houseboat lifeboat",
}
SYNONYMS = MappingProxyType({word: category for category, words in _WORDS.items()
                             for word in words.split()})
"""Singular lower-case nouns -> category (each category maps to itself); plurals are handled by
:func:`category_from_prompt` and :func:`resolve_category`."""

# Words that end the noun phrase naming the object (as punctuation does): prepositions, conjunctions,
# relative pronouns, "made". The head noun of "a park bench overgrown with vines" is in "a park bench overgrown".
_BREAKS = frozenset("""of with on in at by for from to under over near beside besides behind above below into
    onto inside outside atop against around along across beneath underneath without within through
    between among made that which who whose where while and or but""".split())


def _singulars(word: str) -> list[str]:
    """``word`` and the singulars it may be the plural of (benches -> bench, ferries -> ferry)."""
    out = [word]
    if word.endswith("ies") and len(word) > 4:
        out.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        out.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        out.append(word[:-1])
    return out


def _category_of(word: str) -> str | None:
    for candidate in _singulars(word):
        if candidate in SYNONYMS:
            return SYNONYMS[candidate]
    return None


def category_from_prompt(prompt: str) -> str | None:
    """The library category a free-text prompt asks for, or None.

    Rule: the prompt is lower-cased and split into words (letters and digits; "car's" -> "car"); the
    words are cut into phrases at punctuation and at prepositions, conjunctions and relative pronouns
    (of, with, on, in, and, that, made, ...). The first phrase holding a known noun (a category, a
    synonym, or a plural of either) decides, and within it the last such noun wins, as English puts
    the head noun last: "a table lamp" -> lamp, "a park bench overgrown with vines" -> bench, "a photo
    of a jet plane" -> airplane (the first phrase, "a photo", names nothing), "a dog on a sofa" -> sofa
    (the supporting object when the subject is no category), "a cat" -> None."""
    if not isinstance(prompt, str):
        raise TypeError(f"a prompt is a string, got {type(prompt).__name__}")
    words = re.findall(r"[a-z0-9]+|[,;:.!?()\[\]]", re.sub(r"['\u2019]s\b", "", prompt.lower()))
    phrase: list[str] = []
    for word in words + ["."]:  # a final break closes the last phrase
        if word in _BREAKS or not word.isalnum():
            found = [c for c in map(_category_of, phrase) if c is not None]
            if found:
                return found[-1]
            phrase = []
        else:
            phrase.append(word)
    return None
