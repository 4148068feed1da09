"""Fused DVGO volume rendering of a raw density grid: public entry point, autograd and dispatch."""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from . import _checks, _dispatch
from .volume_render_ref import March, volume_render_ref


class RenderSamples(NamedTuple):
    """The samples that matter, packed and ordered by ray then by step.

    ray_ids (N,) int64, t (N,) distance along the ray, weights (N,) = T_k * alpha_k, T_final (R,) the
    transmittance left after the march, step_ids (N,) int32 the sample's step index along its ray.
    """

    ray_ids: torch.Tensor
    t: torch.Tensor
    weights: torch.Tensor
    T_final: torch.Tensor
    step_ids: torch.Tensor

    @property
    def n_rays(self) -> int:
        return self.T_final.shape[0]

    def points(self, rays_o: torch.Tensor, rays_d: torch.Tensor) -> torch.Tensor:
        """World positions (N, 3) of the samples, to evaluate colours on."""
        return rays_o[self.ray_ids] + self.t[:, None] * rays_d[self.ray_ids]


class _FusedVolumeRender(torch.autograd.Function):
    @staticmethod
    def forward(ctx, density, rays_o, rays_d, kernels, box, march):
        ray_ids, step_ids, t, weights, t_final, offsets = kernels.render_forward(
            density, rays_o, rays_d, box, march)
        ctx.save_for_backward(density, rays_o, rays_d, offsets, step_ids, weights, t_final)
        ctx.kernels, ctx.box, ctx.march = kernels, box, march
        ctx.mark_non_differentiable(ray_ids, step_ids, t)
        return ray_ids, step_ids, t, weights, t_final

    @staticmethod
    @once_differentiable
    def backward(ctx, _g_ray_ids, _g_step_ids, _g_t, grad_weights, grad_t_final):
        density, rays_o, rays_d, offsets, step_ids, weights, t_final = ctx.saved_tensors
        grad_weights = torch.zeros_like(weights) if grad_weights is None else grad_weights.contiguous()
        grad_t_final = torch.zeros_like(t_final) if grad_t_final is None else grad_t_final.contiguous()
        grad_density = ctx.kernels.render_backward(
            density, rays_o, rays_d, ctx.box, ctx.march, offsets, step_ids, weights, t_final,
            grad_weights, grad_t_final)
        return grad_density, None, None, None, None, None


def _check_march(march) -> March:
    """march with every field a Python float, each checked; errors name the field (march.step_size)."""
    if not isinstance(march, March):
        raise TypeError(f"march must be a dream3d.ops.March, got {type(march).__name__}")
    checked = March(*(_checks.check_number(f"march.{name}", value) for name, value in zip(March._fields, march)))
    for name in ("step_size", "interval"):
        _checks.check_positive(f"march.{name}", getattr(checked, name))
    if not 0.0 <= checked.t_thres < 1.0:
        raise ValueError(f"march.t_thres must lie in [0, 1), got {checked.t_thres}")
    if checked.weight_thres < 0.0:
        raise ValueError(f"march.weight_thres must be >= 0, got {checked.weight_thres}")
    if not checked.near < checked.far:
        raise ValueError(f"march.near must be below march.far, got near={checked.near}, far={checked.far}")
    return checked


def volume_render(density: torch.Tensor, rays_o: torch.Tensor, rays_d: torch.Tensor, xyz_min, xyz_max,
                  march: March, *, backend: str = "auto") -> RenderSamples:
    """Volume-renders a raw DVGO density grid along a batch of rays (post-activation).

    Sample k of ray r sits at t_k = t_near + k * step_size while t_k < t_far, with [t_near, t_far] the
    ray's overlap with the bbox clipped to [near, far]. raw_k is the trilinear density there,
    alpha_k = 1 - exp(-softplus(raw_k + act_shift) * interval), T_k = prod_{j<k} (1 - alpha_j) and
    w_k = T_k alpha_k. The march stops before the first sample with T_k < t_thres; samples with
    w_k > weight_thres are returned. Differentiable with respect to ``density`` through ``weights``
    and ``T_final``; the backward recomputes the march instead of storing it.

    Args:
        density: (X, Y, Z) raw density grid spanning the bbox (voxel centres on its corners).
        rays_o, rays_d: (R, 3) origins and directions; t is measured in units of |rays_d|.
        xyz_min, xyz_max: bbox corners, tensors or 3-sequences.
        march: ``March(step_size, act_shift, interval, near=0.0, far=1e10, t_thres=1e-4,
            weight_thres=0.0)``. step_size: distance between samples (world units); DVGO uses half a
            voxel. act_shift: b = log(1 / (1 - alpha_init) - 1) (``act_shift_from_alpha_init``).
            interval: the sample's length in the units of the activation (DVGO: step_size / voxel_size).
            near < far; t_thres in [0, 1); weight_thres >= 0.
        backend: "auto", "cpu", "cuda", "triton" or "torch" (the reference).

    Returns:
        RenderSamples(ray_ids, t, weights, T_final, step_ids).

    Example::

        march = ops.March(step_size=0.5 * voxel, act_shift=ops.act_shift_from_alpha_init(1e-2), interval=0.5)
        samples = ops.volume_render(density, rays_o, rays_d, xyz_min, xyz_max, march)
    """
    _checks.check_tensor("density", density, ndim=3)
    _checks.check_grid_dims("density", density.shape)
    _checks.check_tensor("rays_o", rays_o, ndim=2, last_dim=3)
    _checks.check_tensor("rays_d", rays_d, ndim=2, last_dim=3)
    if rays_d.shape[0] != rays_o.shape[0]:
        raise ValueError(f"rays_o and rays_d must hold the same number of rays, got "
                         f"{rays_o.shape[0]} and {rays_d.shape[0]}")
    _checks.check_same(("density", "rays_o", "rays_d"), (density, rays_o, rays_d))
    _checks.check_all_finite([("rays_o", rays_o.detach()), ("rays_d", rays_d.detach()),
                               ("density", density.detach())])
    box = _checks.as_box(xyz_min, xyz_max)
    march = _check_march(march)
    name = _dispatch.resolve(backend, density.device)
    if name == "torch":
        ray_ids, step_ids, t, weights, t_final = volume_render_ref(density, rays_o, rays_d, box, march)
    else:
        ray_ids, step_ids, t, weights, t_final = _FusedVolumeRender.apply(
            density, rays_o.contiguous(), rays_d.contiguous(), _dispatch.kernels_for(name), box, march)
    return RenderSamples(ray_ids, t, weights, t_final, step_ids)
