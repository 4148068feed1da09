"""Compositing of packed per-sample colours with their weights over a background."""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from . import _checks, _dispatch
from .composite_ref import composite_weighted_ref


class _FusedComposite(torch.autograd.Function):
    """The compiled per-ray sum of w_k c_k (CPU: per-thread copies of the output, no atomics; CUDA:
    atomics) and its one-pass backward, instead of index_add and the gathers of its backward."""

    @staticmethod
    def forward(ctx, ray_ids, weights, colors, n_rays, kernels):
        ctx.save_for_backward(ray_ids, weights, colors)
        ctx.kernels = kernels
        return kernels.composite_forward(ray_ids, weights, colors, n_rays)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        ray_ids, weights, colors = ctx.saved_tensors
        grad_weights, grad_colors = ctx.kernels.composite_backward(ray_ids, weights, colors, grad_out)
        return None, grad_weights, grad_colors, None, None


def composite(samples, colors: torch.Tensor, bg=0.0, backend: str = "auto") -> torch.Tensor:
    """C(r) = sum_k w_k c_k + T_final(r) * bg, per ray: (R, C).

    Args:
        samples: the ``RenderSamples`` of ``volume_render``.
        colors: (N, C) colour of each packed sample.
        bg: background, a number, a (C,) colour or an (R, C) per-ray colour (e.g. a random
            background image flattened to rays).
        backend: "auto", "cpu" or "cuda" (the compiled kernels), "torch" (the reference, index_add);
            "triton" runs the reference too (compositing is a memory-bound sum that index_add does well
            on a GPU).

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
    _checks.check_same(("colors", "weights"), (colors, weights))
    name = _dispatch.resolve(backend, colors.device)
    if name in ("cpu", "cuda"):
        out = _FusedComposite.apply(samples.ray_ids, weights, colors, n_rays, _dispatch.kernels_for(name))
    else:
        out = composite_weighted_ref(samples.ray_ids, weights, colors, n_rays)
    return out + t_final[:, None] * bg
