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


def pixel_rays(c2w: torch.Tensor, height: int, width: int, fov: float, pixels: torch.Tensor | None = None,
               dtype=torch.float32, device="cpu"):
    """Origins and unit directions through pixel centres, row 0 at the top.

    Returns (H * W, 3) tensors in row-major pixel order, or one ray per (row, col) in ``pixels`` (P, 2).
    """
    if pixels is None:
        rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        pixels = torch.stack([rows.flatten(), cols.flatten()], dim=-1)
    focal = 0.5 * height / math.tan(math.radians(fov) / 2)
    rows, cols = pixels[:, 0].to(torch.float64), pixels[:, 1].to(torch.float64)
    dirs_cam = torch.stack([(cols + 0.5 - width / 2) / focal, -(rows + 0.5 - height / 2) / focal,
                            -torch.ones_like(rows)], dim=-1)
    dirs = dirs_cam @ c2w[:3, :3].T
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    origins = c2w[:3, 3].expand_as(dirs)
    return origins.to(dtype=dtype, device=device).contiguous(), dirs.to(dtype=dtype, device=device)
