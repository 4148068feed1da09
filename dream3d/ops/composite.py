"""Compositing of packed per-sample colours with their weights over a background."""
from __future__ import annotations

import torch

from . import _checks


def composite(samples, colors: torch.Tensor, bg=0.0) -> torch.Tensor:
    """C(r) = sum_k w_k c_k + T_final(r) * bg, per ray: (R, C).

    Args:
        samples: the ``RenderSamples`` of ``volume_render``.
        colors: (N, C) colour of each packed sample.
        bg: background, a number, a (C,) colour or an (R, C) per-ray colour (e.g. a random
            background image flattened to rays).

    Differentiable in ``colors``, ``samples.weights``, ``samples.T_final`` and ``bg``.
    """
    _checks.check_tensor("colors", colors, ndim=2)
    weights, t_final = samples.weights, samples.T_final
    if colors.shape[0] != weights.shape[0]:
        raise ValueError(f"colors must hold one row per sample ({weights.shape[0]}), got {colors.shape[0]}")
    n_rays, channels = t_final.shape[0], colors.shape[1]
    if not isinstance(bg, torch.Tensor):
        bg = torch.as_tensor(_checks.check_number("bg", bg), dtype=colors.dtype, device=colors.device)
    if bg.dim() > 0 and bg.shape not in ((channels,), (n_rays, channels)):
        raise ValueError(f"bg must be a number, ({channels},) or ({n_rays}, {channels}); got {tuple(bg.shape)}")
    out = torch.zeros(n_rays, channels, dtype=colors.dtype, device=colors.device)
    out = out.index_add(0, samples.ray_ids, weights[:, None] * colors)
    return out + t_final[:, None] * bg
