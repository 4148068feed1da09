"""Elementwise SDF ops: SDF-to-density initialisation (paper eq. 9) with its backward, and the
shape-prior-preserving loss (eq. 4) with its gradient in the same pass. Math: csrc/sdf_density."""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._launch import COMPILE_OPTIONS, device_guard, scalars
from ._math import div, one_minus_exp_neg, softplus

BLOCK = 1024


@triton.jit
def _density(sdf, beta, shift):
    """V = max(0, softplus^-1(sigmoid(-sdf / beta) / beta) - shift) and dV/dsdf (0 where clamped)."""
    z = div(-sdf, beta)
    # sigmoid(z) and sigmoid(-z) = 1 - sigmoid(z) from one exp of -|z| (no overflow, no cancellation)
    e = tl.exp(-tl.abs(z))
    small = div(e, 1.0 + e)
    large = div(1.0, 1.0 + e)
    s = tl.where(z < 0.0, small, large)
    s_neg = tl.where(z < 0.0, large, small)
    y = div(s, beta)
    one_minus_e = one_minus_exp_neg(tl.maximum(y, 0.0))
    positive_y = y > 0.0
    raw = y + tl.log(tl.where(positive_y, one_minus_e, 1.0)) - shift
    keep = positive_y & (raw > 0.0)
    # s / (1 - exp(-y)) first: far outside both are subnormal and their ratio is ~beta
    dv = div(-div(s, tl.where(keep, one_minus_e, 1.0)) * s_neg, beta * beta)
    return tl.where(keep, raw, 0.0), tl.where(keep, dv, 0.0)


@triton.jit
def _density_kernel(sdf_ptr, scalars_ptr, out_ptr, grad_ptr, n, BACKWARD: tl.constexpr,
                    BLOCK: tl.constexpr):
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < n
    v, dv = _density(tl.load(sdf_ptr + idx, mask=mask, other=0.0), tl.load(scalars_ptr),
                     tl.load(scalars_ptr + 1))
    if BACKWARD:
        tl.store(out_ptr + idx, tl.load(grad_ptr + idx, mask=mask, other=0.0) * dv, mask=mask)
    else:
        tl.store(out_ptr + idx, v, mask=mask)


@triton.jit
def _prior_kernel(density_ptr, sdf_ptr, scalars_ptr, grad_ptr, partial_ptr, count_ptr, n,
                  BLOCK: tl.constexpr):
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < n
    inside = mask & (tl.load(sdf_ptr + idx, mask=mask, other=1.0) < 0.0)
    x = tl.load(density_ptr + idx, mask=mask, other=0.0) + tl.load(scalars_ptr)
    interval = tl.load(scalars_ptr + 1)
    keep = tl.exp(-softplus(x) * interval)  # 1 - alpha
    value = tl.where(inside, keep - 1.0, 0.0)
    tl.store(grad_ptr + idx, tl.where(inside, -interval * tl.sigmoid(x) * keep, 0.0), mask=mask)
    tl.store(partial_ptr + tl.program_id(0), tl.sum(value, axis=0))
    tl.store(count_ptr + tl.program_id(0), tl.sum(inside.to(tl.int64), axis=0))


def _launch_density(sdf, grad, beta, shift, backward):
    sdf = sdf.contiguous()
    out = torch.empty_like(sdf)
    n = sdf.numel()
    if n:
        with device_guard(sdf):
            _density_kernel[(triton.cdiv(n, BLOCK),)](
                sdf, scalars(sdf, beta, shift), out, grad.contiguous() if backward else sdf, n,
                BACKWARD=backward, BLOCK=BLOCK, **COMPILE_OPTIONS)
    return out


def sdf_to_density(sdf, beta, shift):
    return _launch_density(sdf, None, beta, shift, backward=False)


def sdf_to_density_backward(sdf, grad_density, beta, shift):
    return _launch_density(sdf, grad_density, beta, shift, backward=True)


def prior_loss(density, sdf, act_shift, interval):
    """-> (loss = -sum_{sdf < 0} alpha(V), count of voxels with sdf < 0, dloss/dV)."""
    density, sdf = density.contiguous(), sdf.contiguous()
    n = density.numel()
    programs = triton.cdiv(n, BLOCK)
    grad = torch.empty_like(density)
    partial = torch.zeros(programs, dtype=density.dtype, device=density.device)
    count = torch.zeros(programs, dtype=torch.int64, device=density.device)
    if n:
        with device_guard(density):
            _prior_kernel[(programs,)](density, sdf, scalars(density, act_shift, interval), grad,
                                       partial, count, n, BLOCK=BLOCK, **COMPILE_OPTIONS)
    return partial.sum(), count.sum(), grad
