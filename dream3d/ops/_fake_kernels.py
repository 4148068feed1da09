"""Fake (meta) kernels of the compiled ops, so that torch.compile and FakeTensor can trace them:
render_forward's sample count is data-dependent, hence a dynamic size."""
import torch

_registered = False


def register() -> None:
    """Registers the fake kernels (once), right after the compiled ops are loaded."""
    global _registered
    if _registered:
        return
    _registered = True

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

    @torch.library.register_fake("dream3d::composite_forward")
    def _(ray_ids, weights, colors, n_rays):
        return colors.new_empty(n_rays, colors.shape[1])

    @torch.library.register_fake("dream3d::composite_backward")
    def _(ray_ids, weights, colors, grad_out):
        return torch.empty_like(weights), torch.empty_like(colors)

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

    @torch.library.register_fake("dream3d::sdf_to_density")
    def _(sdf, beta, shift):
        return torch.empty_like(sdf)

    @torch.library.register_fake("dream3d::sdf_to_density_backward")
    def _(sdf, grad_density, beta, shift):
        return torch.empty_like(sdf)

    @torch.library.register_fake("dream3d::prior_loss")
    def _(density, sdf, act_shift, interval):
        return density.new_empty(()), density.new_empty((), dtype=torch.int64), torch.empty_like(density)

    @torch.library.register_fake("dream3d::sdf_render_forward")
    def _(sdf, c2w, background, box, height, width, focal, supersample, *args):
        image = (sdf.shape[0], c2w.shape[1], height, width)
        return (sdf.new_empty(*image, 3), sdf.new_empty(image), sdf.new_empty(image), sdf.new_empty(*image, 3),
                sdf.new_empty(*image, supersample * supersample))

    @torch.library.register_fake("dream3d::sdf_render_backward")
    def _(sdf, *args):
        return torch.empty_like(sdf)
