"""Pinhole cameras on a sphere around the origin, and their rays (conventions in docs/ARCHITECTURE.md):
right-handed, +Y up; OpenGL-style cameras look down their -Z; az = el = 0 sits on +Z; fov is vertical."""
from __future__ import annotations

import math

import torch


def sphere_position(radius: float, azimuth: float, elevation: float) -> torch.Tensor:
    """radius * (cos(el) sin(az), sin(el), cos(el) cos(az)), angles in degrees: (3,) float64."""
    az, el = math.radians(azimuth), math.radians(elevation)
    return torch.tensor([radius * math.cos(el) * math.sin(az), radius * math.sin(el),
                         radius * math.cos(el) * math.cos(az)], dtype=torch.float64)


def look_at(position: torch.Tensor, target=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """Camera-to-world (4, 4) of a camera at ``position`` looking at ``target`` with +Y up."""
    position = torch.as_tensor(position, dtype=torch.float64)
    back = position - torch.as_tensor(target, dtype=torch.float64)  # the camera's +Z
    if back.norm() == 0:
        raise ValueError("camera position and target coincide")
    back = back / back.norm()
    up = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    if torch.abs(back @ up) > 1 - 1e-9:  # looking straight up or down: any right vector will do
        up = torch.tensor([0.0, 0.0, -1.0 if back[1] > 0 else 1.0], dtype=torch.float64)
    right = torch.linalg.cross(up, back)
    right = right / right.norm()
    c2w = torch.eye(4, dtype=torch.float64)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, torch.linalg.cross(back, right), back, position
    return c2w


def orbit_camera(radius: float, azimuth: float, elevation: float) -> torch.Tensor:
    """Camera-to-world (4, 4) of a camera on the sphere looking at the origin."""
    return look_at(sphere_position(radius, azimuth, elevation))


def orbit_cameras(radius: float, azimuths, elevations) -> torch.Tensor:
    """Camera-to-world (V, 4, 4) of cameras on the sphere looking at the origin, one per (azimuth,
    elevation) pair (degrees)."""
    return torch.stack([orbit_camera(radius, float(a), float(e)) for a, e in zip(azimuths, elevations)])


def random_orbit_cameras(n_views: int, radius: float, gen: torch.Generator,
                         elevation_range: tuple[float, float] = (-15.0, 60.0)) -> torch.Tensor:
    """Cameras all around the object from ``gen``: azimuth uniform in [0, 360), elevation uniform in
    ``elevation_range`` (degrees). (V, 4, 4) float64."""
    lo, hi = elevation_range
    azimuths = torch.rand(n_views, generator=gen, dtype=torch.float64) * 360.0
    elevations = lo + torch.rand(n_views, generator=gen, dtype=torch.float64) * (hi - lo)
    return orbit_cameras(radius, azimuths.tolist(), elevations.tolist())


def dataset_views(n_views: int = 24, radius: float = 4.0, seed: int = 0,
                  random_azimuth: bool = False) -> torch.Tensor:
    """The view set Dream3D renders each shape from: azimuth in [-90, 90] (evenly spaced, or uniform at
    random), elevation uniform at random in [20, 30]; drawn from ``seed``. (V, 4, 4) float64."""
    if n_views < 1:
        raise ValueError(f"n_views must be >= 1, got {n_views}")
    gen = torch.Generator().manual_seed(seed)
    if random_azimuth:
        azimuths = torch.rand(n_views, generator=gen, dtype=torch.float64) * 180.0 - 90.0
    else:
        azimuths = torch.linspace(-90.0, 90.0, n_views, dtype=torch.float64)
    elevations = torch.rand(n_views, generator=gen, dtype=torch.float64) * 10.0 + 20.0
    return orbit_cameras(radius, azimuths.tolist(), elevations.tolist())


def turntable(n_views: int, radius: float = 4.0, elevation: float = 20.0) -> torch.Tensor:
    """n_views cameras at one elevation, azimuth 360 * i / n_views degrees: (V, 4, 4) float64."""
    if n_views < 1:
        raise ValueError(f"n_views must be >= 1, got {n_views}")
    return orbit_cameras(radius, [360.0 * i / n_views for i in range(n_views)], [elevation] * n_views)


def focal_length(height: int, fov: float) -> float:
    """Focal length in pixels of a pinhole camera with vertical field of view ``fov`` degrees."""
    return 0.5 * height / math.tan(math.radians(fov) / 2)


def pixel_rays(c2w: torch.Tensor, height: int, width: int, fov: float, pixels: torch.Tensor | None = None,
               dtype=torch.float32, device="cpu"):
    """Origins and unit directions through pixel centres, row 0 at the top.

    Returns (H * W, 3) tensors in row-major pixel order, or one ray per (row, col) in ``pixels`` (P, 2).
    """
    if pixels is None:
        rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        pixels = torch.stack([rows.flatten(), cols.flatten()], dim=-1)
    focal = focal_length(height, fov)
    rows, cols = pixels[:, 0].to(torch.float64), pixels[:, 1].to(torch.float64)
    dirs_cam = torch.stack([(cols + 0.5 - width / 2) / focal, -(rows + 0.5 - height / 2) / focal,
                            -torch.ones_like(rows)], dim=-1)
    dirs = dirs_cam @ c2w[:3, :3].T
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    origins = c2w[:3, 3].expand_as(dirs)
    return origins.to(dtype=dtype, device=device).contiguous(), dirs.to(dtype=dtype, device=device)
