"""Small analytic scenes for demos, benchmarks and tests: an SDF sphere as a DVGO density grid, and
rays from cameras orbiting it."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .cameras import orbit_camera, pixel_rays
from .ops import sdf_to_density
from .shape.sdf_grid import grid_points

BOX_MIN = (-1.0, -1.0, -1.0)
BOX_MAX = (1.0, 1.0, 1.0)


def grid_coordinates(resolution: int, dtype=torch.float32) -> torch.Tensor:
    """(R, R, R, 3) voxel positions over the [-1, 1]^3 bbox (align_corners=True)."""
    return grid_points(resolution, BOX_MIN, BOX_MAX, dtype=dtype)


def sphere_sdf(resolution: int, radius: float = 0.6, dtype=torch.float32) -> torch.Tensor:
    return grid_coordinates(resolution, dtype).norm(dim=-1) - radius


def sphere_density(resolution: int, radius: float = 0.6, beta: float = 0.05) -> torch.Tensor:
    """The raw DVGO density of a sphere, initialised from its SDF as the paper does (eq. 9)."""
    return sdf_to_density(sphere_sdf(resolution, radius), beta)


def orbit_rays(n_rays: int, n_cameras: int = 8, radius: float = 4.0, fov: float = 40.0,
               image_size: int = 256, seed: int = 0, dtype=torch.float32):
    """n_rays random pixel rays from n_cameras cameras spread on a sphere of ``radius`` around the
    origin, all looking at it: (n_rays, 3) origins and unit directions."""
    gen = torch.Generator().manual_seed(seed)
    per_camera = -(-n_rays // n_cameras)
    origins, dirs = [], []
    for c in range(n_cameras):
        azimuth = 360.0 * c / n_cameras
        elevation = float(torch.empty(()).uniform_(-30.0, 60.0, generator=gen))
        pixels = torch.randint(0, image_size, (per_camera, 2), generator=gen)
        o, d = pixel_rays(orbit_camera(radius, azimuth, elevation), image_size, image_size, fov, pixels,
                          dtype=dtype)
        origins.append(o)
        dirs.append(d)
    return torch.cat(origins)[:n_rays].contiguous(), torch.cat(dirs)[:n_rays].contiguous()


def position_colors(points: torch.Tensor) -> torch.Tensor:
    """A colour per point from its position in the bbox, for pictures that show the geometry."""
    return F.normalize(points, dim=-1) * 0.5 + 0.5
