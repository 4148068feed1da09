"""Plain torch reference of the SDF renderer; it defines the answer the kernels must match.

The trace runs without autograd, on all rays at once (rays that finish drop out), and mirrors the
kernels' arithmetic op by op so that float64 results agree to rounding. The hits are then recomputed
with autograd: one implicit-function correction t' = t - (f(x) - f(x).detach()) / (grad f . d).detach()
leaves t unchanged but gives dt/dtheta = -(df/dtheta) / (grad f . d); the normal and the shading follow
with differentiable torch ops at x' = o + t' d. Math: docs/ARCHITECTURE.md ("SDF renderer").
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .trilinear_ref import Box
from .volume_render_ref import ray_box_interval

# Below these, a gradient has no direction (normal = grad / NORMAL_FLOOR) and a hit does not move with
# the grid (|grad f . d| too small to divide by). The kernels use the same values.
NORMAL_FLOOR = 1e-12
SLOPE_FLOOR = 1e-12


class View(NamedTuple):
    height: int
    width: int
    focal: float  # pixels: 0.5 * height / tan(fov / 2)
    supersample: int


class Trace(NamedTuple):
    near: float
    far: float
    eps: float
    step_scale: float
    min_step: float
    max_steps: int
    refine_steps: int


class Shade(NamedTuple):
    ambient: float
    diffuse: float
    albedo: tuple  # 3 floats
    light: tuple | None  # unit direction towards the light (3 floats); None: a headlight


def camera_rays(c2w: torch.Tensor, view: View):
    """Origins and unit directions (B, V, H, W, S * S, 3) of every sub-pixel ray, in c2w's dtype.

    Sub-pixel s of pixel (row, col) goes through (col + (s % S + 0.5) / S, row + (s // S + 0.5) / S):
    the pixel centre when S = 1, as ``cameras.pixel_rays``.
    """
    height, width, focal, n = view
    dtype, device = c2w.dtype, c2w.device
    sub = torch.arange(n * n, device=device)
    sx, sy = (sub % n).to(dtype), (sub // n).to(dtype)
    col = torch.arange(width, device=device).to(dtype)[None, :, None]
    row = torch.arange(height, device=device).to(dtype)[:, None, None]
    u = (col + (sx + 0.5) / n - width * 0.5) / focal  # (1, W, S*S)
    v = -((row + (sy + 0.5) / n - height * 0.5) / focal)  # (H, 1, S*S)
    rot = c2w[..., :3, :3, None, None, None]  # (B, V, 3, 3, 1, 1, 1)
    d = [rot[:, :, i, 0] * u + rot[:, :, i, 1] * v - rot[:, :, i, 2] for i in range(3)]
    norm = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
    dirs = torch.stack([di / norm for di in d], dim=-1)
    return c2w[:, :, None, None, None, :3, 3].expand_as(dirs), dirs


class _Grid:
    """Flat access to the (B, X, Y, Z) grids: the cell of a point and the 8 corner values."""

    def __init__(self, sdf: torch.Tensor, box: Box):
        shape = sdf.shape[1:]
        self.flat = sdf.reshape(-1)
        self.numel = shape[0] * shape[1] * shape[2]
        self.strides = (shape[1] * shape[2], shape[2], 1)
        self.lo = sdf.new_tensor(box[:3])
        self.hi = sdf.new_tensor(box[3:])
        self.scale = [(n - 1) / (box[a + 3] - box[a]) for a, n in enumerate(shape)]
        self.last = sdf.new_tensor([n - 2 for n in shape])

    def locate(self, points):
        """Lower corner (N, 3) int64 and fractions (N, 3) of points clamped into the bbox."""
        x = torch.minimum(torch.maximum(points, self.lo), self.hi)
        u = (x - self.lo) * x.new_tensor(self.scale)
        i = torch.minimum(u.floor(), self.last)
        return i, (u - i).clamp(0.0, 1.0)

    def corners(self, batch, i):
        """The 8 corner values, corner c's bit a set for the upper corner along axis a."""
        i = i.long()
        base = batch * self.numel + i[:, 0] * self.strides[0] + i[:, 1] * self.strides[1] + i[:, 2]
        return [self.flat[base + sum(self.strides[a] for a in range(3) if (c >> a) & 1)] for c in range(8)]

    def sample(self, batch, o, d, t):
        i, frac = self.locate(o + t[:, None] * d)
        return interpolate(self.corners(batch, i), frac)


def _factors(frac):
    return [(1 - frac[:, a], frac[:, a]) for a in range(3)]


def interpolate(values, frac):
    """Trilinear value from the 8 corners, summed in the kernels' order."""
    fac = _factors(frac)
    v = 0
    for c in range(8):
        v = v + fac[0][c & 1] * fac[1][(c >> 1) & 1] * fac[2][(c >> 2) & 1] * values[c]
    return v


def interpolate_grad(values, frac, scale):
    """Gradient of the trilinear interpolant (3 tensors, world units), summed in the kernels' order."""
    fac = _factors(frac)
    out = [0, 0, 0]
    for c in range(8):
        bits = [(c >> a) & 1 for a in range(3)]
        for a in range(3):
            b0, b1 = [b for b in range(3) if b != a]
            w = (1.0 if bits[a] else -1.0) * fac[b0][bits[b0]] * fac[b1][bits[b1]]
            out[a] = out[a] + w * values[c]
    return [out[a] * scale[a] for a in range(3)]


def _refine(grid, batch, o, d, a, fa, b, fb, steps: int):
    """Illinois regula falsi on the brackets [a, b]: ``steps`` updates, then the secant root. An end
    kept twice in a row has its value halved, so a curved profile cannot stall one side."""
    kept = torch.zeros_like(a, dtype=torch.int8)  # the end kept by the last update: -1 a, 1 b, 0 none
    for _ in range(steps):
        tm = a + (b - a) * (fa / (fa - fb))
        fm = grid.sample(batch, o, d, tm)
        move_a = (fm < 0) == (fa < 0)
        fa = torch.where(~move_a & (kept == -1), fa * 0.5, fa)
        fb = torch.where(move_a & (kept == 1), fb * 0.5, fb)
        a, fa = torch.where(move_a, tm, a), torch.where(move_a, fm, fa)
        b, fb = torch.where(move_a, b, tm), torch.where(move_a, fb, fm)
        kept = torch.where(move_a, 1, -1).to(torch.int8)
    return a + (b - a) * (fa / (fa - fb))


@torch.no_grad()
def trace(sdf, batch, o, d, box: Box, params: Trace) -> torch.Tensor:
    """t of each ray's first surface crossing, -1 for a miss: rays (R, 3) into the grids batch (R,)."""
    grid = _Grid(sdf, box)
    t0, t1 = ray_box_interval(o, d, box, params.near, params.far)
    t_hit = torch.full_like(t0, -1.0)
    ids = torch.nonzero(t0 < t1).squeeze(1)
    t, t_end = t0[ids], t1[ids]
    t_prev, f_prev = t, torch.zeros_like(t)
    brackets = []  # (ray ids, a, f(a), b, f(b)) of the rays whose sign changed
    for k in range(params.max_steps):
        if ids.numel() == 0:
            break
        f = grid.sample(batch[ids], o[ids], d[ids], t)
        hit = f.abs() < params.eps
        crossed = ~hit & ((f < 0) != (f_prev < 0)) & (k > 0)
        t_hit[ids[hit]] = t[hit]
        brackets.append((ids[crossed], t_prev[crossed], f_prev[crossed], t[crossed], f[crossed]))
        going = ~hit & ~crossed & (t < t_end)
        ids, t, t_end, f = ids[going], t[going], t_end[going], f[going]
        step = torch.clamp_min(params.step_scale * f.abs(), params.min_step)
        t_prev, f_prev = t, f
        t = torch.minimum(t + step, t_end)
    ids, a, fa, b, fb = (torch.cat(parts) for parts in zip(*brackets)) if brackets else (ids,) * 5
    if ids.numel():
        t_hit[ids] = _refine(grid, batch[ids], o[ids], d[ids], a, fa, b, fb, params.refine_steps)
    return t_hit


def hit_terms(sdf, batch, o, d, t, box: Box, shade: Shade):
    """Differentiable t (implicit function), unit normal (N, 3) and shaded colour (N, 3) at the hits."""
    grid = _Grid(sdf, box)
    i, frac = grid.locate(o + t[:, None] * d)
    values = grid.corners(batch, i)
    f = interpolate(values, frac)
    g = interpolate_grad([v.detach() for v in values], frac, grid.scale)
    slope = g[0] * d[:, 0] + g[1] * d[:, 1] + g[2] * d[:, 2]
    moves = slope.abs() > SLOPE_FLOOR
    t = t + torch.where(moves, -(f - f.detach()) / torch.where(moves, slope, 1.0), 0.0)
    frac = (o + t[:, None] * d - grid.lo) * o.new_tensor(grid.scale) - i
    g = interpolate_grad(values, frac, grid.scale)
    sq = g[0] * g[0] + g[1] * g[1] + g[2] * g[2]
    norm = torch.where(sq > 0, torch.where(sq > 0, sq, 1.0).sqrt(), 0.0)  # no NaN gradient at 0
    normal = torch.stack([ga / norm.clamp_min(NORMAL_FLOOR) for ga in g], dim=-1)
    light = -d if shade.light is None else d.new_tensor(shade.light).expand_as(d)
    n_dot_l = normal[:, 0] * light[:, 0] + normal[:, 1] * light[:, 1] + normal[:, 2] * light[:, 2]
    lit = shade.ambient + shade.diffuse * torch.relu(n_dot_l)
    return t, normal, d.new_tensor(shade.albedo) * lit[:, None]


def sdf_render_ref(sdf, c2w, background, box: Box, view: View, params: Trace, shade: Shade):
    """-> rgb (B, V, H, W, 3), mask, depth (B, V, H, W), normal (B, V, H, W, 3), hit_t (B, V, H, W, S*S).

    sdf (B, X, Y, Z), c2w (B, V, 4, 4) and background (B, V, 3) share a dtype and a device.
    """
    n_batch, n_views = c2w.shape[:2]
    n_sub = view.supersample ** 2
    o, d = camera_rays(c2w, view)
    shape = o.shape[:-1]  # (B, V, H, W, S*S)
    o, d = o.reshape(-1, 3), d.reshape(-1, 3)
    batch = torch.arange(n_batch, device=sdf.device).repeat_interleave(o.shape[0] // max(n_batch, 1))
    t_hit = trace(sdf.detach(), batch, o, d, box, params)
    ids = torch.nonzero(t_hit >= 0).squeeze(1)
    t, normal, color = hit_terms(sdf, batch[ids], o[ids], d[ids], t_hit[ids], box, shade)
    bg = background.detach()[:, :, None, None, None, :].expand(*shape, 3).reshape(-1, 3)
    rgb = bg.index_put((ids,), color).reshape(*shape, 3)
    depth = torch.zeros_like(t_hit).index_put((ids,), t).reshape(shape)
    normal = torch.zeros_like(d).index_put((ids,), normal).reshape(*shape, 3)
    hits = (t_hit >= 0).reshape(shape).sum(-1).to(sdf.dtype)
    n_hits = hits.clamp_min(1)
    return (rgb.sum(-2) / n_sub, hits / n_sub, depth.sum(-1) / n_hits, normal.sum(-2) / n_hits[..., None],
            t_hit.reshape(shape))
