"""The run's views of the field and the prior: the camera sets, the prior's target renders, the
field's images, and PSNR."""
from __future__ import annotations

import math

import torch

from ..cameras import pixel_rays, random_orbit_cameras
from ..field import DVGOField
from ..shape import SDFGrid, render_grids
from .config import RunConfig

# A fixed light rather than a headlight: the colour model sees positions only, so targets must not
# change shade with the viewpoint for the field to be able to match them.
LIGHT = (0.4, 0.8, 0.45)
# The prior's pictures average SUPERSAMPLE x SUPERSAMPLE rays a pixel (antialiased edges); the field's
# images are compared with them rendered the same way.
SUPERSAMPLE = 2


def view_cameras(config: RunConfig, n_views: int, seed_offset: int = 0) -> torch.Tensor:
    """Views all around the object: azimuth uniform in [0, 360), elevation uniform in [-15, 60]."""
    gen = torch.Generator().manual_seed(config.seed * 1000 + seed_offset)
    return random_orbit_cameras(n_views, config.camera_radius, gen, (-15.0, 60.0))


def render_prior(grid: SDFGrid, cameras: torch.Tensor, size: int, fov: float, device,
                 supersample: int = SUPERSAMPLE) -> tuple[torch.Tensor, torch.Tensor]:
    """Shaded renders of the prior on white: rgb (V, H, W, 3) and mask (V, H, W), each pixel the mean
    of ``supersample`` x ``supersample`` rays (antialiased, as a picture should be; 1: one ray a pixel)."""
    out = render_grids(grid, cameras, size=size, fov=fov, background="white", light=LIGHT, device=device,
                       supersample=supersample)
    return out.rgb[0], out.mask[0]


def render_views(field: DVGOField, cameras: torch.Tensor, size: int, fov: float, bg=1.0,
                 chunk: int = 16384, weight_thres: float = 1e-4,
                 grad: bool = False, supersample: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The field's images from ``cameras``: rgb (V, H, W, 3) and opacity (V, H, W), differentiable
    only when ``grad``; with ``supersample`` s, each pixel the mean of s x s rays (as render_prior's)."""
    if supersample > 1:
        rgb, opacity = render_views(field, cameras, size * supersample, fov, bg, chunk, weight_thres, grad)
        pool = torch.nn.functional.avg_pool2d
        return (pool(rgb.permute(0, 3, 1, 2), supersample).permute(0, 2, 3, 1),
                pool(opacity[:, None], supersample)[:, 0])
    device = field.density.values.device
    rgbs, opacities = [], []
    with torch.set_grad_enabled(grad):
        for c2w in cameras:
            rays_o, rays_d = pixel_rays(c2w, size, size, fov, device=device)
            parts = [field.render(rays_o[i:i + chunk], rays_d[i:i + chunk], bg=bg, weight_thres=weight_thres,
                                  depth=False) for i in range(0, len(rays_o), chunk)]
            rgbs.append(torch.cat([p.rgb for p in parts]).reshape(size, size, 3))
            opacities.append(torch.cat([p.opacity for p in parts]).reshape(size, size))
    return torch.stack(rgbs), torch.stack(opacities)


def psnr_from_mse(mse: float) -> float:
    return 100.0 if mse == 0 else -10.0 * math.log10(mse)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return psnr_from_mse(float((a - b).square().mean()))
