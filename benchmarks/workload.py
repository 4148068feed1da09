"""Deterministic benchmark workloads: a sphere density grid seen by pinhole cameras, DVGO settings.

Everything comes from a fixed seed, so runs on different machines and commits time the same work.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dream3d import ops
from dream3d.ops.volume_render_ref import volume_render_ref

BOX = (-1.0, -1.0, -1.0, 1.0, 1.0, 1.0)
ACT_SHIFT = ops.act_shift_from_alpha_init(1e-6)
SEED = 0


def devices() -> list[str]:
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def backends(device: str) -> list[str]:
    """The backends to time on ``device``; Triton's CPU interpreter is far too slow to be worth timing."""
    return [b for b in ops.available_backends(device) if not (device == "cpu" and b == "triton")]


def random(*shape: int, device: str, seed: int = SEED) -> torch.Tensor:
    """Uniform [0, 1) values drawn on the CPU from ``seed``, so every device gets the same numbers."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)).to(device)


def sphere_density(n: int, device: str, radius: float = 0.6, width: float = 0.05, peak: float = 20.0):
    """(n, n, n) raw density over BOX: +peak inside the sphere, -peak outside, a linear ramp across a
    shell ``width`` thick. With alpha_init 1e-6 the outside is near-empty and a ray entering the sphere
    stops (T < t_thres) a few samples in."""
    axis = torch.linspace(-1.0, 1.0, n, device=device)
    x, y, z = torch.meshgrid(axis, axis, axis, indexing="ij")
    sdf = (x * x + y * y + z * z).sqrt() - radius
    return (-sdf / width).clamp(-1.0, 1.0) * peak


def camera_rays(n_rays: int, device: str, n_cameras: int = 8, distance: float = 4.0,
                fov_deg: float = 40.0, resolution: int = 256):
    """(rays_o, rays_d) through random pixels of pinhole cameras looking at the origin, evenly spaced in
    azimuth at +-30 degrees elevation on a sphere of radius ``distance``; unit directions."""
    gen = torch.Generator().manual_seed(SEED)
    azimuth = torch.arange(n_cameras) * (2 * math.pi / n_cameras)
    elevation = torch.where(torch.arange(n_cameras) % 2 == 0, 1.0, -1.0) * math.radians(30.0)
    eye = distance * torch.stack([elevation.cos() * azimuth.cos(), elevation.cos() * azimuth.sin(),
                                  elevation.sin()], dim=-1)
    forward = F.normalize(-eye, dim=-1)
    world_up = torch.tensor([0.0, 0.0, 1.0]).expand_as(forward)
    right = F.normalize(torch.cross(forward, world_up, dim=-1), dim=-1)
    up = torch.cross(right, forward, dim=-1)
    cam = torch.randint(n_cameras, (n_rays,), generator=gen)
    pixel = torch.randint(resolution, (n_rays, 2), generator=gen)
    uv = ((pixel + 0.5) / resolution * 2 - 1) * math.tan(math.radians(fov_deg) / 2)
    rays_d = F.normalize(forward[cam] + uv[:, :1] * right[cam] - uv[:, 1:] * up[cam], dim=-1)
    return eye[cam].to(device), rays_d.to(device)


@dataclass
class RenderWorkload:
    grid: int
    n_rays: int
    density: torch.Tensor
    rays_o: torch.Tensor
    rays_d: torch.Tensor
    params: dict  # volume_render's keyword arguments: half-voxel steps, alpha_init 1e-6, the defaults

    @property
    def name(self) -> str:
        return f"sphere {self.grid}^3, {self.n_rays} rays"

    def render(self, density: torch.Tensor, backend: str) -> ops.RenderSamples:
        return ops.volume_render(density, self.rays_o, self.rays_d, BOX[:3], BOX[3:], backend=backend,
                                 **self.params)

    @functools.cached_property
    def marched(self) -> ops.RenderSamples:
        """Every sample the march visits: the reference keeps them all with weight_thres=-1 (which the
        public API rejects)."""
        params = {**self.params, "weight_thres": -1.0}
        ray_ids, step_ids, t, weights, t_final = volume_render_ref(
            self.density, self.rays_o, self.rays_d, BOX, **params)
        return ops.RenderSamples(ray_ids, t, weights, t_final, step_ids)


@functools.lru_cache(maxsize=None)
def render_workload(grid: int, n_rays: int, device: str) -> RenderWorkload:
    step_size = 0.5 * (BOX[3] - BOX[0]) / (grid - 1)
    params = dict(step_size=step_size, act_shift=ACT_SHIFT, interval=0.5, near=0.0, far=1e10, t_thres=1e-4,
                  weight_thres=0.0)
    return RenderWorkload(grid, n_rays, sphere_density(grid, device), *camera_rays(n_rays, device), params)


@functools.lru_cache(maxsize=None)
def ray_points(n_points: int, device: str) -> torch.Tensor:
    """(n_points, 3) sample positions in ray order, as DVGO queries its feature grids: the first
    n_points samples marched by the 128^3 / 4096-ray render workload."""
    work = render_workload(128, 4096, device)
    return work.marched.points(work.rays_o, work.rays_d)[:n_points].contiguous()
