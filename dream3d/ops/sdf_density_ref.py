"""Plain torch references of the SDF-to-density initialisation (paper eq. 9) and the
shape-prior-preserving loss (eq. 4)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    """softplus^-1(y) = y + log(-expm1(-y)): exact for small y (where it is ~log y) and large y (~y)."""
    return y + torch.log(-torch.expm1(-y))


def sigmoid_exact_grad(z: torch.Tensor) -> torch.Tensor:
    """sigmoid(z) whose autograd derivative keeps its relative precision: torch.sigmoid's backward forms
    s (1 - s), and 1 - s cancels where s ~ 1 (3e-8 relative error in float64 at z = 19). Each side is
    written with the exp of a non-positive argument (no overflow, no NaN through the other side)."""
    negative = torch.exp(z.clamp(max=0))
    positive = torch.exp(-z.clamp(min=0))
    return torch.where(z < 0, negative / (1 + negative), 1 / (1 + positive))


def sdf_to_density_ref(sdf: torch.Tensor, beta: float = 0.05, act_shift: float = 0.0) -> torch.Tensor:
    """V = max(0, softplus^-1(Sigma) - act_shift), Sigma = sigmoid(-sdf / beta) / beta.

    With act_shift = 0 this is the paper's eq. 9; with the renderer's act_shift b, softplus(V + b)
    equals Sigma wherever Sigma is above the floor softplus(b) that V >= 0 imposes.
    """
    sigma = sigmoid_exact_grad(-sdf / beta) / beta
    # far outside, Sigma underflows to 0 and softplus^-1 would be -inf with an infinite derivative;
    # evaluating it at a harmless 1 there keeps the masked-out gradient 0 instead of 0 * inf = NaN
    underflow = sigma <= 0
    raw = inverse_softplus(torch.where(underflow, torch.ones_like(sigma), sigma)) - act_shift
    positive = (raw > 0) & ~underflow
    return torch.where(positive, raw, torch.zeros_like(raw))


def prior_alpha(density: torch.Tensor, act_shift: float, interval: float) -> torch.Tensor:
    """The renderer's alpha of a raw density: 1 - exp(-softplus(V + b) * interval)."""
    return -torch.expm1(-F.softplus(density + act_shift) * interval)


def prior_loss_ref(density: torch.Tensor, sdf: torch.Tensor, act_shift: float, interval: float,
                   reduction: str = "sum") -> torch.Tensor:
    """L_prior = -sum over voxels with sdf < 0 of alpha(V); "mean" divides by their number (0 if none)."""
    inside = sdf < 0
    total = -(prior_alpha(density, act_shift, interval) * inside).sum()
    if reduction == "mean":
        total = total / inside.sum().clamp_min(1)
    return total
