"""The synthesis network as the official SDF-StyleGAN code builds it (Zheng et al. 2022, github.com/
Zhengxinyang/SDF-StyleGAN, network/generator.py), so that its trained weights run in G_S
(config variant "official", see convert.py). It differs from dream3d's own synthesis.py in detail:
an unmodulated 3^3 convolution after the constant; one style per block shared by its layers, from plain
linear layers and applied as (style + 1); convolution weights used as stored (He-initialised, no run-time
scale); per-channel noise strength and bias (a Linear(1, C)); leaky ReLU 0.2 without gain; x2 upsampling
with align_corners=False, and the feature volume also blurred ([1, 2, 1]^3 / 64, replicated borders).
Parameter names follow the official ones."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

_BLUR = torch.tensor([1.0, 2.0, 1.0])


def upsample2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="trilinear", align_corners=False)


def blur3d(x: torch.Tensor) -> torch.Tensor:
    """Depthwise [1, 2, 1]^3 / 64 filter with replicated borders (kornia's filter3d, normalised)."""
    f = _BLUR.to(x)
    kernel = (f[:, None, None] * f[None, :, None] * f[None, None, :]) / 64.0
    channels = x.shape[1]
    padded = F.pad(x, (1,) * 6, mode="replicate")
    return F.conv3d(padded, kernel.expand(channels, 1, 3, 3, 3), groups=channels)


class Conv3DMod(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, demod: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_ch, in_ch, kernel, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, a=0.2, mode="fan_out", nonlinearity="leaky_relu")
        self.demod, self.out_ch, self.padding = demod, out_ch, kernel // 2

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        weight = self.weight[None] * (style[:, None, :, None, None, None] + 1)
        if self.demod:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4, 5), keepdim=True) + 1e-8)
        out = F.conv3d(x.reshape(1, -1, *x.shape[2:]), weight.reshape(batch * self.out_ch, *weight.shape[2:]),
                       padding=self.padding, groups=batch)
        return out.reshape(batch, self.out_ch, *out.shape[2:])


class FeatureBlock(nn.Module):
    def __init__(self, w_dim: int, in_ch: int, feature_ch: int, upsample: bool):
        super().__init__()
        self.to_style = nn.Linear(w_dim, in_ch)
        self.conv = Conv3DMod(in_ch, feature_ch, 1, demod=False)
        self.upsample = upsample

    def forward(self, x, prev, style):
        x = self.conv(x, self.to_style(style))
        if prev is not None:
            x = x + prev
        return blur3d(upsample2(x)) if self.upsample else x


class OfficialBlock(nn.Module):
    def __init__(self, w_dim: int, in_ch: int, out_ch: int, feature_ch: int, resolution: int, upsample: bool,
                 upsample_feature: bool):
        super().__init__()
        self.upsample = upsample
        self.to_style1, self.to_noise1 = nn.Linear(w_dim, in_ch), nn.Linear(1, out_ch)
        self.conv1 = Conv3DMod(in_ch, out_ch, 3)
        self.to_style2, self.to_noise2 = nn.Linear(w_dim, out_ch), nn.Linear(1, out_ch)
        self.conv2 = Conv3DMod(out_ch, out_ch, 3)
        self.to_feature = FeatureBlock(w_dim, out_ch, feature_ch, upsample_feature)
        for linear in (self.to_noise1, self.to_noise2):  # noise and its bias start at 0, as officially
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution, resolution))

    @staticmethod
    def _noise(linear: nn.Linear, noise: torch.Tensor) -> torch.Tensor:
        # Linear(1, C) on a scalar noise per voxel: a per-channel strength and a per-channel bias
        return noise * linear.weight.view(1, -1, 1, 1, 1) + linear.bias.view(1, -1, 1, 1, 1)

    def forward(self, x, prev, style, noise_mode):
        if self.upsample:
            x = upsample2(x)
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        elif noise_mode == "const":
            noise = self.noise_const
        elif noise_mode == "none":
            noise = torch.zeros((), device=x.device, dtype=x.dtype)
        else:
            raise ValueError(f"noise mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        x = F.leaky_relu(self.conv1(x, self.to_style1(style)) + self._noise(self.to_noise1, noise), 0.2)
        x = F.leaky_relu(self.conv2(x, self.to_style2(style)) + self._noise(self.to_noise2, noise), 0.2)
        return x, self.to_feature(x, prev, style)


class OfficialSynthesisNetwork(nn.Module):
    """ws (B, w_dim) or (B, blocks, w_dim) -> (B, C, R, R, R) features, R = 4 * 2^(blocks - 1)."""

    def __init__(self, w_dim: int, channels: tuple[int, ...], feature_channels: int):
        super().__init__()
        n = len(channels)
        self.initial_block = nn.Parameter(torch.randn(1, channels[0], 4, 4, 4))
        self.initial_conv = nn.Conv3d(channels[0], channels[0], 3, padding=1)
        nn.init.kaiming_normal_(self.initial_conv.weight, a=0.2, mode="fan_in", nonlinearity="leaky_relu")
        self.blocks = nn.ModuleList(
            OfficialBlock(w_dim, channels[max(b - 1, 0)], channels[b], feature_channels, 4 * 2 ** b, b > 0, b < n - 1)
            for b in range(n))
        self.num_ws, self.w_dim, self.resolution = n, w_dim, 4 * 2 ** (n - 1)

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        if ws.dim() == 2:
            ws = ws[:, None].expand(-1, self.num_ws, -1)
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be (B, {self.w_dim}) or (B, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        x = self.initial_conv(self.initial_block.expand(ws.shape[0], -1, -1, -1, -1))
        features = None
        for b, block in enumerate(self.blocks):
            x, features = block(x, features, ws[:, b], noise_mode)
        return features
