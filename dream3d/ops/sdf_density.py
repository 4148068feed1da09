"""SDF-to-density initialisation (paper eq. 9) and the shape-prior-preserving loss (eq. 4):
public entry points, autograd and dispatch."""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from . import _checks, _dispatch
from .sdf_density_ref import prior_loss_ref, sdf_to_density_ref

REDUCTIONS = ("sum", "mean")


class _FusedSDFToDensity(torch.autograd.Function):
    @staticmethod
    def forward(ctx, sdf, kernels, beta, shift):
        ctx.save_for_backward(sdf)
        ctx.kernels, ctx.beta, ctx.shift = kernels, beta, shift
        return kernels.sdf_to_density(sdf, beta, shift)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_density):
        (sdf,) = ctx.saved_tensors
        grad = ctx.kernels.sdf_to_density_backward(sdf, grad_density.contiguous(), ctx.beta, ctx.shift)
        return grad, None, None, None


class _FusedPriorLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, density, sdf, kernels, act_shift, interval, mean):
        loss, count, grad = kernels.prior_loss(density, sdf, act_shift, interval)
        if mean:
            scale = 1.0 / count.clamp_min(1).to(loss.dtype)
            loss, grad = loss * scale, grad * scale
        ctx.save_for_backward(grad)  # computed with the loss: the backward only scales it
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        (grad,) = ctx.saved_tensors
        return grad * grad_loss, None, None, None, None, None


def sdf_to_density(sdf: torch.Tensor, beta: float = 0.05, act_shift: float | None = None,
                   backend: str = "auto") -> torch.Tensor:
    """Raw DVGO density of an SDF grid (paper eq. 9): V = max(0, softplus^-1(Sigma)),
    Sigma = sigmoid(-sdf / beta) / beta, elementwise (any shape).

    Sigma is 1 / (2 beta) on the surface, 1 / beta deep inside and 0 far outside; V is monotone
    (non-increasing) in sdf and finite for any finite sdf.

    act_shift: ``None`` keeps the paper's form. Given the renderer's shift b, the result is
    max(0, softplus^-1(Sigma) - b) instead, so that the rendered density softplus(V + b) equals Sigma
    exactly wherever Sigma is above softplus(b) (the floor V >= 0 imposes: alpha_init's density);
    with the paper's form the rendered density is softplus(softplus^-1(Sigma) + b), biased by b.

    Differentiable in ``sdf``.
    """
    _checks.check_tensor("sdf", sdf)
    if sdf.numel() == 0:
        raise ValueError("sdf is empty")
    _checks.check_finite("sdf", sdf.detach())
    beta = _checks.check_positive("beta", beta)
    shift = 0.0 if act_shift is None else _checks.check_number("act_shift", act_shift)
    name = _dispatch.resolve(backend, sdf.device)
    if name == "torch":
        return sdf_to_density_ref(sdf, beta, shift)
    return _FusedSDFToDensity.apply(sdf, _dispatch.kernels_for(name), beta, shift)


def prior_loss(density: torch.Tensor, sdf: torch.Tensor, *, act_shift: float, interval: float,
               reduction: str = "sum", backend: str = "auto") -> torch.Tensor:
    """Shape-prior-preserving loss (paper eq. 4): -sum over voxels with sdf < 0 of alpha(V), where
    alpha(V) = 1 - exp(-softplus(V + act_shift) * interval) is the renderer's alpha.

    reduction: "sum", or "mean" over the voxels with sdf < 0 (0 when there are none). Loss and
    gradient come from one fused pass; differentiable in ``density`` (``sdf`` only selects voxels).
    """
    _checks.check_tensor("density", density)
    _checks.check_tensor("sdf", sdf)
    if sdf.shape != density.shape:
        raise ValueError(f"sdf must have the shape of density {tuple(density.shape)}, got {tuple(sdf.shape)}")
    _checks.check_same(("density", "sdf"), (density, sdf))
    if density.numel() == 0:
        raise ValueError("density is empty")
    _checks.check_finite("sdf", sdf.detach())
    act_shift = _checks.check_number("act_shift", act_shift)
    interval = _checks.check_positive("interval", interval)
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    name = _dispatch.resolve(backend, density.device)
    if name == "torch":
        return prior_loss_ref(density, sdf, act_shift, interval, reduction)
    return _FusedPriorLoss.apply(density, sdf.detach(), _dispatch.kernels_for(name), act_shift, interval,
                                 reduction == "mean")
