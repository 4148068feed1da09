"""Plain torch reference of the fused DVGO volume renderer.

Dense (rays x steps) tensors, ``trilinear_ref`` for the density, softplus post-activation and a cumprod
for transmittance, exactly as DVGO writes it; autograd gives the gradient. It defines the answer the
kernels must match.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .trilinear_ref import Box, inside_box, trilinear_ref


class March(NamedTuple):
    """How a ray is marched through the density grid (docs/API.md, "volume_render").

    step_size: distance between samples (world units; DVGO: half a voxel). act_shift: b in
    alpha = 1 - exp(-softplus(raw + b) * interval). interval: a sample's length in the activation's
    units (DVGO: the step in voxels). near, far: the march covers the ray's overlap with the bbox
    clipped to [near, far]. t_thres: the march stops before the first sample with T_k < t_thres.
    weight_thres: samples with w_k <= weight_thres are dropped.
    """

    step_size: float
    act_shift: float
    interval: float
    near: float = 0.0
    far: float = 1e10
    t_thres: float = 1e-4
    weight_thres: float = 0.0


def ray_box_interval(rays_o, rays_d, box: Box, near: float, far: float):
    """Per-ray [t_near, t_far] of the bbox overlap clipped to [near, far]; t_far <= t_near means a miss."""
    lo = rays_o.new_tensor(box[:3])
    hi = rays_o.new_tensor(box[3:])
    inv_d = 1.0 / rays_d  # +-inf on axis-parallel rays; the min/max below handle it
    t_a = (lo - rays_o) * inv_d
    t_b = (hi - rays_o) * inv_d
    t_lo = torch.minimum(t_a, t_b).nan_to_num(nan=-float("inf"))
    t_hi = torch.maximum(t_a, t_b).nan_to_num(nan=float("inf"))
    t_near = t_lo.amax(dim=-1).clamp_min(near)
    t_far = t_hi.amin(dim=-1).clamp_max(far)
    return t_near, t_far


def num_steps(t_near, t_far, step_size: float):
    """Candidate samples per ray, at least the k with t_near + k * step < t_far: the rounded quotient
    can land on an integer n with t_near + n * step still < t_far (seen in float32), so one more is
    counted and the caller keeps the candidates with t < t_far, the definition."""
    n = torch.ceil((t_far - t_near) / step_size).clamp_min(0) + (t_far > t_near).to(t_far.dtype)
    return n.to(torch.int64)


def volume_render_ref(density, rays_o, rays_d, box: Box, march: March):
    """Returns (ray_ids, step_ids, t, weights, T_final) with packed samples ordered by ray then step."""
    step_size, act_shift, interval, near, far, t_thres, weight_thres = march
    n_rays = rays_o.shape[0]
    t_near, t_far = ray_box_interval(rays_o, rays_d, box, near, far)
    steps = num_steps(t_near, t_far, step_size)
    k_max = int(steps.max().item()) if n_rays else 0
    k = torch.arange(k_max, device=rays_o.device)
    t = t_near[:, None] + k.to(rays_o.dtype)[None, :] * step_size
    # sample k exists where t_k < t_far (the kernels' rule); the count only bounds the candidates
    valid = (k[None, :] < steps[:, None]) & (t < t_far[:, None])
    points = (rays_o[:, None, :] + t[..., None] * rays_d[:, None, :]).reshape(-1, 3)
    raw = trilinear_ref(density.unsqueeze(0), points, box).reshape(n_rays, k_max)
    # a sample that rounding puts outside the bbox is empty (alpha = 0)
    valid = valid & inside_box(points, box).reshape(n_rays, k_max)
    one_minus_alpha = torch.exp(-F.softplus(raw + act_shift) * interval)
    one_minus_alpha = torch.where(valid, one_minus_alpha, torch.ones_like(one_minus_alpha))
    trans = torch.cumprod(
        torch.cat([one_minus_alpha.new_ones(n_rays, 1), one_minus_alpha], dim=1), dim=1)
    t_before = trans[:, :-1]
    # early termination: the march stops before the first sample whose T_k < t_thres
    alive = torch.cumprod((t_before >= t_thres).to(torch.int8), dim=1).bool() & valid
    weights = t_before * (1 - one_minus_alpha)
    t_final = torch.where(alive, one_minus_alpha, torch.ones_like(one_minus_alpha)).prod(dim=1)
    keep = alive & (weights > weight_thres)
    ray_ids, step_ids = keep.nonzero(as_tuple=True)
    return ray_ids, step_ids.to(torch.int32), t[keep], weights[keep], t_final
