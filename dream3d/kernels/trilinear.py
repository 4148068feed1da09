"""Multi-channel trilinear gather of a (C, X, Y, Z) grid at (N, 3) points and its backward.

One program handles BLOCK_N points and loops over the channels in chunks of BLOCK_C (a power of two,
masked past C), so the cell of each point is located once for all channels. Points outside the
closed bbox read 0 and get no gradient.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._grid import grad8, gather8, locate, scatter8
from ._launch import COMPILE_OPTIONS, device_guard, params

# a program's tile is BLOCK_N points x BLOCK_C channels with BLOCK_N * BLOCK_C = TILE: small enough
# that the fp64 backward (8 corners gathered and scattered per element) does not spill on sm_90
TILE = 256
MAX_BLOCK_C = 32


@triton.jit
def _load_points(points_ptr, ps_n, ps_a, rows, row_mask):
    px = tl.load(points_ptr + rows * ps_n, mask=row_mask, other=0.0)
    py = tl.load(points_ptr + rows * ps_n + ps_a, mask=row_mask, other=0.0)
    pz = tl.load(points_ptr + rows * ps_n + 2 * ps_a, mask=row_mask, other=0.0)
    return px, py, pz


@triton.jit
def _forward_kernel(grid_ptr, sc, sx, sy, sz, n_ch, nx, ny, nz, points_ptr, ps_n, ps_a, params_ptr,
                    out_ptr, n_points, BLOCK_N: tl.constexpr, BLOCK_C: tl.constexpr):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_mask = rows < n_points
    px, py, pz = _load_points(points_ptr, ps_n, ps_a, rows, row_mask)
    ix, iy, iz, fx, fy, fz, inside = locate(px, py, pz, params_ptr, nx, ny, nz)
    off = (ix * sx + iy * sy + iz * sz)[:, None]
    load_rows = (row_mask & inside)[:, None]
    store_rows = row_mask[:, None]
    fx, fy, fz = fx[:, None], fy[:, None], fz[:, None]
    for c0 in range(0, n_ch, BLOCK_C):
        ch = (c0 + tl.arange(0, BLOCK_C)[None, :]).to(tl.int64)  # ch * sc passes 2^31 on big grids
        ch_mask = ch < n_ch
        values = gather8(grid_ptr, off + ch * sc, sx, sy, sz, fx, fy, fz, load_rows & ch_mask)
        tl.store(out_ptr + rows[:, None] * n_ch + ch, values, mask=store_rows & ch_mask)


@triton.jit
def _backward_kernel(grid_ptr, sc, sx, sy, sz, n_ch, nx, ny, nz, points_ptr, ps_n, ps_a, params_ptr,
                     grad_values_ptr, gv_n, gv_c, grad_grid_ptr, gsc, gsx, gsy, gsz,
                     grad_points_ptr, n_points, NEED_POINTS_GRAD: tl.constexpr,
                     BLOCK_N: tl.constexpr, BLOCK_C: tl.constexpr):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_mask = rows < n_points
    px, py, pz = _load_points(points_ptr, ps_n, ps_a, rows, row_mask)
    ix, iy, iz, fx, fy, fz, inside = locate(px, py, pz, params_ptr, nx, ny, nz)
    off = (ix * sx + iy * sy + iz * sz)[:, None]
    grad_off = (ix * gsx + iy * gsy + iz * gsz)[:, None]
    rows_in = (row_mask & inside)[:, None]
    fx2, fy2, fz2 = fx[:, None], fy[:, None], fz[:, None]
    # d(loss)/d(fx, fy, fz), summed over channels
    g_fx = tl.zeros([BLOCK_N], fx.dtype)
    g_fy = tl.zeros([BLOCK_N], fx.dtype)
    g_fz = tl.zeros([BLOCK_N], fx.dtype)
    for c0 in range(0, n_ch, BLOCK_C):
        ch = (c0 + tl.arange(0, BLOCK_C)[None, :]).to(tl.int64)  # ch * sc passes 2^31 on big grids
        mask = rows_in & (ch < n_ch)
        g = tl.load(grad_values_ptr + rows[:, None] * gv_n + ch * gv_c, mask=mask, other=0.0)
        scatter8(grad_grid_ptr, grad_off + ch * gsc, gsx, gsy, gsz, fx2, fy2, fz2, g, mask)
        if NEED_POINTS_GRAD:
            d_x, d_y, d_z = grad8(grid_ptr, off + ch * sc, sx, sy, sz, fx2, fy2, fz2, mask)
            g_fx += tl.sum(g * d_x, axis=1)
            g_fy += tl.sum(g * d_y, axis=1)
            g_fz += tl.sum(g * d_z, axis=1)
    if NEED_POINTS_GRAD:
        # df/dp = (n - 1) / (hi - lo) inside the bbox; g is 0 outside, so those rows store 0
        tl.store(grad_points_ptr + rows * 3 + 0, g_fx * tl.load(params_ptr + 6), mask=row_mask)
        tl.store(grad_points_ptr + rows * 3 + 1, g_fy * tl.load(params_ptr + 7), mask=row_mask)
        tl.store(grad_points_ptr + rows * 3 + 2, g_fz * tl.load(params_ptr + 8), mask=row_mask)


def _options(n_ch: int) -> dict:
    block_c = min(triton.next_power_of_2(n_ch), MAX_BLOCK_C)
    return {"BLOCK_N": TILE // block_c, "BLOCK_C": block_c, **COMPILE_OPTIONS}


def trilinear_forward(grid, points, box):
    """-> values[N, C]: the (C, X, Y, Z) grid at the (N, 3) points, 0 outside the closed bbox."""
    n_ch = grid.shape[0]
    n_points = points.shape[0]
    out = torch.empty(n_points, n_ch, dtype=grid.dtype, device=grid.device)
    if n_points and n_ch:
        with device_guard(grid):
            opts = _options(n_ch)
            _forward_kernel[(triton.cdiv(n_points, opts["BLOCK_N"]),)](
                grid, *grid.stride(), *grid.shape, points, *points.stride(),
                params(grid, box, grid.shape[1:]), out, n_points, **opts)
    return out


def trilinear_backward(grid, points, box, grad_values, need_points_grad):
    """-> (grad_grid shaped like grid, grad_points[N, 3] or None)."""
    n_ch = grid.shape[0]
    n_points = points.shape[0]
    grad_grid = torch.zeros_like(grid)
    grad_points = (torch.empty(n_points, 3, dtype=grid.dtype, device=grid.device)
                   if need_points_grad else None)
    if n_points and n_ch:
        with device_guard(grid):
            opts = _options(n_ch)
            _backward_kernel[(triton.cdiv(n_points, opts["BLOCK_N"]),)](
                grid, *grid.stride(), *grid.shape, points, *points.stride(),
                params(grid, box, grid.shape[1:]), grad_values, *grad_values.stride(),
                grad_grid, *grad_grid.stride(), grad_points, n_points,
                NEED_POINTS_GRAD=bool(need_points_grad), **opts)
    return grad_grid, grad_points
