"""G_S's decoder: features gathered trilinearly (``ops.trilinear``) at query points -> MLP -> SDF."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ... import ops


class SDFDecoder(nn.Module):
    """(B, C, R, R, R) features over [-extent, extent]^3 and points (B, N, 3) or (N, 3) -> SDF (B, N).

    The gather goes through ``ops.trilinear`` (fused kernels; its backward scatters into the feature
    volume, so the synthesis network trains through it). Features are gathered in float32 when autocast
    makes them half precision: the kernels take float32 or float64."""

    def __init__(self, feature_channels: int, hidden: int, layers: int, extent: float):
        super().__init__()
        dims = [feature_channels] + [hidden] * layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        self.out = nn.Linear(dims[-1], 1)
        self.extent = float(extent)

    def gather(self, features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        if features.dim() != 5:
            raise ValueError(f"features must be (B, C, X, Y, Z), got shape {tuple(features.shape)}")
        if points.dim() == 2:
            points = points[None].expand(features.shape[0], -1, -1)
        if points.dim() != 3 or points.shape[0] != features.shape[0] or points.shape[2] != 3:
            raise ValueError(f"points must be (N, 3) or ({features.shape[0]}, N, 3), got {tuple(points.shape)}")
        lo, hi = (-self.extent,) * 3, (self.extent,) * 3
        if features.dtype not in (torch.float32, torch.float64):  # half precision under autocast
            features = features.float()
        points = points.to(features.dtype)
        return torch.stack([ops.trilinear(f, p, lo, hi) for f, p in zip(features, points)])

    def forward(self, features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        x = self.gather(features, points)
        for layer in self.hidden:
            x = F.leaky_relu(layer(x), 0.2)
        return self.out(x)[..., 0]
