"""Fused DVGO volume renderer: per-ray march, BLOCK rays per program, one lane per ray.

Forward: a count kernel (kept samples per ray and T_final), a cumsum for the packed offsets, then a fill
kernel that re-marches and writes each kept sample at its ray's offset. Backward: one re-march per ray
that walks the ray's kept samples by step_ids and scatters dL/draw to the density grid with atomics.
All three kernels take each step through the same ``_ray`` / ``_sample`` helpers, so they see the
same samples, transmittance and early termination. Math: docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from dream3d.ops.volume_render_ref import March

from ._grid import gather8, locate, scatter8
from ._launch import COMPILE_OPTIONS, device_guard, params
from ._math import softplus

BLOCK_RAYS = 128
_OPTIONS = {"BLOCK": BLOCK_RAYS, "num_warps": 4, **COMPILE_OPTIONS}

# March's fields, stored in order after the bbox and its scales in the params tensor (see _launch.params)
_FIELD = {name: 9 + i for i, name in enumerate(March._fields)}
_STEP = tl.constexpr(_FIELD["step_size"])
_SHIFT = tl.constexpr(_FIELD["act_shift"])
_INTERVAL = tl.constexpr(_FIELD["interval"])
_NEAR = tl.constexpr(_FIELD["near"])
_FAR = tl.constexpr(_FIELD["far"])
_T_THRES = tl.constexpr(_FIELD["t_thres"])
_W_THRES = tl.constexpr(_FIELD["weight_thres"])


@triton.jit
def _div(a, b):
    """a / b correctly rounded, like torch (a plain float32 '/' is approximate on the GPU); the ray
    bounds and the sample count depend on it, so it must round like the reference."""
    if a.dtype == tl.float32:
        q = tl.div_rn(a, b)
    else:
        q = a / b
    return q


@triton.jit
def _slab(o, d, lo, hi, near, far):
    """[t_lo, t_hi] of one axis' slab lo <= o + t d <= hi. An axis-parallel ray (d == 0) is inside the
    slab for all t when lo <= o <= hi and never otherwise; ``near``/``far`` stand in for -inf/+inf,
    which is equivalent after the clip to [near, far]."""
    parallel = d == 0.0
    inv_d = _div(tl.full(d.shape, 1.0, d.dtype), tl.where(parallel, 1.0, d))
    t_a = (lo - o) * inv_d
    t_b = (hi - o) * inv_d
    inside = (o >= lo) & (o <= hi)
    t_lo = tl.where(parallel, tl.where(inside, near, far), tl.minimum(t_a, t_b))
    t_hi = tl.where(parallel, tl.where(inside, far, near), tl.maximum(t_a, t_b))
    return t_lo, t_hi


@triton.jit
def _ray_box(ox, oy, oz, dx, dy, dz, params_ptr, near, far):
    """[t_near, t_far]: the ray's overlap with the bbox (params 0-2 its min, 3-5 its max) clipped to
    [near, far]; empty (t_near >= t_far) on a miss."""
    lo_x, hi_x = _slab(ox, dx, tl.load(params_ptr + 0), tl.load(params_ptr + 3), near, far)
    lo_y, hi_y = _slab(oy, dy, tl.load(params_ptr + 1), tl.load(params_ptr + 4), near, far)
    lo_z, hi_z = _slab(oz, dz, tl.load(params_ptr + 2), tl.load(params_ptr + 5), near, far)
    t_near = tl.maximum(tl.maximum(tl.maximum(lo_x, lo_y), lo_z), near)
    t_far = tl.minimum(tl.minimum(tl.minimum(hi_x, hi_y), hi_z), far)
    return t_near, t_far


@triton.jit
def _ray(rays_o_ptr, rays_d_ptr, params_ptr, rows, row_mask):
    """Origins, directions, [t_near, t_far] and sample count of the rays in ``rows`` (0 samples on a
    miss and on masked-off lanes)."""
    ox = tl.load(rays_o_ptr + rows * 3 + 0, mask=row_mask, other=0.0)
    oy = tl.load(rays_o_ptr + rows * 3 + 1, mask=row_mask, other=0.0)
    oz = tl.load(rays_o_ptr + rows * 3 + 2, mask=row_mask, other=0.0)
    dx = tl.load(rays_d_ptr + rows * 3 + 0, mask=row_mask, other=0.0)
    dy = tl.load(rays_d_ptr + rows * 3 + 1, mask=row_mask, other=0.0)
    dz = tl.load(rays_d_ptr + rows * 3 + 2, mask=row_mask, other=0.0)
    near = tl.load(params_ptr + _NEAR)
    far = tl.load(params_ptr + _FAR)
    step = tl.load(params_ptr + _STEP)
    t_near, t_far = _ray_box(ox, oy, oz, dx, dy, dz, params_ptr, near, far)
    span = t_far - t_near
    # the reference's candidate count: ceil(span / step) + 1 (a quotient rounded onto an integer n can
    # leave t_n < t_far); samples need t < t_far (see _sample). On the GPU tl.ceil flushes a subnormal
    # quotient to 0 (cvt.rpi.ftz) where IEEE gives 1: the + 1 covers it.
    q = _div(span, step)
    n_steps = tl.where(row_mask & (span > 0) & (q > 0), tl.ceil(q) + 1.0, 0.0).to(tl.int32)
    return ox, oy, oz, dx, dy, dz, t_near, t_far, n_steps


@triton.jit
def _sample(density_ptr, sx, sy, sz, nx, ny, nz, params_ptr,
            ox, oy, oz, dx, dy, dz, t_near, t_far, n_steps, trans, k):
    """Sample k of every lane: its t, whether the lane marches it, the trilinear cell of the point
    (ix, iy, iz, fx, fy, fz), the shifted raw density x = raw + act_shift and 1 - alpha (1 where the
    lane does not march it)."""
    step = tl.load(params_ptr + _STEP)
    t = t_near + k * step
    px = ox + t * dx
    py = oy + t * dy
    pz = oz + t * dz
    ix, iy, iz, fx, fy, fz, inside = locate(px, py, pz, params_ptr, nx, ny, nz)
    # a sample that rounding puts outside the closed bbox is empty: alpha = 0, never kept, no gradient
    active = (k < n_steps) & (t < t_far) & (trans >= tl.load(params_ptr + _T_THRES)) & inside
    raw = gather8(density_ptr, ix * sx + iy * sy + iz * sz, sx, sy, sz, fx, fy, fz, active)
    x = raw + tl.load(params_ptr + _SHIFT)
    one_minus_alpha = tl.where(active, tl.exp(-(softplus(x) * tl.load(params_ptr + _INTERVAL))), 1.0)
    return t, active, (ix, iy, iz, fx, fy, fz), x, one_minus_alpha


@triton.jit
def _marching(k, n_steps, trans, t_thres):
    """Whether any lane may still march sample k (lets a block of opaque rays stop early)."""
    return tl.max(((k < n_steps) & (trans >= t_thres)).to(tl.int32), axis=0) > 0


@triton.jit
def _march_kernel(density_ptr, sx, sy, sz, nx, ny, nz, rays_o_ptr, rays_d_ptr, params_ptr,
                  counts_ptr, t_final_ptr, offsets_ptr, ray_ids_ptr, step_ids_ptr, t_ptr, weights_ptr,
                  n_rays, FILL: tl.constexpr, BLOCK: tl.constexpr):
    """The forward march, twice: FILL=False stores the kept samples per ray (int64) and T_final;
    FILL=True writes each ray's kept samples at ray_offsets[ray] onwards, in step order."""
    rows = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)  # int64: rows * 3
    row_mask = rows < n_rays
    ox, oy, oz, dx, dy, dz, t_near, t_far, n_steps = _ray(rays_o_ptr, rays_d_ptr, params_ptr, rows,
                                                          row_mask)
    t_thres = tl.load(params_ptr + _T_THRES)
    w_thres = tl.load(params_ptr + _W_THRES)
    if FILL:
        pos = tl.load(offsets_ptr + rows, mask=row_mask, other=0)
        end = tl.load(offsets_ptr + rows + 1, mask=row_mask, other=0)
    else:
        pos = tl.zeros([BLOCK], tl.int64)
        end = pos
    trans = tl.full([BLOCK], 1.0, params_ptr.dtype.element_ty)
    k = 0
    go = _marching(k, n_steps, trans, t_thres)
    while go:
        t, active, _, _, one_minus_alpha = _sample(density_ptr, sx, sy, sz, nx, ny, nz, params_ptr,
                                                   ox, oy, oz, dx, dy, dz, t_near, t_far, n_steps,
                                                   trans, k)
        w = trans * (1.0 - one_minus_alpha)
        keep = active & (w > w_thres)
        if FILL:
            keep = keep & (pos < end)  # only guards memory: the count pass marched the same samples
            tl.store(ray_ids_ptr + pos, rows.to(tl.int64), mask=keep)
            tl.store(step_ids_ptr + pos, tl.zeros([BLOCK], tl.int32) + k, mask=keep)
            tl.store(t_ptr + pos, t, mask=keep)
            tl.store(weights_ptr + pos, w, mask=keep)
        pos += keep.to(tl.int64)
        trans = trans * one_minus_alpha
        k += 1
        go = _marching(k, n_steps, trans, t_thres)
    if not FILL:
        tl.store(counts_ptr + rows, pos, mask=row_mask)
        tl.store(t_final_ptr + rows, trans, mask=row_mask)


