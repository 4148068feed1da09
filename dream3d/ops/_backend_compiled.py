"""The compiled C++/CUDA ops (``torch.ops.dream3d.*``) behind the backend contract."""
from __future__ import annotations

import torch

from . import _extension

_extension.load()
_ops = torch.ops.dream3d


def render_forward(density, rays_o, rays_d, box, march):
    # the op's schema takes March's seven fields as floats, in order
    return _ops.render_forward(density, rays_o, rays_d, list(box), *march)


def render_backward(density, rays_o, rays_d, box, march, ray_offsets, step_ids, weights, t_final,
                    grad_weights, grad_t_final):
    return _ops.render_backward(density, rays_o, rays_d, list(box), *march, ray_offsets, step_ids, weights,
                                t_final, grad_weights, grad_t_final)


def trilinear_forward(grid, points, box):
    return _ops.trilinear_forward(grid, points, list(box))


def trilinear_backward(grid, points, box, grad_values, need_points_grad):
    grad_grid, grad_points = _ops.trilinear_backward(grid, points, list(box), grad_values,
                                                     need_points_grad)
    return grad_grid, (grad_points if need_points_grad else None)


def total_variation(grid, axis_weights):
    return _ops.total_variation(grid, list(axis_weights))


def sdf_to_density(sdf, beta, shift):
    return _ops.sdf_to_density(sdf, beta, shift)


def sdf_to_density_backward(sdf, grad_density, beta, shift):
    return _ops.sdf_to_density_backward(sdf, grad_density, beta, shift)


def prior_loss(density, sdf, act_shift, interval):
    return _ops.prior_loss(density, sdf, act_shift, interval)


def composite_forward(ray_ids, weights, colors, n_rays):
    return _ops.composite_forward(ray_ids, weights, colors, n_rays)


def composite_backward(ray_ids, weights, colors, grad_out):
    return _ops.composite_backward(ray_ids, weights, colors, grad_out)


def _shading(shade):
    return shade.ambient, shade.diffuse, list(shade.albedo), list(shade.light or ())  # [] = headlight


def sdf_render_forward(sdf, c2w, background, box, view, trace, shade):
    return _ops.sdf_render_forward(sdf, c2w, background, list(box), *view, *trace, *_shading(shade))


def sdf_render_backward(sdf, c2w, hit_t, grad_rgb, grad_depth, grad_normal, box, view, shade):
    return _ops.sdf_render_backward(sdf, c2w, hit_t, grad_rgb, grad_depth, grad_normal, list(box), *view,
                                    *_shading(shade))
