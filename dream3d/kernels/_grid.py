"""Shared @triton.jit helpers: locating a point in a grid's trilinear cell (align_corners=True), and the
8-corner gather, derivative and scatter-add on a strided grid.

The helpers are shape-generic: offsets, fractions and masks broadcast, so the same code serves one
value per ray lane (volume renderer) and a [points, channels] tile (trilinear gather).
"""
from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def axis_cell(p, lo, hi, scale, n):
    """Along one axis: the cell's lower corner index in [0, n - 2], the fraction in [0, 1] and whether
    p lies in the closed [lo, hi]. ``scale`` is (n - 1) / (hi - lo)."""
    u = (p - lo) * scale
    # clamp while still floating point, so a far-away point cannot overflow the integer cast
    i0 = tl.minimum(tl.maximum(tl.floor(u), 0.0), n - 2)
    f = tl.minimum(tl.maximum(u - i0, 0.0), 1.0)
    return i0.to(tl.int64), f, (p >= lo) & (p <= hi)


@triton.jit
def load_box(params_ptr):
    """The bbox corners and index scales stored first in a params tensor (see ``_launch.params``)."""
    lo_x = tl.load(params_ptr + 0)
    lo_y = tl.load(params_ptr + 1)
    lo_z = tl.load(params_ptr + 2)
    hi_x = tl.load(params_ptr + 3)
    hi_y = tl.load(params_ptr + 4)
    hi_z = tl.load(params_ptr + 5)
    scale_x = tl.load(params_ptr + 6)
    scale_y = tl.load(params_ptr + 7)
    scale_z = tl.load(params_ptr + 8)
    return lo_x, lo_y, lo_z, hi_x, hi_y, hi_z, scale_x, scale_y, scale_z


@triton.jit
def locate(px, py, pz, params_ptr, nx, ny, nz):
    """Cell indices (ix, iy, iz), fractions (fx, fy, fz) and the inside-the-closed-bbox mask of points."""
    lo_x, lo_y, lo_z, hi_x, hi_y, hi_z, scale_x, scale_y, scale_z = load_box(params_ptr)
    ix, fx, in_x = axis_cell(px, lo_x, hi_x, scale_x, nx)
    iy, fy, in_y = axis_cell(py, lo_y, hi_y, scale_y, ny)
    iz, fz, in_z = axis_cell(pz, lo_z, hi_z, scale_z, nz)
    return ix, iy, iz, fx, fy, fz, in_x & in_y & in_z


@triton.jit
def load8(ptr, off, sx, sy, sz, mask):
    """The 8 corner values of the cell whose lower corner sits at element offset ``off``; 0 where ~mask.
    Named v<x><y><z> with 1 for the upper corner along that axis."""
    v000 = tl.load(ptr + off, mask=mask, other=0.0)
    v001 = tl.load(ptr + off + sz, mask=mask, other=0.0)
    v010 = tl.load(ptr + off + sy, mask=mask, other=0.0)
    v011 = tl.load(ptr + off + sy + sz, mask=mask, other=0.0)
    v100 = tl.load(ptr + off + sx, mask=mask, other=0.0)
    v101 = tl.load(ptr + off + sx + sz, mask=mask, other=0.0)
    v110 = tl.load(ptr + off + sx + sy, mask=mask, other=0.0)
    v111 = tl.load(ptr + off + sx + sy + sz, mask=mask, other=0.0)
    return v000, v001, v010, v011, v100, v101, v110, v111


@triton.jit
def gather8(ptr, off, sx, sy, sz, fx, fy, fz, mask):
    """Trilinear value inside the cell at ``off`` with fractions (fx, fy, fz); 0 where ~mask."""
    v000, v001, v010, v011, v100, v101, v110, v111 = load8(ptr, off, sx, sy, sz, mask)
    c00 = v000 * (1.0 - fz) + v001 * fz
    c01 = v010 * (1.0 - fz) + v011 * fz
    c10 = v100 * (1.0 - fz) + v101 * fz
    c11 = v110 * (1.0 - fz) + v111 * fz
    c0 = c00 * (1.0 - fy) + c01 * fy
    c1 = c10 * (1.0 - fy) + c11 * fy
    return c0 * (1.0 - fx) + c1 * fx


@triton.jit
def grad8(ptr, off, sx, sy, sz, fx, fy, fz, mask):
    """d(value)/d(fx, fy, fz) of the trilinear interpolant inside the cell at ``off``; 0 where ~mask."""
    v000, v001, v010, v011, v100, v101, v110, v111 = load8(ptr, off, sx, sy, sz, mask)
    c00 = v000 * (1.0 - fz) + v001 * fz
    c01 = v010 * (1.0 - fz) + v011 * fz
    c10 = v100 * (1.0 - fz) + v101 * fz
    c11 = v110 * (1.0 - fz) + v111 * fz
    d_x = (c10 - c00) * (1.0 - fy) + (c11 - c01) * fy
    d_y = (c01 - c00) * (1.0 - fx) + (c11 - c10) * fx
    e0 = (v001 - v000) * (1.0 - fy) + (v011 - v010) * fy
    e1 = (v101 - v100) * (1.0 - fy) + (v111 - v110) * fy
    d_z = e0 * (1.0 - fx) + e1 * fx
    return d_x, d_y, d_z


@triton.jit
def scatter8(ptr, off, sx, sy, sz, fx, fy, fz, g, mask):
    """Atomically adds g times each corner's trilinear weight to the 8 corners of the cell at ``off``."""
    gx0 = g * (1.0 - fx)
    gx1 = g * fx
    g00 = gx0 * (1.0 - fy)
    g01 = gx0 * fy
    g10 = gx1 * (1.0 - fy)
    g11 = gx1 * fy
    tl.atomic_add(ptr + off, g00 * (1.0 - fz), mask=mask, sem="relaxed")
    tl.atomic_add(ptr + off + sz, g00 * fz, mask=mask, sem="relaxed")
    tl.atomic_add(ptr + off + sy, g01 * (1.0 - fz), mask=mask, sem="relaxed")
    tl.atomic_add(ptr + off + sy + sz, g01 * fz, mask=mask, sem="relaxed")
    tl.atomic_add(ptr + off + sx, g10 * (1.0 - fz), mask=mask, sem="relaxed")
    tl.atomic_add(ptr + off + sx + sz, g10 * fz, mask=mask, sem="relaxed")
    tl.atomic_add(ptr + off + sx + sy, g11 * (1.0 - fz), mask=mask, sem="relaxed")
    tl.atomic_add(ptr + off + sx + sy + sz, g11 * fz, mask=mask, sem="relaxed")
