"""SDF renderer: sphere tracing on trilinear SDF grids, BLOCK pixels per program, one lane per pixel.

Forward: each lane takes its pixel's S * S sub-pixel rays in turn: camera ray, bbox clip, sphere trace
(a loop that runs while any lane marches), Illinois regula-falsi refinement of the lanes whose sign
changed, then normal and shading. Backward: re-derives each hit from the saved hit_t and scatters the
implicit-function gradient to the grid's 8 corners with atomics. Math: docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from dream3d.ops.sdf_render_ref import NORMAL_FLOOR, SLOPE_FLOOR
from ._grid import gather8, grad8, load8, locate
from ._launch import COMPILE_OPTIONS, device_guard, params
from .volume_render import _div, _ray_box

_NORMAL_FLOOR = tl.constexpr(NORMAL_FLOOR)
_SLOPE_FLOOR = tl.constexpr(SLOPE_FLOOR)

# scalars stored after the bbox in the params tensor (see _launch.params); the trace's come last, as
# only the forward needs them
_FOCAL = tl.constexpr(9)
_AMBIENT = tl.constexpr(10)
_DIFFUSE = tl.constexpr(11)
_ALBEDO = tl.constexpr(12)
_LIGHT = tl.constexpr(15)
_NEAR = tl.constexpr(18)
_FAR = tl.constexpr(19)
_EPS = tl.constexpr(20)
_STEP_SCALE = tl.constexpr(21)
_MIN_STEP = tl.constexpr(22)


@triton.jit
def _sqrt(x):
    """Correctly rounded like torch (the plain float32 sqrt is approximate on the GPU)."""
    if x.dtype == tl.float32:
        r = tl.sqrt_rn(x)
    else:
        r = tl.sqrt(x)
    return r


@triton.jit
def _pixels(BLOCK: tl.constexpr, n_pixels, views, height, width, nx, ny, nz):
    """The program's pixels: ids, lane mask, image (b * V + v), row, col and the element offset of
    the pixel's grid."""
    pix = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = pix < n_pixels
    col = pix % width
    row = (pix // width) % height
    image = pix // (width * height)
    return pix, mask, image, row, col, (image // views) * nx * ny * nz  # int64 from the left


@triton.jit
def _load_camera(c2w_ptr, image, mask):
    """The rotation and position rows (r_i0, r_i1, r_i2, p_i) of each lane's camera."""
    cam = c2w_ptr + image * 16
    r00 = tl.load(cam + 0, mask=mask, other=0.0)
    r01 = tl.load(cam + 1, mask=mask, other=0.0)
    r02 = tl.load(cam + 2, mask=mask, other=1.0)
    p0 = tl.load(cam + 3, mask=mask, other=0.0)
    r10 = tl.load(cam + 4, mask=mask, other=0.0)
    r11 = tl.load(cam + 5, mask=mask, other=0.0)
    r12 = tl.load(cam + 6, mask=mask, other=0.0)
    p1 = tl.load(cam + 7, mask=mask, other=0.0)
    r20 = tl.load(cam + 8, mask=mask, other=0.0)
    r21 = tl.load(cam + 9, mask=mask, other=0.0)
    r22 = tl.load(cam + 10, mask=mask, other=0.0)
    p2 = tl.load(cam + 11, mask=mask, other=0.0)
    return r00, r01, r02, p0, r10, r11, r12, p1, r20, r21, r22, p2


@triton.jit
def _as_float(x, like):
    """An integer scalar as a float of like's dtype (Triton passes an int argument equal to 1 as a
    constexpr, which has no .to())."""
    return tl.zeros_like(like) + x


@triton.jit
def _camera_ray(cam, row, col, s, n_sub, height, width, focal):
    """Origin and unit direction through sub-pixel s (row-major in the n_sub x n_sub grid) of pixel
    (row, col): OpenGL camera looking down -Z, row 0 at the top."""
    r00, r01, r02, p0, r10, r11, r12, p1, r20, r21, r22, p2 = cam
    n = _as_float(n_sub, focal)
    sx = _as_float(s % n_sub, focal)
    sy = _as_float(s // n_sub, focal)
    u = _div(col.to(focal.dtype) + _div(sx + 0.5, n) - _as_float(width, focal) * 0.5, focal)
    v = -_div(row.to(focal.dtype) + _div(sy + 0.5, n) - _as_float(height, focal) * 0.5, focal)
    dx = r00 * u + r01 * v - r02
    dy = r10 * u + r11 * v - r12
    dz = r20 * u + r21 * v - r22
    norm = _sqrt(dx * dx + dy * dy + dz * dz)
    return p0, p1, p2, _div(dx, norm), _div(dy, norm), _div(dz, norm)


@triton.jit
def _cell(params_ptr, nx, ny, nz, ox, oy, oz, dx, dy, dz, t):
    """Element offset of the lower corner and fractions of o + t d's cell, the point clamped into the
    bbox (only rounding puts it outside)."""
    px = tl.minimum(tl.maximum(ox + t * dx, tl.load(params_ptr + 0)), tl.load(params_ptr + 3))
    py = tl.minimum(tl.maximum(oy + t * dy, tl.load(params_ptr + 1)), tl.load(params_ptr + 4))
    pz = tl.minimum(tl.maximum(oz + t * dz, tl.load(params_ptr + 2)), tl.load(params_ptr + 5))
    ix, iy, iz, fx, fy, fz, _ = locate(px, py, pz, params_ptr, nx, ny, nz)
    return (ix * ny + iy) * nz + iz, fx, fy, fz


@triton.jit
def _sdf_at(sdf_ptr, base, nx, ny, nz, params_ptr, ox, oy, oz, dx, dy, dz, t, mask):
    off, fx, fy, fz = _cell(params_ptr, nx, ny, nz, ox, oy, oz, dx, dy, dz, t)
    return gather8(sdf_ptr, base + off, ny * nz, nz, 1, fx, fy, fz, mask)


@triton.jit
def _trace(sdf_ptr, base, nx, ny, nz, params_ptr, ox, oy, oz, dx, dy, dz, lanes, max_steps,
           refine_steps):
    """t of each lane's first surface crossing, -1 for a miss (the rules of trace_ray in
    csrc/sdf_render/sdf_render_trace.h)."""
    near = tl.load(params_ptr + _NEAR)
    far = tl.load(params_ptr + _FAR)
    eps = tl.load(params_ptr + _EPS)
    step_scale = tl.load(params_ptr + _STEP_SCALE)
    min_step = tl.load(params_ptr + _MIN_STEP)
    t, t_end = _ray_box(ox, oy, oz, dx, dy, dz, params_ptr, near, far)
    marching = lanes & (t < t_end)
    result = tl.full(t.shape, -1.0, t.dtype)
    t_prev = t
    f_prev = tl.zeros_like(t)
    a = t  # the bracket [a, b] of a lane whose sign changed
    fa = tl.zeros_like(t)
    b = t
    fb = tl.full(t.shape, 1.0, t.dtype)
    crossed = tl.zeros(t.shape, tl.int1)
    k = tl.zeros(t.shape, tl.int32)  # samples taken
    while tl.max(marching.to(tl.int32), axis=0) > 0:
        f = _sdf_at(sdf_ptr, base, nx, ny, nz, params_ptr, ox, oy, oz, dx, dy, dz, t, marching)
        small = tl.abs(f) < eps
        flip = ((f < 0.0) != (f_prev < 0.0)) & (k > 0)
        result = tl.where(marching & small, t, result)
        cross = marching & ~small & flip
        a = tl.where(cross, t_prev, a)
        fa = tl.where(cross, f_prev, fa)
        b = tl.where(cross, t, b)
        fb = tl.where(cross, f, fb)
        crossed = crossed | cross
        marching = marching & ~small & ~flip & (t < t_end)
        t_prev = tl.where(marching, t, t_prev)
        f_prev = tl.where(marching, f, f_prev)
        t = tl.where(marching, tl.minimum(t + tl.maximum(step_scale * tl.abs(f), min_step), t_end), t)
        k += 1
        marching = marching & (k < max_steps)
    kept = tl.zeros(t.shape, tl.int32)  # Illinois: the end kept by the last update, -1 a, 1 b
    for _ in range(0, refine_steps):
        tm = a + (b - a) * _div(fa, tl.where(crossed, fa - fb, 1.0))
        fm = _sdf_at(sdf_ptr, base, nx, ny, nz, params_ptr, ox, oy, oz, dx, dy, dz, tm, crossed)
        move_a = (fm < 0.0) == (fa < 0.0)
        fa = tl.where(~move_a & (kept == -1), fa * 0.5, fa)
        fb = tl.where(move_a & (kept == 1), fb * 0.5, fb)
        a = tl.where(move_a, tm, a)
        fa = tl.where(move_a, fm, fa)
        b = tl.where(move_a, b, tm)
        fb = tl.where(move_a, fb, fm)
        kept = tl.where(move_a, 1, -1)
    root = a + (b - a) * _div(fa, tl.where(crossed, fa - fb, 1.0))
    return tl.where(crossed, root, result)


@triton.jit
def _hit(sdf_ptr, base, nx, ny, nz, params_ptr, ox, oy, oz, dx, dy, dz, t, mask,
         HEADLIGHT: tl.constexpr):
    """At o + t d: the cell, the gradient G of the interpolant (world units), |G|, the unit normal and
    the direction towards the light."""
    off, fx, fy, fz = _cell(params_ptr, nx, ny, nz, ox, oy, oz, dx, dy, dz, t)
    d_x, d_y, d_z = grad8(sdf_ptr, base + off, ny * nz, nz, 1, fx, fy, fz, mask)
    gx = d_x * tl.load(params_ptr + 6)
    gy = d_y * tl.load(params_ptr + 7)
    gz = d_z * tl.load(params_ptr + 8)
    norm = _sqrt(gx * gx + gy * gy + gz * gz)
    denom = tl.maximum(norm, _NORMAL_FLOOR)
    if HEADLIGHT:
        lx, ly, lz = -dx, -dy, -dz
    else:
        lx = tl.zeros_like(dx) + tl.load(params_ptr + _LIGHT)
        ly = tl.zeros_like(dx) + tl.load(params_ptr + _LIGHT + 1)
        lz = tl.zeros_like(dx) + tl.load(params_ptr + _LIGHT + 2)
    return ((off, fx, fy, fz), (gx, gy, gz), norm,
            (_div(gx, denom), _div(gy, denom), _div(gz, denom)), (lx, ly, lz))


@triton.jit
def _forward_kernel(sdf_ptr, nx, ny, nz, c2w_ptr, bg_ptr, params_ptr, rgb_ptr, mask_ptr, depth_ptr,
                    normal_ptr, hit_ptr, n_pixels, views, height, width, n_sub, max_steps, refine_steps,
                    HEADLIGHT: tl.constexpr, BLOCK: tl.constexpr):
    pix, lanes, image, row, col, base = _pixels(BLOCK, n_pixels, views, height, width, nx, ny, nz)
    cam = _load_camera(c2w_ptr, image, lanes)
    focal = tl.load(params_ptr + _FOCAL)
    ambient = tl.load(params_ptr + _AMBIENT)
    diffuse = tl.load(params_ptr + _DIFFUSE)
    zero = tl.zeros([BLOCK], focal.dtype)
    acc_r, acc_g, acc_b = zero, zero, zero
    acc_nx, acc_ny, acc_nz = zero, zero, zero
    acc_t = zero
    hits = tl.zeros([BLOCK], tl.int32)
    n_rays = n_sub * n_sub
    for s in range(0, n_rays):
        ox, oy, oz, dx, dy, dz = _camera_ray(cam, row, col, s, n_sub, height, width, focal)
        t = _trace(sdf_ptr, base, nx, ny, nz, params_ptr, ox, oy, oz, dx, dy, dz, lanes, max_steps,
                   refine_steps)
        tl.store(hit_ptr + pix * n_rays + s, t, mask=lanes)
        hit = lanes & (t >= 0.0)
        _, _, _, n, light = _hit(sdf_ptr, base, nx, ny, nz, params_ptr, ox, oy, oz, dx, dy, dz, t, hit,
                                 HEADLIGHT)
        n_dot_l = n[0] * light[0] + n[1] * light[1] + n[2] * light[2]
        lit = ambient + diffuse * tl.maximum(n_dot_l, 0.0)
        acc_r += tl.where(hit, tl.load(params_ptr + _ALBEDO) * lit,
                          tl.load(bg_ptr + image * 3, mask=lanes, other=0.0))
        acc_g += tl.where(hit, tl.load(params_ptr + _ALBEDO + 1) * lit,
                          tl.load(bg_ptr + image * 3 + 1, mask=lanes, other=0.0))
        acc_b += tl.where(hit, tl.load(params_ptr + _ALBEDO + 2) * lit,
                          tl.load(bg_ptr + image * 3 + 2, mask=lanes, other=0.0))
        acc_nx += tl.where(hit, n[0], 0.0)
        acc_ny += tl.where(hit, n[1], 0.0)
        acc_nz += tl.where(hit, n[2], 0.0)
        acc_t += tl.where(hit, t, 0.0)
        hits += hit.to(tl.int32)
    n_hits = tl.maximum(hits, 1).to(focal.dtype)
    rays = _as_float(n_rays, zero)
    tl.store(rgb_ptr + pix * 3, _div(acc_r, rays), mask=lanes)
    tl.store(rgb_ptr + pix * 3 + 1, _div(acc_g, rays), mask=lanes)
    tl.store(rgb_ptr + pix * 3 + 2, _div(acc_b, rays), mask=lanes)
    tl.store(mask_ptr + pix, _div(hits.to(focal.dtype), rays), mask=lanes)
    tl.store(depth_ptr + pix, _div(acc_t, n_hits), mask=lanes)
    tl.store(normal_ptr + pix * 3, _div(acc_nx, n_hits), mask=lanes)
    tl.store(normal_ptr + pix * 3 + 1, _div(acc_ny, n_hits), mask=lanes)
    tl.store(normal_ptr + pix * 3 + 2, _div(acc_nz, n_hits), mask=lanes)


@triton.jit
def _scatter_corner(grad_ptr, off, wx, wy, wz, sx: tl.constexpr, sy: tl.constexpr, sz: tl.constexpr,
                    g_frac, motion, mask):
    """Adds gG . grad(w_c) - motion * w_c to the corner at ``off`` with weights (wx, wy, wz) and signs
    (sx, sy, sz) of d(w)/d(frac); g_frac is gG in index units."""
    value = (sx * g_frac[0] * wy * wz + sy * g_frac[1] * wx * wz + sz * g_frac[2] * wx * wy
             - motion * wx * wy * wz)
    tl.atomic_add(grad_ptr + off, value, mask=mask, sem="relaxed")


@triton.jit
def _backward_kernel(sdf_ptr, nx, ny, nz, c2w_ptr, params_ptr, hit_ptr, g_rgb_ptr, g_depth_ptr,
                     g_normal_ptr, grad_ptr, n_pixels, views, height, width, n_sub,
                     HEADLIGHT: tl.constexpr, BLOCK: tl.constexpr):
    """dL/dtheta_c = gG . grad w_c - (g_t + gG . (H d)) w_c / (G . d) for every hit sub-sample (the
    derivation is in csrc/sdf_render/sdf_render_trace.h, hit_backward)."""
    pix, lanes, image, row, col, base = _pixels(BLOCK, n_pixels, views, height, width, nx, ny, nz)
    cam = _load_camera(c2w_ptr, image, lanes)
    focal = tl.load(params_ptr + _FOCAL)
    diffuse = tl.load(params_ptr + _DIFFUSE)
    scale_x = tl.load(params_ptr + 6)
    scale_y = tl.load(params_ptr + 7)
    scale_z = tl.load(params_ptr + 8)
    n_rays = n_sub * n_sub
    hits = tl.zeros([BLOCK], tl.int32)
    for s in range(0, n_rays):
        t = tl.load(hit_ptr + pix * n_rays + s, mask=lanes, other=-1.0)
        hits += (lanes & (t >= 0.0)).to(tl.int32)
    n_hits = tl.maximum(hits, 1).to(focal.dtype)
    rays = _as_float(n_rays, n_hits)
    g_t = _div(tl.load(g_depth_ptr + pix, mask=lanes, other=0.0), n_hits)
    g_nx = _div(tl.load(g_normal_ptr + pix * 3, mask=lanes, other=0.0), n_hits)
    g_ny = _div(tl.load(g_normal_ptr + pix * 3 + 1, mask=lanes, other=0.0), n_hits)
    g_nz = _div(tl.load(g_normal_ptr + pix * 3 + 2, mask=lanes, other=0.0), n_hits)
    # dL/dlit, the same for every hit of the pixel: sum over channels of dL/drgb * albedo
    g_r = _div(tl.load(g_rgb_ptr + pix * 3, mask=lanes, other=0.0), rays)
    g_g = _div(tl.load(g_rgb_ptr + pix * 3 + 1, mask=lanes, other=0.0), rays)
    g_b = _div(tl.load(g_rgb_ptr + pix * 3 + 2, mask=lanes, other=0.0), rays)
    g_lit = diffuse * (g_r * tl.load(params_ptr + _ALBEDO) + g_g * tl.load(params_ptr + _ALBEDO + 1)
                       + g_b * tl.load(params_ptr + _ALBEDO + 2))
    for s in range(0, n_rays):
        t = tl.load(hit_ptr + pix * n_rays + s, mask=lanes, other=-1.0)
        hit = lanes & (t >= 0.0)
        ox, oy, oz, dx, dy, dz = _camera_ray(cam, row, col, s, n_sub, height, width, focal)
        cell, g, norm, n, light = _hit(sdf_ptr, base, nx, ny, nz, params_ptr, ox, oy, oz, dx, dy, dz, t,
                                       hit, HEADLIGHT)
        off, fx, fy, fz = cell
        lit_on = (n[0] * light[0] + n[1] * light[1] + n[2] * light[2]) > 0.0
        gn_x = g_nx + tl.where(lit_on, g_lit * light[0], 0.0)
        gn_y = g_ny + tl.where(lit_on, g_lit * light[1], 0.0)
        gn_z = g_nz + tl.where(lit_on, g_lit * light[2], 0.0)
        # through n = G / max(|G|, floor)
        unit = norm > _NORMAL_FLOOR
        n_dot_g = n[0] * gn_x + n[1] * gn_y + n[2] * gn_z
        denom = tl.where(unit, norm, _NORMAL_FLOOR)
        gg_x = _div(gn_x - tl.where(unit, n[0] * n_dot_g, 0.0), denom)
        gg_y = _div(gn_y - tl.where(unit, n[1] * n_dot_g, 0.0), denom)
        gg_z = _div(gn_z - tl.where(unit, n[2] * n_dot_g, 0.0), denom)
        # the hit moving along the ray: (H d) from the mixed second differences of the corners
        v000, v001, v010, v011, v100, v101, v110, v111 = load8(sdf_ptr, base + off, ny * nz, nz, 1, hit)
        c00 = v000 * (1.0 - fz) + v001 * fz
        c01 = v010 * (1.0 - fz) + v011 * fz
        c10 = v100 * (1.0 - fz) + v101 * fz
        c11 = v110 * (1.0 - fz) + v111 * fz
        m_xy = (c11 - c10) - (c01 - c00)
        m_xz = (((v101 - v100) * (1.0 - fy) + (v111 - v110) * fy)
                - ((v001 - v000) * (1.0 - fy) + (v011 - v010) * fy))
        m_yz = ((v011 - v010) - (v001 - v000)) * (1.0 - fx) + ((v111 - v110) - (v101 - v100)) * fx
        hd_x = scale_x * (m_xy * scale_y * dy + m_xz * scale_z * dz)
        hd_y = scale_y * (m_xy * scale_x * dx + m_yz * scale_z * dz)
        hd_z = scale_z * (m_xz * scale_x * dx + m_yz * scale_y * dy)
        slope = g[0] * dx + g[1] * dy + g[2] * dz
        moves = hit & (tl.abs(slope) > _SLOPE_FLOOR)
        motion = tl.where(moves, _div(g_t + gg_x * hd_x + gg_y * hd_y + gg_z * hd_z,
                                      tl.where(moves, slope, 1.0)), 0.0)
        g_frac = (gg_x * scale_x, gg_y * scale_y, gg_z * scale_z)
        c000 = base + off  # corners named like load8's values: c<x><y><z>
        c010 = c000 + nz
        c100 = c000 + ny * nz
        c110 = c100 + nz
        _scatter_corner(grad_ptr, c000, 1.0 - fx, 1.0 - fy, 1.0 - fz, -1.0, -1.0, -1.0, g_frac, motion, hit)
        _scatter_corner(grad_ptr, c000 + 1, 1.0 - fx, 1.0 - fy, fz, -1.0, -1.0, 1.0, g_frac, motion, hit)
        _scatter_corner(grad_ptr, c010, 1.0 - fx, fy, 1.0 - fz, -1.0, 1.0, -1.0, g_frac, motion, hit)
        _scatter_corner(grad_ptr, c010 + 1, 1.0 - fx, fy, fz, -1.0, 1.0, 1.0, g_frac, motion, hit)
        _scatter_corner(grad_ptr, c100, fx, 1.0 - fy, 1.0 - fz, 1.0, -1.0, -1.0, g_frac, motion, hit)
        _scatter_corner(grad_ptr, c100 + 1, fx, 1.0 - fy, fz, 1.0, -1.0, 1.0, g_frac, motion, hit)
        _scatter_corner(grad_ptr, c110, fx, fy, 1.0 - fz, 1.0, 1.0, -1.0, g_frac, motion, hit)
        _scatter_corner(grad_ptr, c110 + 1, fx, fy, fz, 1.0, 1.0, 1.0, g_frac, motion, hit)


def _launch(sdf, n_pixels):
    """Grid and options: on the GPU 64 pixels (two warps) per program, as a program marches until its
    slowest lane is done; the CPU interpreter pays per program, so it gets bigger ones."""
    block = 64 if sdf.is_cuda else 256
    return (triton.cdiv(n_pixels, block),), {"BLOCK": block, "num_warps": 2, **COMPILE_OPTIONS}


def _params(sdf, box, view, shade, trace=None):
    """The params tensor: bbox, focal and shading, then (forward only) the trace's scalars."""
    light = shade.light or (0.0, 0.0, 0.0)
    scalars = [view.focal, shade.ambient, shade.diffuse, *shade.albedo, *light]
    if trace is not None:
        scalars += [trace.near, trace.far, trace.eps, trace.step_scale, trace.min_step]
    return params(sdf, box, sdf.shape[1:], *scalars)


def sdf_render_forward(sdf, c2w, background, box, view, trace, shade):
    """-> rgb (B, V, H, W, 3), mask, depth (B, V, H, W), normal (B, V, H, W, 3), hit_t (B, V, H, W, S*S)."""
    sdf, c2w, background = sdf.contiguous(), c2w.contiguous(), background.contiguous()
    image = (sdf.shape[0], c2w.shape[1], view.height, view.width)
    rgb, normal = sdf.new_empty(*image, 3), sdf.new_empty(*image, 3)
    mask, depth = sdf.new_empty(image), sdf.new_empty(image)
    hit_t = sdf.new_empty(*image, view.supersample ** 2)
    n_pixels = mask.numel()
    if n_pixels:
        grid, options = _launch(sdf, n_pixels)
        with device_guard(sdf):
            _forward_kernel[grid](
                sdf, *sdf.shape[1:], c2w, background, _params(sdf, box, view, shade, trace), rgb, mask, depth,
                normal, hit_t, n_pixels, c2w.shape[1], view.height, view.width, view.supersample,
                trace.max_steps, trace.refine_steps, HEADLIGHT=shade.light is None, **options)
    return rgb, mask, depth, normal, hit_t


def sdf_render_backward(sdf, c2w, hit_t, grad_rgb, grad_depth, grad_normal, box, view, shade):
    """-> grad_sdf (B, X, Y, Z): the hits saved in hit_t scatter their implicit-function gradients."""
    sdf, c2w = sdf.contiguous(), c2w.contiguous()
    grad_sdf = torch.zeros_like(sdf)
    n_pixels = grad_depth.numel()
    if n_pixels:
        grid, options = _launch(sdf, n_pixels)
        with device_guard(sdf):
            _backward_kernel[grid](
                sdf, *sdf.shape[1:], c2w, _params(sdf, box, view, shade), hit_t.contiguous(),
                grad_rgb.contiguous(), grad_depth.contiguous(), grad_normal.contiguous(), grad_sdf, n_pixels,
                c2w.shape[1], view.height, view.width, view.supersample, HEADLIGHT=shade.light is None,
                **options)
    return grad_sdf
