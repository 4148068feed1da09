"""``Reconstruction`` (``--guidance none``): fit the prior's shaded multi-view renders."""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from ...cameras import pixel_rays
from ...field import DVGOField
from ...shape import SDFGrid
from ..config import RunConfig
from ..views import SUPERSAMPLE, psnr_from_mse, render_prior, view_cameras


class Targets(NamedTuple):
    """Renders of the prior from ``cameras``, flattened to one row per ray: a pixel's, or with
    ``point_targets`` a sub-pixel's, of every view (only near the prior's silhouette with ``ray_margin``)."""

    cameras: torch.Tensor  # (V, 4, 4)
    rays_o: torch.Tensor   # (N, 3)
    rays_d: torch.Tensor
    rgb: torch.Tensor      # (N, 3)
    mask: torch.Tensor     # (N,)


def make_targets(config: RunConfig, grid: SDFGrid, device) -> Targets:
    """The prior's renders as rays. With ``point_targets`` each pixel gives its SUPERSAMPLE^2 sub-pixel
    rays, each with the prior's colour along it, instead of one ray through its centre with the
    pixel's antialiased mean: fitted to the mean, an edge pixel's ray learns a grey part-opaque
    density, a field as soft as a pixel; fitted to the points, the field keeps the prior's edges,
    and its pixels, averaged as the prior's are, come out antialiased the same way.

    With ``ray_margin`` >= 0 only the pixels within that many pixels of the prior's silhouette are kept
    (DVGO's mask-cache ray filter): most pixels of a view see only the white background through empty
    space, where the field starts empty and nothing is to be learnt, so the step's rays go to the
    object and its outline instead."""
    cameras = view_cameras(config, config.n_views)
    sub = SUPERSAMPLE if config.point_targets else 1  # sub-pixel rays per side, each its own target
    size = config.view_size * sub
    rgb, mask = render_prior(grid, cameras, size, config.fov, device, supersample=SUPERSAMPLE // sub)
    rays = [pixel_rays(c, size, size, config.fov, device=device) for c in cameras]
    targets = Targets(cameras, torch.cat([o for o, _ in rays]), torch.cat([d for _, d in rays]),
                      rgb.reshape(-1, 3).contiguous(), mask.reshape(-1).contiguous())
    if config.ray_margin < 0:
        return targets
    margin = config.ray_margin * sub
    near = F.max_pool2d(mask[:, None], 2 * margin + 1, stride=1, padding=margin).reshape(-1) > 0
    return Targets(cameras, *(x[near].contiguous() for x in targets[1:]))


class Reconstruction:
    """Fit the prior's renders: w_rgb * MSE(rgb) + w_mask * MSE(opacity, mask) on random rays."""

    keys = ("rgb", "mask", "psnr")
    progress_key = "psnr"

    def __init__(self, config: RunConfig, targets: Targets):
        self.config, self.targets = config, targets

    def __call__(self, field: DVGOField, step: int, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        t, c = self.targets, self.config
        idx = torch.randint(0, len(t.rgb), (c.rays_per_step,), generator=gen).to(t.rgb.device)
        out = field.render(t.rays_o[idx], t.rays_d[idx], bg=1.0, weight_thres=c.weight_thres, depth=False)
        rgb = (out.rgb - t.rgb[idx]).square().mean()
        mask = (out.opacity - t.mask[idx]).square().mean()
        mse, mask_mse = torch.stack([rgb.detach(), mask.detach()]).tolist()  # one read-back
        return c.w_rgb * rgb + c.w_mask * mask, {"rgb": mse, "mask": mask_mse, "psnr": psnr_from_mse(mse)}

    def evaluate(self, rgb: torch.Tensor) -> dict:
        return {}
