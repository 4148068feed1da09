"""What the guided objectives share: differentiable full-image renders on black."""
from __future__ import annotations

import torch

from ...field import DVGOField
from ..views import render_views


def render_premultiplied(field: DVGOField, cameras: torch.Tensor, size: int, fov: float,
                         weight_thres: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable full-image renders on black: colour (V, 3, H, W) and transmittance (V, 1, H, W)."""
    rgb, opacity = render_views(field, cameras, size, fov, bg=0.0, chunk=size * size, weight_thres=weight_thres,
                                grad=True)
    return rgb.permute(0, 3, 1, 2), (1.0 - opacity)[:, None]
