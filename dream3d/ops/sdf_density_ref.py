"""Plain torch references of the SDF-to-density initialisation (paper eq. 9) and the
shape-prior-preserving loss (eq. 4)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    """softplus^-1(y) = y + log(-expm1(-y)): exact for small y (where it is ~log y) and large y (~y)."""
    return y + torch.log(-torch.expm1(-y))


def sigmoid_exact_grad(z: torch.Tensor) -> torch.Tensor:
    """sigmoid(z) whose autograd derivative keeps its relative precision everywhere, z = 0 included.

    torch.sigmoid's backward forms s (1 - s), and 1 - s cancels where s ~ 1 (3e-8 relative error in
    float64 at z = 19). Here one e = exp(-|z|) gives s = 1 / (1 + e) for z >= 0 and e / (1 + e) below;
    -|z| is written as a torch.where of -z and z, whose derivative is -1 or +1 on each side (abs' and
    clamp's derivatives at 0 are conventions: 0 in current torch, which zeroed the gradient at z = 0).
    e <= 1 on both sides, so neither branch overflows or sends a NaN through the other."""
    nonnegative = z >= 0
    e = torch.exp(torch.where(nonnegative, -z, z))
    return torch.where(nonnegative, 1 / (1 + e), e / (1 + e))


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