@triton.jit
def _backward_kernel(density_ptr, sx, sy, sz, nx, ny, nz, rays_o_ptr, rays_d_ptr, params_ptr,
                     grad_ptr, gsx, gsy, gsz, offsets_ptr, step_ids_ptr, weights_ptr, t_final_ptr,
                     grad_w_ptr, grad_t_final_ptr, n_rays, BLOCK: tl.constexpr):
    """dL/draw_k = interval * sigmoid(x_k) * (g_k T_k (1 - alpha_k) - (A - P_k)) scattered to the grid."""
    rows = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)  # int64: rows * 3
    row_mask = rows < n_rays
    ox, oy, oz, dx, dy, dz, t_near, t_far, n_steps = _ray(rays_o_ptr, rays_d_ptr, params_ptr, rows,
                                                          row_mask)
    t_thres = tl.load(params_ptr + _T_THRES)
    interval = tl.load(params_ptr + _INTERVAL)
    start = tl.load(offsets_ptr + rows, mask=row_mask, other=0)
    end = tl.load(offsets_ptr + rows + 1, mask=row_mask, other=0)

    # A = g_T T_final + sum over the ray's kept samples of g w (saved weights)
    total = (tl.load(grad_t_final_ptr + rows, mask=row_mask, other=0.0)
             * tl.load(t_final_ptr + rows, mask=row_mask, other=0.0))
    n_kept = end - start
    for j in range(0, tl.max(n_kept, axis=0)):
        m = j < n_kept
        total += (tl.load(grad_w_ptr + start + j, mask=m, other=0.0)
                  * tl.load(weights_ptr + start + j, mask=m, other=0.0))

    prefix = tl.zeros_like(total)  # P_k = sum_{j <= k, kept} g_j w_j
    ptr = start  # the next kept sample of each lane
    trans = tl.full([BLOCK], 1.0, params_ptr.dtype.element_ty)
    k = 0
    go = _marching(k, n_steps, trans, t_thres)
    while go:
        _, active, cell, x, one_minus_alpha = _sample(density_ptr, sx, sy, sz, nx, ny, nz, params_ptr,
                                                      ox, oy, oz, dx, dy, dz, t_near, t_far, n_steps,
                                                      trans, k)
        ix, iy, iz, fx, fy, fz = cell
        next_step = tl.load(step_ids_ptr + ptr, mask=active & (ptr < end), other=-1)
        kept = active & (next_step == k)
        g = tl.load(grad_w_ptr + ptr, mask=kept, other=0.0)
        prefix += g * tl.load(weights_ptr + ptr, mask=kept, other=0.0)
        grad_raw = interval * tl.sigmoid(x) * (g * trans * one_minus_alpha - (total - prefix))
        scatter8(grad_ptr, ix * gsx + iy * gsy + iz * gsz, gsx, gsy, gsz, fx, fy, fz, grad_raw,
                 active)
        ptr += kept.to(tl.int64)
        trans = trans * one_minus_alpha
        k += 1
        go = _marching(k, n_steps, trans, t_thres)


