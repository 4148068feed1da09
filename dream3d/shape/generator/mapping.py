"""G_S's mapping network: z -> w."""
from __future__ import annotations

import torch
import torch.nn as nn

from .layers import EqualLinear


def normalize_second_moment(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """z / sqrt(mean(z^2)) per sample (StyleGAN's pixel norm): the mapping sees every z at one scale."""
    return z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + eps)


class MappingNetwork(nn.Module):
    """z (B, z_dim) -> w (B, w_dim): normalised z through ``layers`` equalised linear layers with a
    reduced learning rate and leaky ReLU 0.2. Tracks the running mean of w for truncation."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mult: float, w_avg_beta: float = 0.995,
                 eps: float = 1e-8):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.Sequential(*[EqualLinear(a, b, lr_mult=lr_mult, activate=True) for a, b in zip(dims, dims[1:])])
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.z_dim, self.w_dim, self.w_avg_beta, self.eps = z_dim, w_dim, w_avg_beta, eps

    def forward(self, z: torch.Tensor, truncation: float = 1.0, update_w_avg: bool = False) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be (B, {self.z_dim}), got shape {tuple(z.shape)}")
        w = self.net(normalize_second_moment(z, self.eps))
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().float().mean(0), 1 - self.w_avg_beta)
        if truncation != 1.0:
            w = self.w_avg.to(w.dtype).lerp(w, truncation)
        return w
