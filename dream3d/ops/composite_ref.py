"""The torch reference of compositing: the weighted colours summed per ray with index_add."""
from __future__ import annotations

import torch


def composite_weighted_ref(ray_ids: torch.Tensor, weights: torch.Tensor, colors: torch.Tensor,
                           n_rays: int) -> torch.Tensor:
    """sum_{k: ray_ids[k] = r} w_k c_k per ray: (R, C)."""
    out = torch.zeros(n_rays, colors.shape[1], dtype=colors.dtype, device=colors.device)
    return out.index_add(0, ray_ids, weights[:, None] * colors)