def _common_args(density, rays_o, rays_d, box, march):
    p = params(density, box, density.shape, *march)
    return (density, *density.stride(), *density.shape, rays_o, rays_d, p)


def render_forward(density, rays_o, rays_d, box, march):
    """-> ray_ids int64[N], step_ids int32[N], t[N], weights[N], T_final[R], ray_offsets int64[R+1]."""
    n_rays = rays_o.shape[0]
    device, dtype = density.device, density.dtype
    counts = torch.empty(n_rays, dtype=torch.int64, device=device)  # both written for every ray
    t_final = torch.empty(n_rays, dtype=dtype, device=device)
    args = _common_args(density, rays_o, rays_d, box, march)
    grid = (triton.cdiv(n_rays, BLOCK_RAYS),)
    with device_guard(density):
        if n_rays:
            _march_kernel[grid](*args, counts, t_final, counts, counts, counts, t_final, t_final, n_rays,
                                FILL=False, **_OPTIONS)  # the unused sample pointers are placeholders
        ray_offsets = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
        n_samples = int(ray_offsets[-1].item())  # the one host sync: sizes the packed outputs
        ray_ids = torch.empty(n_samples, dtype=torch.int64, device=device)
        step_ids = torch.empty(n_samples, dtype=torch.int32, device=device)
        t = torch.empty(n_samples, dtype=dtype, device=device)
        weights = torch.empty(n_samples, dtype=dtype, device=device)
        if n_samples:
            _march_kernel[grid](*args, counts, t_final, ray_offsets, ray_ids, step_ids, t, weights, n_rays,
                                FILL=True, **_OPTIONS)
    return ray_ids, step_ids, t, weights, t_final, ray_offsets


def render_backward(density, rays_o, rays_d, box, march, ray_offsets, step_ids, weights, T_final,
                    grad_weights, grad_T_final):
    """-> grad_density, shaped like density. Samples not in the packed set get dL/dw = 0."""
    n_rays = rays_o.shape[0]
    grad_density = torch.zeros_like(density)  # scattered into with its own strides
    if n_rays:
        args = _common_args(density, rays_o, rays_d, box, march)
        with device_guard(density):
            _backward_kernel[(triton.cdiv(n_rays, BLOCK_RAYS),)](
                *args, grad_density, *grad_density.stride(), ray_offsets.contiguous(),
                step_ids.contiguous(), weights.contiguous(), T_final.contiguous(),
                grad_weights.contiguous(), grad_T_final.contiguous(), n_rays, **_OPTIONS)
    return grad_density
