"""Positional encoding of positions (NeRF's gamma(x)), the input of the colour MLP (paper eq. 6c)."""
from __future__ import annotations

import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """x -> [x, sin(2^k pi x), cos(2^k pi x) for k < n_frequencies], per coordinate."""

    def __init__(self, n_frequencies: int = 6, include_input: bool = True):
        super().__init__()
        if n_frequencies < 0:
            raise ValueError(f"n_frequencies must be >= 0, got {n_frequencies}")
        self.include_input = include_input
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(n_frequencies), persistent=False)

    def output_dim(self, input_dim: int = 3) -> int:
        return input_dim * (2 * self.frequencies.numel() + int(self.include_input))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = (x[..., None] * self.frequencies.to(x.dtype)).flatten(-2)
        parts = [x] if self.include_input else []
        return torch.cat(parts + [angles.sin(), angles.cos()], dim=-1)
