"""Geometry-only renders for CLIP guidance: the density field drawn as a grey, headlight-shaded object
(DreamFusion's textureless shading), so the only way to change the image is to change the shape.

Shading = ambient + diffuse * max(0, n . -d) with n the normalised negative gradient of the raw density
grid at each sample (central differences one voxel apart), composited with the renderer's weights. It is
what the SDF renderer draws with its default headlight and albedo 1, the images the library CLIP was
trained on; ``solid_composite`` then paints it like the training images (data.compose)."""
from __future__ import annotations

import torch

from .. import ops
from ..cameras import pixel_rays

AMBIENT, DIFFUSE = 0.3, 0.7  # ops.sdf_render's defaults, which the library CLIP's renders used


def shaded_views(field, cameras: torch.Tensor, size: int, fov: float, weight_thres: float,
                 ambient: float = AMBIENT, diffuse: float = DIFFUSE) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable grey renders of the field's density: shading on black (V, 1, H, W), premultiplied
    by coverage, and transmittance (V, 1, H, W)."""
    grid = field.density
    device = grid.values.device
    shades, transmittances = [], []
    for c2w in cameras:
        rays_o, rays_d = pixel_rays(c2w, size, size, fov, device=device)
        samples = field.march(rays_o, rays_d, weight_thres)
        normals = grid.normals(samples.points(rays_o, rays_d), differentiable=True)
        lambert = (normals * -rays_d[samples.ray_ids]).sum(-1).clamp_min(0)
        shade = ops.composite(samples, (ambient + diffuse * lambert)[:, None], 0.0)
        shades.append(shade.reshape(1, size, size))
        transmittances.append(samples.T_final.reshape(1, size, size))
    return torch.stack(shades), torch.stack(transmittances)


def solid_composite(shading: torch.Tensor, transmittance: torch.Tensor, objects: torch.Tensor,
                    backgrounds: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) images: object colour (N, 3) times the shading (N, 1, H, W) over a solid background
    colour (N, 3) through the transmittance, as the library CLIP's training images are composed."""
    return (objects[:, :, None, None] * shading + backgrounds[:, :, None, None] * transmittance).clamp(0, 1)
