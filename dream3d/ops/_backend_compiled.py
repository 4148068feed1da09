"""The compiled C++/CUDA ops (``torch.ops.dream3d.*``) behind the backend contract, plus their fake
kernels so that ``torch.compile`` can trace through them."""
from __future__ import annotations

import torch

from . import _extension

_extension.load()
_ops = torch.ops.dream3d


def render_forward(density, rays_o, rays_d, box, step_size, act_shift, interval, near, far,
                   t_thres, weight_thres):
    return _ops.render_forward(density, rays_o, rays_d, list(box), step_size, act_shift, interval,
                               near, far, t_thres, weight_thres)


def render_backward(density, rays_o, rays_d, box, step_size, act_shift, interval, near, far, t_thres,
                    weight_thres, ray_offsets, step_ids, weights, t_final, grad_weights, grad_t_final):
    return _ops.render_backward(density, rays_o, rays_d, list(box), step_size, act_shift, interval,
                                near, far, t_thres, weight_thres, ray_offsets, step_ids, weights,
                                t_final, grad_weights, grad_t_final)


def trilinear_forward(grid, points, box):
    return _ops.trilinear_forward(grid, points, list(box))


def trilinear_backward(grid, points, box, grad_values, need_points_grad):
    grad_grid, grad_points = _ops.trilinear_backward(grid, points, list(box), grad_values,
                                                     need_points_grad)
    return grad_grid, (grad_points if need_points_grad else None)


def total_variation(grid, axis_weights):
    return _ops.total_variation(grid, list(axis_weights))


def _register_fakes() -> None:
    if not hasattr(_ops, "render_forward"):
        return

    @torch.library.register_fake("dream3d::render_forward")
    def _(density, rays_o, rays_d, box, step_size, act_shift, interval, near, far, t_thres, weight_thres):
        n = torch.library.get_ctx().new_dynamic_size()
        r = rays_o.shape[0]
        return (density.new_empty(n, dtype=torch.int64), density.new_empty(n, dtype=torch.int32),
                density.new_empty(n), density.new_empty(n), density.new_empty(r),
                density.new_empty(r + 1, dtype=torch.int64))

    @torch.library.register_fake("dream3d::render_backward")
    def _(density, *args):
        return torch.empty_like(density)

    @torch.library.register_fake("dream3d::trilinear_forward")
    def _(grid, points, box):
        return grid.new_empty(points.shape[0], grid.shape[0])

    @torch.library.register_fake("dream3d::trilinear_backward")
    def _(grid, points, box, grad_values, need_points_grad):
        return torch.empty_like(grid), (torch.empty_like(points) if need_points_grad
                                        else points.new_empty(0))

    @torch.library.register_fake("dream3d::total_variation")
    def _(grid, axis_weights):
        return grid.new_empty(()), torch.empty_like(grid)


_register_fakes()
