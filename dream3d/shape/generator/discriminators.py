"""G_S's two critics: a global one on the whole SDF grid and a local one on patches near the surface,
both fed the SDF and its normalised gradient (4 channels), as SDF-StyleGAN does."""
from __future__ import annotations

import torch
import torch.nn as nn

from .layers import EqualConv3d, EqualLinear


def sdf_with_normals(sdf: torch.Tensor, voxel_size: float) -> torch.Tensor:
    """(B, X, Y, Z) SDF values -> (B, 4, X, Y, Z): the SDF and its unit gradient (central differences
    inside, one-sided at the faces), which shows the critics the surface's orientation."""
    grads = torch.gradient(sdf, spacing=voxel_size, dim=(1, 2, 3))
    grad = torch.stack(grads, dim=1)
    normals = grad * torch.rsqrt(grad.square().sum(dim=1, keepdim=True) + 1e-8)
    return torch.cat([sdf[:, None], normals], dim=1)


class VolumeDiscriminator(nn.Module):
    """(B, 4, R, R, R) -> (B,) realness: a 1^3 input layer, then per block a 3^3 convolution and a
    stride-2 3^3 convolution, then two linear layers."""

    def __init__(self, resolution: int, channels: tuple[int, ...]):
        super().__init__()
        self.resolution = resolution
        layers = [EqualConv3d(4, channels[0], 1)]
        res = resolution
        for i, ch in enumerate(channels):
            nxt = channels[min(i + 1, len(channels) - 1)]
            layers += [EqualConv3d(ch, ch, 3), EqualConv3d(ch, nxt, 3, down=True)]
            res = (res + 1) // 2
        self.convs = nn.Sequential(*layers)
        self.fc = EqualLinear(channels[-1] * res ** 3, channels[-1], activate=True)
        self.out = EqualLinear(channels[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != 4 or tuple(x.shape[2:]) != (self.resolution,) * 3:
            raise ValueError(f"the discriminator takes (B, 4, {self.resolution}, {self.resolution}, "
                             f"{self.resolution}), got {tuple(x.shape)}")
        return self.out(self.fc(self.convs(x).flatten(1)))[:, 0]


def patch_starts(sdf: torch.Tensor, band: float, n_patches: int, patch: int, data_resolution: int) -> torch.Tensor:
    """(B, n_patches, 3) first voxel of each patch on the data_resolution grid over [-1, 1]^3, centred on
    voxels of ``sdf`` (B, R, R, R), also over [-1, 1]^3, with |sdf| < band (the surface); a grid with
    no such voxel uses its 8 voxels of least |sdf|. Draws from torch's global generator."""
    batch, res = sdf.shape[0], sdf.shape[1]
    flat = sdf.detach().abs().reshape(batch, -1)
    # the weight of a voxel: 1 inside the band; outside it, only the nearest few can be drawn
    weights = (flat < band).float()
    nearest = flat.topk(min(8, flat.shape[1]), largest=False).indices
    empty = weights.sum(1) == 0
    weights[empty] = torch.zeros_like(weights[empty]).scatter_(1, nearest[empty], 1.0)
    index = torch.multinomial(weights, n_patches, replacement=True)  # (B, n)
    ijk = torch.stack([index // (res * res), (index // res) % res, index % res], dim=-1).float()
    centre = torch.round(ijk * (data_resolution - 1) / (res - 1)).long()
    return (centre - patch // 2).clamp(0, data_resolution - patch)


def patch_points(starts: torch.Tensor, patch: int, data_resolution: int) -> torch.Tensor:
    """(B, n, 3) patch starts -> (B, n, p, p, p, 3) world positions of the patches' voxels."""
    offsets = torch.stack(torch.meshgrid(*[torch.arange(patch, device=starts.device)] * 3, indexing="ij"), -1)
    index = starts[:, :, None, None, None, :] + offsets
    return index.float() * (2.0 / (data_resolution - 1)) - 1.0


def crop_patches(values: torch.Tensor, starts: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, D, D, D) grids and (B, n, 3) starts -> (B, n, p, p, p) patches."""
    batch, n = starts.shape[:2]
    ar = torch.arange(patch, device=values.device)
    i = (starts[..., 0, None] + ar)[:, :, :, None, None]
    j = (starts[..., 1, None] + ar)[:, :, None, :, None]
    k = (starts[..., 2, None] + ar)[:, :, None, None, :]
    b = torch.arange(batch, device=values.device)[:, None, None, None, None]
    return values[b, i, j, k]
