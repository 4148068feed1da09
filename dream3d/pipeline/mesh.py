"""The run's mesh: extracted from the trained field where its renders put the surface, closed at the
bbox, coloured by its colour model (vertex colours and a baked texture), written as glb, obj+mtl+png
and ply, and measured against the prior's."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
import trimesh
from scipy.spatial import cKDTree

from .. import ops
from ..cameras import pixel_rays
from ..field import DensityGrid, DVGOField, surface_density
from ..shape import export_mesh, extract_mesh
from ..shape.marching_cubes import NoSurfaceError
from ..shape.mesh_io import export_textured_mesh
from ..shape.sdf_grid import resample_values
from ..shape.texture_bake import bake_texture
from .config import RunConfig
from .views import view_cameras

# Rays that meet the surface head-on measure the level: a grazing ray crosses half opacity sooner
# (its path through a soft surface is longer), which no isosurface can follow.
HEAD_ON_COS = 0.8
MIN_LEVEL_RAYS = 50  # fewer head-on opaque rays than this: the field is too faint to measure
FLOOR_QUANTILE = 0.9  # the share of surface points whose level may lie below the floor
LEVEL_NEIGHBOURS = 8  # surface points whose median gives the level at a grid point
LEVEL_GRID = 64  # the level field's size per axis (it varies slowly), resampled to the mesh's grid
LEVEL_VIEWS, LEVEL_VIEW_SIZE = 16, 128  # ~8000 head-on surface points for a chair at 64^3


class SurfaceLevel(NamedTuple):
    """The density at which the field's rendered surface sits: ``raw`` is the grid's value there
    (before softplus(V + b)), ``density`` the rendered density (both the median over the surface),
    ``rays`` how many head-on rays measured it (0: not measured, the level is 1 / (2 beta): too few rays,
    or a field from the linear init);
    ``points`` (rays, 3) and ``raws`` (rays,) are where each ray met the surface and the grid's value
    there, from which field_mesh takes a level that follows the surface from part to part."""

    raw: float
    density: float
    rays: int
    points: np.ndarray | None = None
    raws: np.ndarray | None = None


def prior_level(grid: DensityGrid, beta: float) -> SurfaceLevel:
    """The level of the prior's zero level set, unmeasured: the density 1 / (2 beta) (surface_density)."""
    density = surface_density(beta)
    return SurfaceLevel(grid.raw_for(density), density, 0)


@torch.no_grad()
def surface_level(field: DVGOField, cameras: torch.Tensor, size: int, fov: float, beta: float) -> SurfaceLevel:
    """Where the field's renders put the surface, as levels of its density grid.

    Each ray from ``cameras`` that reaches half opacity and meets the surface head-on (|cos| >=
    HEAD_ON_COS to the density gradient) gives a surface point and the grid's value there; their
    median is the field's typical level. At initialisation that is the prior's zero level set
    (density near 1 / (2 beta), eq. 9's profile); after training, when surfaces have sharpened, it
    follows the density up (17-23 on the preview's chair, table and airplane) rather than staying in
    the soft shell around them, which the level 1 / (2 beta) wrapped into the mesh."""
    grid = field.density
    values, step = grid.values.detach(), field.step_size
    head_on, peaks, where = [], [], []
    for c2w in cameras:
        rays_o, rays_d = pixel_rays(c2w.cpu(), size, size, fov, device=values.device)
        samples = field.march(rays_o, rays_d)
        points, ray_ids = _half_opacity_points(samples, rays_o, rays_d, step)
        if len(points) == 0:
            continue
        raw = ops.trilinear(values[None], points, grid.box_min, grid.box_max)[:, 0]
        # each ray's peak, for the level of a thin part (_local_levels)
        along = ops.trilinear(values[None], samples.points(rays_o, rays_d), grid.box_min, grid.box_max)[:, 0]
        peak = torch.full((samples.n_rays,), -math.inf, device=values.device)
        peak.scatter_reduce_(0, samples.ray_ids, along, reduce="amax")
        cos = (grid.normals(points, spacing=0.5) * rays_d[ray_ids]).sum(dim=1).abs()
        # where the shape reaches the bbox, rays enter it already dense: the bbox face is the surface there
        lo, hi = torch.tensor(grid.box_min).to(points), torch.tensor(grid.box_max).to(points)
        inner = torch.minimum(points - lo, hi - points).amin(dim=1) > 2 * grid.voxel_size
        keep = (cos >= HEAD_ON_COS) & inner
        head_on.append(raw[keep])
        peaks.append(peak[ray_ids][keep])
        where.append(points[keep])
    raw = torch.cat(head_on) if head_on else torch.zeros(0)
    if len(raw) < MIN_LEVEL_RAYS:
        return prior_level(grid, beta)
    level = float(raw.median())
    # Rays that pass through a soft shell cross half opacity where it is faint; a local level that low
    # would wrap the shell in. Training only sharpens surfaces, so no part's level needs to sit below
    # the prior's (1 / (2 beta)), unless most of the field's surface does (an empty init).
    floor = min(float(torch.quantile(raw, FLOOR_QUANTILE)), grid.raw_for(surface_density(beta)))
    return SurfaceLevel(level, float(F.softplus(torch.tensor(level + grid.act_shift))), len(raw),
                        torch.cat(where).cpu().numpy(), _local_levels(raw, torch.cat(peaks), floor, grid).cpu().numpy())


