"""SDF renderer (SDFDiff-style sphere tracing on trilinear SDF grids): public entry point, argument
checks, autograd and dispatch. Math and conventions: docs/API.md ("sdf_render")."""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from ..cameras import focal_length
from . import _checks, _dispatch
from .sdf_render_ref import Shade, Trace, View, sdf_render_ref


class SDFRenderOutput(NamedTuple):
    """rgb (..., H, W, 3), mask (..., H, W) hit coverage in [0, 1], depth (..., H, W) t along the unit ray
    (0 where nothing is hit), normal (..., H, W, 3) world-space unit normals (0 where nothing is hit)."""

    rgb: torch.Tensor
    mask: torch.Tensor
    depth: torch.Tensor
    normal: torch.Tensor


class _FusedSDFRender(torch.autograd.Function):
    @staticmethod
    def forward(ctx, sdf, c2w, background, kernels, box, view, trace, shade):
        rgb, mask, depth, normal, hit_t = kernels.sdf_render_forward(sdf, c2w, background, box, view, trace,
                                                                     shade)
        ctx.save_for_backward(sdf, c2w, hit_t)
        ctx.kernels, ctx.box, ctx.view, ctx.shade = kernels, box, view, shade
        ctx.mark_non_differentiable(mask)
        return rgb, mask, depth, normal

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_rgb, _grad_mask, grad_depth, grad_normal):
        sdf, c2w, hit_t = ctx.saved_tensors
        image = hit_t.shape[:-1]
        grad_rgb = sdf.new_zeros(*image, 3) if grad_rgb is None else grad_rgb.contiguous()
        grad_depth = sdf.new_zeros(image) if grad_depth is None else grad_depth.contiguous()
        grad_normal = sdf.new_zeros(*image, 3) if grad_normal is None else grad_normal.contiguous()
        grad_sdf = ctx.kernels.sdf_render_backward(sdf, c2w, hit_t, grad_rgb, grad_depth, grad_normal,
                                                   ctx.box, ctx.view, ctx.shade)
        return grad_sdf, None, None, None, None, None, None, None


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _vector3(name: str, value) -> tuple:
    if isinstance(value, torch.Tensor):
        value = value.detach().reshape(-1).tolist()
    try:
        out = tuple(_checks.check_number(name, v) for v in value)
    except TypeError:
        raise TypeError(f"{name} must be 3 numbers, got {type(value).__name__}") from None
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must be 3 finite numbers, got {value}")
    return out


def _check_cameras(c2w, sdf: torch.Tensor, batched: bool) -> torch.Tensor:
    """c2w as (B, V, 4, 4) in the sdf's dtype: (V, 4, 4) is shared by every grid of a batch."""
    _checks.check_tensor("c2w", c2w)
    if c2w.shape[-2:] != (4, 4) or c2w.dim() not in ((3, 4) if batched else (3,)):
        want = "(B, V, 4, 4) or (V, 4, 4)" if batched else "(V, 4, 4)"
        raise ValueError(f"c2w must be {want}, got shape {tuple(c2w.shape)}")
    if c2w.device != sdf.device:
        raise ValueError(f"c2w is on {c2w.device} but sdf is on {sdf.device}")
    c2w = c2w.detach().to(sdf.dtype)
    if c2w.dim() == 3:
        c2w = c2w.expand(sdf.shape[0], *c2w.shape)
    if c2w.shape[0] != sdf.shape[0]:
        raise ValueError(f"c2w holds cameras for {c2w.shape[0]} grids but sdf holds {sdf.shape[0]}")
    if c2w.shape[1] == 0:
        raise ValueError("c2w must hold at least one camera")
    _checks.check_finite("c2w", c2w)
    return c2w.contiguous()


def _check_background(background, sdf: torch.Tensor, c2w: torch.Tensor, batched: bool) -> torch.Tensor:
    """The background as (B, V, 3): one colour for every image, or a tensor with a colour per image."""
    images = tuple(c2w.shape[:2]) if batched else tuple(c2w.shape[1:2])
    if isinstance(background, torch.Tensor) and background.shape == (*images, 3):
        _checks.check_tensor("background", background)
        if background.device != sdf.device:
            raise ValueError(f"background is on {background.device} but sdf is on {sdf.device}")
        _checks.check_finite("background", background.detach())
        bg = background.detach().to(sdf.dtype).reshape(*c2w.shape[:2], 3)
    else:
        if isinstance(background, torch.Tensor) and background.numel() != 3:
            raise ValueError(f"background must be 3 numbers or a {(*images, 3)} tensor, got shape "
                             f"{tuple(background.shape)}")
        bg = sdf.new_tensor(_vector3("background", background)).expand(*c2w.shape[:2], 3)
    return bg.contiguous()


