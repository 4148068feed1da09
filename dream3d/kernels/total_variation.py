"""Total variation of a (C, X, Y, Z) grid: loss and exact gradient fused in one pass over the voxels.

loss = sum_a w_a * mean over channels and neighbour pairs along axis a of (v[next] - v)^2. Each voxel
owns the pair to its next neighbour (for the loss) and reads both neighbours (for its gradient), so
every output element is written once; the loss partial sums of the programs are added by torch.sum.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import COMPILE_OPTIONS, device_guard, scalars

BLOCK = 512


@triton.jit
def _axis_terms(grid_ptr, off, v, coord, n, stride, coef, mask):
    """One axis: coef * (v[next] - v)^2 for the pair this voxel owns, and its share of the gradient
    2 coef ((v - v[prev]) - (v[next] - v))."""
    has_next = mask & (coord < n - 1)
    has_prev = mask & (coord > 0)
    d_next = tl.where(has_next, tl.load(grid_ptr + off + stride, mask=has_next, other=0.0) - v, 0.0)
    d_prev = tl.where(has_prev, v - tl.load(grid_ptr + off - stride, mask=has_prev, other=0.0), 0.0)
    return coef * d_next * d_next, 2.0 * coef * (d_prev - d_next)


@triton.jit
def _tv_kernel(grid_ptr, sc, sx, sy, sz, nx, ny, nz, grad_ptr, gsc, gsx, gsy, gsz, coef_ptr,
               partial_ptr, n_elements, BLOCK: tl.constexpr):
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < n_elements
    # divide step by step: idx is int64, while nz * ny * nx would be an int32 product (past 2^31 voxels)
    z = idx % nz
    y = (idx // nz) % ny
    x = (idx // nz // ny) % nx
    c = idx // nz // ny // nx
    off = c * sc + x * sx + y * sy + z * sz
    v = tl.load(grid_ptr + off, mask=mask, other=0.0)
    loss_x, grad_x = _axis_terms(grid_ptr, off, v, x, nx, sx, tl.load(coef_ptr + 0), mask)
    loss_y, grad_y = _axis_terms(grid_ptr, off, v, y, ny, sy, tl.load(coef_ptr + 1), mask)
    loss_z, grad_z = _axis_terms(grid_ptr, off, v, z, nz, sz, tl.load(coef_ptr + 2), mask)
    tl.store(grad_ptr + c * gsc + x * gsx + y * gsy + z * gsz, grad_x + grad_y + grad_z, mask=mask)
    tl.store(partial_ptr + tl.program_id(0), tl.sum(loss_x + loss_y + loss_z, axis=0))


def total_variation(grid, axis_weights):
    """-> (loss, a 0-dim tensor; grad, shaped like grid)."""
    n_ch, nx, ny, nz = grid.shape
    n_elements = grid.numel()
    # w_a / (number of squared differences along a): turns the sums into the reference's means
    pairs = (n_ch * (nx - 1) * ny * nz, n_ch * nx * (ny - 1) * nz, n_ch * nx * ny * (nz - 1))
    coef = scalars(grid, *(w / n for w, n in zip(axis_weights, pairs)))
    grad = torch.empty_like(grid)
    n_programs = triton.cdiv(n_elements, BLOCK)
    partial = torch.zeros(n_programs, dtype=grid.dtype, device=grid.device)
    if n_programs:
        with device_guard(grid):
            _tv_kernel[(n_programs,)](grid, *grid.stride(), nx, ny, nz, grad, *grad.stride(), coef,
                                      partial, n_elements, BLOCK=BLOCK, **COMPILE_OPTIONS)
    return partial.sum(), grad