def _local_levels(raw: torch.Tensor, peak: torch.Tensor, floor: float, grid: DensityGrid) -> torch.Tensor:
    """Each head-on ray's level from its crossing's grid value ``raw`` and the ray's ``peak``. A ray
    through a thin part crosses half opacity near the part's densest core: the level is at most half
    the peak's density, so the part keeps the width at which it renders; then raised to the floor (a
    crossing in a faint shell must not wrap the shell into a thick part), except on a ray whose peak is
    below the floor: that part (a slat, a rail, a lamp's pole, which render opaque though faint) would
    drop out of the mesh entirely, so its level stays at half its peak."""
    half_peak = grid.raw_for((F.softplus(peak + grid.act_shift) / 2).clamp_min(1e-12))
    return torch.where(peak < floor, half_peak, torch.minimum(raw, half_peak).clamp_min(floor))


def _half_opacity_points(samples: ops.RenderSamples, rays_o, rays_d, step: float):
    """Where each ray's accumulated opacity reaches 0.5 (each sample's alpha spread over the step
    centred on it), for the rays that get there; and those rays' ids."""
    n, ids, w = samples.n_rays, samples.ray_ids, samples.weights
    total = torch.cumsum(w, 0)
    counts = torch.bincount(ids, minlength=n)
    before_ray = torch.cat([total.new_zeros(1), total])[torch.cumsum(counts, 0) - counts]
    opacity = total - before_ray[ids]  # per ray, after each sample
    reached = torch.nonzero(opacity >= 0.5)[:, 0]
    first = torch.full((n,), len(w), dtype=torch.long, device=w.device)
    first.scatter_reduce_(0, ids[reached], reached, reduce="amin")
    k = first[first < len(w)]
    frac = ((0.5 - (opacity[k] - w[k])) / w[k].clamp_min(1e-12)).clamp(0.0, 1.0)
    t = samples.t[k] + (frac - 0.5) * step
    rays = ids[k]
    return rays_o[rays] + t[:, None] * rays_d[rays], rays


@torch.no_grad()
def field_mesh(field: DVGOField, level: SurfaceLevel, resolution: int | None = None,
               colors: bool = True) -> trimesh.Trimesh:
    """Marching cubes on the raw density grid (softplus is monotonic, and the renderer interpolates
    the raw grid, so its isosurfaces are the renderer's own), resampled trilinearly to
    ``resolution``^3 when given, closed where it meets the bbox, outside which the renderer sees
    nothing; vertex colours from the field's colour model. The level is local when ``level`` holds
    its surface points (level_field), else ``level.raw`` everywhere."""
    grid = field.density
    values = grid.values.detach().cpu()
    if resolution is not None and resolution != values.shape[0]:
        values = resample_values(values, resolution)
    if level.points is not None and len(level.points) >= MIN_LEVEL_RAYS:
        values = values - level_field(level, values.shape[0], grid.box_min, grid.box_max)
        threshold = 0.0
    else:
        threshold = level.raw
    color_fn = (lambda p: field.color(p.to(grid.values.device))) if colors else None
    return extract_mesh(values, threshold, xyz_min=grid.box_min, xyz_max=grid.box_max, closed=True,
                        color_fn=color_fn)