def _check_light(light):
    if isinstance(light, str):
        if light != "headlight":
            raise ValueError(f"light must be 'headlight' or a direction, got {light!r}")
        return None
    direction = _vector3("light", light)
    norm = math.sqrt(sum(c * c for c in direction))
    if norm == 0:
        raise ValueError("light must be a non-zero direction")
    return tuple(c / norm for c in direction)


def sdf_render(sdf: torch.Tensor, c2w: torch.Tensor, fov: float, height: int, width: int, *,
               xyz_min=(-1.0, -1.0, -1.0), xyz_max=(1.0, 1.0, 1.0), light="headlight", ambient: float = 0.3,
               diffuse: float = 0.7, albedo=(0.8, 0.8, 0.8), background=(1.0, 1.0, 1.0), supersample: int = 1,
               near: float = 0.0, far: float = 1e10, eps: float = 1e-4, max_steps: int = 256,
               step_scale: float = 0.9, min_step: float = 1e-3, refine_steps: int = 6,
               backend: str = "auto") -> SDFRenderOutput:
    """Sphere-traces SDF grids from pinhole cameras and shades the hits (see docs/API.md).

    Args:
        sdf: (B, X, Y, Z) signed distances spanning the bbox (align_corners=True), negative inside;
            or one (X, Y, Z) grid, whose outputs then have no B axis.
        c2w: camera-to-world (B, V, 4, 4), or (V, 4, 4) shared by all grids; OpenGL cameras looking
            down their -Z with +Y up (``dream3d.cameras``). Not differentiated.
        fov: vertical field of view in degrees; height, width: image size in pixels.
        light: "headlight" (a light at the eye: l = -d) or a world direction towards the light.
        ambient, diffuse, albedo: rgb = albedo * (ambient + diffuse * max(0, n . l)) at a hit.
        background: the colour of a miss: 3 numbers, or a (B, V, 3) tensor (a colour per image).
        supersample: S; S x S sub-pixel rays per pixel are averaged, and mask is their hit fraction.
        near, far: the march covers the ray's overlap with the bbox clipped to [near, far].
        eps, max_steps, step_scale, min_step, refine_steps: the march stops at |sdf| < eps, steps by
            max(step_scale * |sdf|, min_step), gives up after max_steps samples, and refines a sign
            change with refine_steps regula-falsi steps.
        backend: "auto", "cpu", "cuda", "triton" or "torch" (the reference).

    Returns:
        SDFRenderOutput(rgb, mask, depth, normal); differentiable w.r.t. sdf through rgb, depth and
        normal (implicit differentiation at the hit), not through mask.
    """
    _checks.check_tensor("sdf", sdf)
    if sdf.dim() not in (3, 4):
        raise ValueError(f"sdf must be (B, X, Y, Z) or (X, Y, Z), got shape {tuple(sdf.shape)}")
    batched = sdf.dim() == 4
    grids = sdf if batched else sdf.unsqueeze(0)
    if grids.shape[0] == 0:
        raise ValueError("sdf must hold at least one grid, got a batch of 0")
    _checks.check_grid_dims("sdf", grids.shape[1:])
    _checks.check_finite("sdf", grids.detach())
    cams = _check_cameras(c2w, grids, batched)
    background = _check_background(background, grids, cams, batched)
    fov = _checks.check_number("fov", fov)
    if not 0.0 < fov < 180.0:
        raise ValueError(f"fov must lie in (0, 180) degrees, got {fov}")
    view = View(_check_int("height", height, 1), _check_int("width", width, 1),
                focal_length(height, fov), _check_int("supersample", supersample, 1))
    trace = Trace(_checks.check_number("near", near), _checks.check_number("far", far),
                  _checks.check_positive("eps", eps), _checks.check_positive("step_scale", step_scale),
                  _checks.check_positive("min_step", min_step), _check_int("max_steps", max_steps, 1),
                  _check_int("refine_steps", refine_steps, 0))
    if not 0.0 <= trace.near < trace.far:
        raise ValueError(f"near must lie in [0, far), got near={near}, far={far}")
    shade = Shade(_checks.check_number("ambient", ambient), _checks.check_number("diffuse", diffuse),
                  _vector3("albedo", albedo), _check_light(light))
    box = _checks.as_box(xyz_min, xyz_max)
    name = _dispatch.resolve(backend, sdf.device)
    if name == "torch":
        rgb, mask, depth, normal, _ = sdf_render_ref(grids, cams, background, box, view, trace, shade)
    else:
        rgb, mask, depth, normal = _FusedSDFRender.apply(grids.contiguous(), cams, background,
                                                         _dispatch.kernels_for(name), box, view, trace, shade)
    out = SDFRenderOutput(rgb, mask, depth, normal)
    return out if batched else SDFRenderOutput(*(x.squeeze(0) for x in out))
