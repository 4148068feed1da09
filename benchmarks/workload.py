"""Deterministic benchmark workloads: a sphere SDF turned into a DVGO density grid (the paper's eq. 9),
seen by pinhole cameras on a sphere of radius 4 looking at the origin; DVGO settings.

Everything comes from a fixed seed, so runs on different machines and commits time the same work.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from dream3d import ops
from dream3d.scene import orbit_rays, sphere_density
from dream3d.ops.volume_render_ref import March, volume_render_ref

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


@dataclass
class RenderWorkload:
    grid: int
    n_rays: int
    density: torch.Tensor
    rays_o: torch.Tensor
    rays_d: torch.Tensor
    march: March  # half-voxel steps, alpha_init 1e-6, the defaults

    @property
    def name(self) -> str:
        return f"sphere {self.grid}^3, {self.n_rays} rays"

    def render(self, density: torch.Tensor, backend: str) -> ops.RenderSamples:
        return ops.volume_render(density, self.rays_o, self.rays_d, BOX[:3], BOX[3:], self.march, backend=backend)

    @functools.cached_property
    def marched(self) -> ops.RenderSamples:
        """Every sample the march visits: the reference keeps them all with weight_thres=-1 (which the
        public API rejects)."""
        every_sample = self.march._replace(weight_thres=-1.0)
        ray_ids, step_ids, t, weights, t_final = volume_render_ref(
            self.density, self.rays_o, self.rays_d, BOX, every_sample)
        return ops.RenderSamples(ray_ids, t, weights, t_final, step_ids)


@functools.lru_cache(maxsize=None)
def render_workload(grid: int, n_rays: int, device: str) -> RenderWorkload:
    step_size = 0.5 * (BOX[3] - BOX[0]) / (grid - 1)
    march = March(step_size=step_size, act_shift=ACT_SHIFT, interval=0.5)
    rays = (r.to(device) for r in orbit_rays(n_rays, seed=SEED))
    return RenderWorkload(grid, n_rays, sphere_density(grid).to(device), *rays, march)


@functools.lru_cache(maxsize=None)
def ray_points(n_points: int, device: str) -> torch.Tensor:
    """(n_points, 3) sample positions in ray order, as DVGO queries its feature grids: the first
    n_points samples marched by the 128^3 / 4096-ray render workload."""
    work = render_workload(128, 4096, device)
    return work.marched.points(work.rays_o, work.rays_d)[:n_points].contiguous()
