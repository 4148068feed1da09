"""G_S's synthesis network: per-layer styles -> a C-channel feature volume (StyleGAN2's skip
architecture in 3D)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import StyledConv, ToFeatures


def upsample2(x: torch.Tensor) -> torch.Tensor:
    """x2 trilinear upsampling; corners stay in place (align_corners), the grids' convention."""
    return F.interpolate(x, scale_factor=2, mode="trilinear", align_corners=True)


class SynthesisBlock(nn.Module):
    """[x2 upsampling,] two styled 3^3 convolutions and a to-feature layer."""

    def __init__(self, in_ch: int, out_ch: int, feature_ch: int, w_dim: int, resolution: int, first: bool):
        super().__init__()
        self.first = first
        self.conv0 = StyledConv(in_ch, out_ch, w_dim, resolution)
        self.conv1 = StyledConv(out_ch, out_ch, w_dim, resolution)
        self.to_features = ToFeatures(out_ch, feature_ch, w_dim)

    def forward(self, x, features, ws, noise_mode):
        if not self.first:
            x = upsample2(x)
        x = self.conv0(x, ws[:, 0], noise_mode)
        x = self.conv1(x, ws[:, 1], noise_mode)
        out = self.to_features(x, ws[:, 2])
        return x, out if features is None else upsample2(features) + out


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, w_dim) -> features (B, C, R, R, R), R = 4 * 2^(blocks - 1), from a learned 4^3
    constant. Block b uses styles 2b and 2b+1 for its convolutions and 2b+2 for its to-feature layer
    (shared with the next block's first convolution, as in StyleGAN2)."""

    def __init__(self, w_dim: int, channels: tuple[int, ...], feature_channels: int):
        super().__init__()
        self.const = nn.Parameter(torch.randn(1, channels[0], 4, 4, 4))
        self.blocks = nn.ModuleList(
            SynthesisBlock(channels[max(b - 1, 0)], channels[b], feature_channels, w_dim, 4 * 2 ** b, b == 0)
            for b in range(len(channels)))
        self.num_ws = 2 * len(channels) + 1
        self.resolution = 4 * 2 ** (len(channels) - 1)
        self.w_dim = w_dim

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        if ws.dim() == 2:
            ws = ws[:, None].expand(-1, self.num_ws, -1)
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be (B, {self.w_dim}) or (B, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        x, features = self.const.expand(ws.shape[0], -1, -1, -1, -1), None
        for b, block in enumerate(self.blocks):
            x, features = block(x, features, ws[:, 2 * b:2 * b + 3], noise_mode)
        return features