def level_field(level: SurfaceLevel, resolution: int, box_min, box_max) -> torch.Tensor:
    """The level at each grid point: the median grid value at the LEVEL_NEIGHBOURS nearest points
    where head-on rays met the rendered surface. Training leaves parts at different densities (a
    chair's thin legs stay fainter than its seat while they render as opaque); one level for the
    whole shape drops the faint parts or fattens the dense ones. Computed on a grid of at most
    LEVEL_GRID^3 (the level varies slowly) and resampled."""
    coarse = min(resolution, LEVEL_GRID)
    axes = [np.linspace(lo, hi, coarse) for lo, hi in zip(box_min, box_max)]
    queries = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    k = min(LEVEL_NEIGHBOURS, len(level.points))
    _, nearest = cKDTree(level.points).query(queries, k=k)
    local = np.median(level.raws[nearest.reshape(len(queries), k)], axis=1)
    local = torch.from_numpy(local.astype(np.float32)).reshape((coarse,) * 3)
    return local if coarse == resolution else resample_values(local, resolution)


def measured_level(field: DVGOField, config: RunConfig) -> SurfaceLevel:
    """surface_level over LEVEL_VIEWS views of the run's orbit (its own seed, apart from the training
    and held-out views). A field from the linear init keeps one level: the density it gave the prior's
    zero level, 1 / (2 beta). Its surfaces stay sharp, so the silhouettes the renders show sit there,
    while a head-on ray reaches half opacity ~0.4 voxel further in (the steep ramp is crossed in
    half-voxel steps): a level measured on those rays thinned the chair's mesh to 0.75 of the prior."""
    if config.density_init == "linear":
        return prior_level(field.density, config.beta)
    cams = view_cameras(config, LEVEL_VIEWS, seed_offset=3).to(field.density.values.device)
    return surface_level(field, cams, max(LEVEL_VIEW_SIZE, config.view_size), config.fov, config.beta)


def texture_size(resolution: int) -> int:
    """About 16 texels per grid cell along each axis, as a power of two in [512, 4096]."""
    return int(min(4096, max(512, 2 ** round(math.log2(16 * resolution)))))


def export_meshes(out_dir: Path, field: DVGOField, config: RunConfig) -> dict:
    """Every mesh file of a run: mesh.glb and mesh.obj (+ mesh.mtl, mesh_texture.png) UV-unwrapped
    with the colour baked into a texture, mesh.ply with vertex colours; at config.mesh_resolution
    (default: the field's grid). Returns {"files", "mesh" (the vertex-coloured mesh), and the numbers
    worth logging: the extraction level, its resolution, size, watertightness, volume}."""
    out_dir = Path(out_dir)
    resolution = getattr(config, "mesh_resolution", None) or field.density.resolution[0]
    level = measured_level(field, config)
    mesh = field_mesh(field, level, resolution)
    device = field.density.values.device
    baked = bake_texture(mesh, lambda p: field.color(p.to(device)), size=texture_size(resolution))
    textured = baked.to_trimesh(material_name="mesh_texture")
    files = export_textured_mesh(textured, out_dir / "mesh.glb")
    files += export_textured_mesh(textured, out_dir / "mesh.obj")
    export_mesh(mesh, out_dir / "mesh.ply")
    files.append("mesh.ply")
    return {"files": files, "mesh": mesh, "mesh_level_density": round(level.density, 4),
            "mesh_level_rays": level.rays, "mesh_resolution": resolution, "mesh_vertices": len(mesh.vertices),
            "mesh_faces": len(mesh.faces), "mesh_watertight": bool(mesh.is_watertight),
            "mesh_volume": float(mesh.volume), "texture_size": list(baked.image.shape[:2])}


def export_meshes_or_none(out: Path, field, config: RunConfig, log: Callable[[str], None],
                          command: str = "dream3d") -> dict | None:
    """The field's mesh files and their numbers (export_meshes), or None when it holds no surface (a run
    from the empty init may not have grown one yet): the run still writes its other outputs."""
    try:
        return export_meshes(out, field, config)
    except NoSurfaceError as err:
        log(f"[{command}] warning: the field holds no surface to mesh ({err}); no mesh written")
        return None


def chamfer(a: trimesh.Trimesh, b: trimesh.Trimesh, n_points: int = 20000, seed: int = 0) -> float:
    """Symmetric mean distance from surface samples of each mesh to the other's surface (exact point to
    triangle distances). Nearest neighbours among a second sampling would add that sampling's own
    spacing: 0.007 world units at 20000 points on a chair, a mesh against itself, a third of a voxel
    at 64^3 and more than half of one at 160^3."""
    pa = trimesh.sample.sample_surface(a, n_points, seed=seed)[0]
    pb = trimesh.sample.sample_surface(b, n_points, seed=seed + 1)[0]
    return float((trimesh.proximity.closest_point(b, pa)[1].mean() + trimesh.proximity.closest_point(a, pb)[1].mean()) / 2)
