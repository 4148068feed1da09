"""StyleGAN2's building blocks in 3D: equalised-learning-rate linear and convolution layers, modulated
convolution with weight demodulation, per-voxel noise."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LRELU_GAIN = math.sqrt(2.0)  # keeps activations' magnitude through leaky ReLU 0.2 (StyleGAN)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqualLinear(nn.Module):
    """A linear layer whose weights are stored N(0, 1) / lr_mult and scaled at run time by
    lr_mult / sqrt(fan_in): Adam then moves every layer at the same relative speed, and lr_mult < 1
    slows the mapping network (StyleGAN's equalised learning rate)."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mult: float = 1.0,
                 activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mult)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init) / lr_mult))
        self.scale, self.lr_mult, self.activate = lr_mult / math.sqrt(in_dim), lr_mult, activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale, self.bias * self.lr_mult)
        return lrelu(out) if self.activate else out


class EqualConv3d(nn.Module):
    """A 3D convolution with an equalised learning rate (the discriminators' layer); ``down`` halves the
    resolution with a stride-2 convolution."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, down: bool = False, activate: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.scale, self.stride, self.padding = 1 / math.sqrt(in_ch * kernel ** 3), 2 if down else 1, kernel // 2
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv3d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)
        return lrelu(out) if self.activate else out


class ModulatedConv3d(nn.Module):
    """A k^3 convolution whose input channels are scaled per sample by a style (an affine map of w),
    then demodulated (each output channel's weights normalised to unit norm per sample), run as one
    grouped convolution over the batch."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, w_dim: int, demodulate: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel, kernel))
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)  # styles start at 1: the plain convolution
        self.scale, self.padding, self.demodulate = 1 / math.sqrt(in_ch * kernel ** 3), kernel // 2, demodulate
        self.in_ch, self.out_ch = in_ch, out_ch

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        style = self.affine(w)  # (B, in)
        weight = self.weight[None] * self.scale * style[:, None, :, None, None, None]  # (B, out, in, k, k, k)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4, 5), keepdim=True) + 1e-8)
        out = F.conv3d(x.reshape(1, batch * self.in_ch, *x.shape[2:]),
                       weight.reshape(batch * self.out_ch, *weight.shape[2:]), padding=self.padding, groups=batch)
        return out.reshape(batch, self.out_ch, *out.shape[2:])


class NoiseInjection(nn.Module):
    """Adds per-voxel Gaussian noise scaled by a learned weight (0 at start). mode 'random' draws fresh
    noise from torch's global generator, 'const' uses a fixed buffer (the same w gives the same shape),
    'none' adds nothing."""

    def __init__(self, resolution: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))
        self.register_buffer("const", torch.randn(1, 1, resolution, resolution, resolution))

    def forward(self, x: torch.Tensor, mode: str = "random") -> torch.Tensor:
        if mode == "none":
            return x
        if mode == "const":
            noise = self.const
        elif mode == "random":
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        else:
            raise ValueError(f"noise mode must be 'random', 'const' or 'none', got {mode!r}")
        return x + self.weight * noise


class StyledConv(nn.Module):
    """Modulated convolution, noise, bias, leaky ReLU: one synthesis layer."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int):
        super().__init__()
        self.conv = ModulatedConv3d(in_ch, out_ch, 3, w_dim)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        return lrelu(self.noise(self.conv(x, w), noise_mode) + self.bias)


class ToFeatures(nn.Module):
    """A 1^3 modulated convolution (no demodulation) to the feature channels: each block's contribution."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv3d(in_ch, out_ch, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias
