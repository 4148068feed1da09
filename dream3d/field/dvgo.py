"""The DVGO radiance field of stage 2: a raw density voxel grid rendered by the fused ops, and a
colour model evaluated only on the packed samples that matter."""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .. import ops
from ..ops.sdf_density_ref import inverse_softplus
from ..shape.sdf_grid import resample_values
from .encoding import PositionalEncoding


class FieldRender(NamedTuple):
    rgb: torch.Tensor  # (R, 3) composited over the background
    opacity: torch.Tensor  # (R,) 1 - T_final
    depth: torch.Tensor | None  # (R,) expected t of the ray's samples (0 where empty); None if not asked
    samples: ops.RenderSamples


# How far outside the surface the linear init keeps V linear in the SDF (DensityGrid.from_sdf_linear):
# past sqrt(3) voxels, the longest a cell's corner can lie from a surface crossing the cell.
LINEAR_VOXELS = 2.0


def surface_density(beta: float) -> float:
    """The density eq. 9 gives the SDF's zero level, sigmoid(0) / beta = 1 / (2 beta): the linear init's
    surface density and the mesh level of a field whose surfaces stay where the prior put them."""
    return 1.0 / (2.0 * beta)


class DensityGrid(nn.Module):
    """A raw DVGO density grid over a bbox, post-activated as softplus(V + act_shift)."""

    def __init__(self, values: torch.Tensor, xyz_min=(-1.0, -1.0, -1.0), xyz_max=(1.0, 1.0, 1.0),
                 alpha_init: float = 1e-6):
        super().__init__()
        if values.dim() != 3 or min(values.shape) < 2:
            raise ValueError(f"density values must be (X, Y, Z) with X, Y, Z >= 2, got {tuple(values.shape)}")
        self.values = nn.Parameter(values.detach().clone().float())
        self.register_buffer("xyz_min", torch.tensor(xyz_min, dtype=torch.float32))
        self.register_buffer("xyz_max", torch.tensor(xyz_max, dtype=torch.float32))
        self._read_bbox()
        self.register_load_state_dict_post_hook(lambda module, _: module._read_bbox())
        self.alpha_init = alpha_init
        self.act_shift = ops.act_shift_from_alpha_init(alpha_init)

    def _read_bbox(self) -> None:
        """The bbox as Python floats (what the ops take), read from the buffers once rather than from
        the device on every render."""
        self.box_min, self.box_max = tuple(self.xyz_min.tolist()), tuple(self.xyz_max.tolist())

    @classmethod
    def empty(cls, resolution: int, alpha_init: float = 1e-6, **bbox) -> "DensityGrid":
        """DVGO's init: every voxel starts at alpha_init."""
        return cls(torch.zeros(resolution, resolution, resolution), alpha_init=alpha_init, **bbox)

    @classmethod
    def from_sdf(cls, sdf: torch.Tensor, beta: float = 0.05, alpha_init: float = 1e-6,
                 compensate_shift: bool = True, **bbox) -> "DensityGrid":
        """The paper's prior initialisation (eq. 9). With compensate_shift (the default) the rendered
        density softplus(V + b) equals the paper's Sigma above the alpha_init floor, so the prior's
        surface renders where the SDF puts it; without it (eq. 9 verbatim) the shift b thins the
        whole shape (see ops.sdf_to_density)."""
        shift = ops.act_shift_from_alpha_init(alpha_init) if compensate_shift else None
        with torch.no_grad():
            values = ops.sdf_to_density(sdf.float(), beta, act_shift=shift)
        return cls(values, alpha_init=alpha_init, **bbox)

    @classmethod
    def from_sdf_linear(cls, sdf: torch.Tensor, surface_density: float, slope: float, alpha_init: float = 1e-6,
                        **bbox) -> "DensityGrid":
        """A sharp initialisation: the raw density linear in the SDF, softplus(V + b) = surface_density
        on the zero level and V falling by ``slope`` per voxel outwards (rising inwards). The renderer
        interpolates V trilinearly, as the SDF renderer interpolates the SDF, so every level set of V
        is one of the SDF's: the field renders the prior's edges, thin parts and gaps as the prior
        does, where eq. 9 saturates inside and, crossed at a grazing angle, renders every silhouette
        fat. V stays linear out to LINEAR_VOXELS outside the surface, where it is floored (a density
        of about e^(-2 slope)): every corner of a cell that the surface crosses lies within sqrt(3) voxels of
        it, so each such cell interpolates the SDF's ramp. A floor nearer the surface clamps the outer
        corners and moves the cell's level sets outwards, the more the steeper the slope (at 150 a
        voxel, a floor 0.4 voxel out rendered the bench's slats half a voxel fat)."""
        grid = cls(torch.zeros_like(sdf), alpha_init=alpha_init, **bbox)
        surface = grid.raw_for(surface_density)
        with torch.no_grad():
            floor = surface - slope * LINEAR_VOXELS
            grid.values.copy_((surface - slope * sdf.float() / grid.voxel_size).clamp_min(floor))
        return grid

    def raw_for(self, density):
        """The grid value V that renders as ``density`` (softplus(V + act_shift) = density): a float for
        a float, elementwise for a tensor."""
        if isinstance(density, torch.Tensor):
            return inverse_softplus(density) - self.act_shift
        return float(inverse_softplus(torch.tensor(float(density), dtype=torch.float64))) - self.act_shift

    @property
    def resolution(self) -> tuple[int, int, int]:
        return tuple(self.values.shape)

    @property
    def voxel_size(self) -> float:
        """The smallest voxel edge, in float32 as the buffers hold the bbox (computed on the host)."""
        extent = torch.tensor(self.box_max) - torch.tensor(self.box_min)
        return float((extent / (torch.tensor(self.resolution) - 1).to(extent)).min())

    @torch.no_grad()
    def upsample(self, resolution: int) -> None:
        """Coarse-to-fine: resample the grid to resolution^3 (trilinear, corners kept in place)."""
        self.values = nn.Parameter(resample_values(self.values, resolution))

    def normals(self, points: torch.Tensor, spacing: float = 1.0, differentiable: bool = False) -> torch.Tensor:
        """Unit normals (N, 3) out of the density at ``points``: minus its gradient, by central
        differences ``spacing`` voxels apart on the raw grid. Not differentiated unless
        ``differentiable`` (the colour MLP reads them, and the geometry is fitted by the opacities;
        shaded guidance moves the geometry through them)."""
        with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
            offsets = torch.eye(3, dtype=points.dtype, device=points.device) * (spacing * self.voxel_size)
            probes = torch.cat([points[None] + offsets[:, None], points[None] - offsets[:, None]])
            read = ops.trilinear(self.values[None], probes, self.box_min, self.box_max)[..., 0]
            return -torch.nn.functional.normalize((read[:3] - read[3:]).T, dim=-1, eps=1e-8)


class ColorMLP(nn.Module):
    """rgb = sigmoid(MLP(gamma(x))): a shallow MLP on a positional encoding of the position (eq. 6c).

    With ``normals`` the MLP also reads the density's normal at x (as Voxurf's and IDR's colour
    networks do): shading is a smooth function of the normal, where as a function of the position
    alone it changes within a voxel across every edge and thin part, which the encoding's high
    frequencies can only draw as an axis-aligned stipple. DVGOField supplies ``normal_fn``."""

    def __init__(self, n_frequencies: int = 6, width: int = 128, depth: int = 3, normals: bool = False):
        super().__init__()
        self.encoding = PositionalEncoding(n_frequencies)
        self.uses_normals = normals
        self.normal_fn = None
        layers, dim = [], self.encoding.output_dim() + (3 if normals else 0)
        for _ in range(depth - 1):
            layers += [nn.Linear(dim, width), nn.ReLU(inplace=True)]
            dim = width
        self.mlp = nn.Sequential(*layers, nn.Linear(dim, 3))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        features = self.encoding(points)
        if self.uses_normals:
            if self.normal_fn is None:
                raise RuntimeError("this colour MLP reads normals: use it inside a DVGOField, which supplies them")
            features = torch.cat([features, self.normal_fn(points)], dim=-1)
        return torch.sigmoid(self.mlp(features))


class FeatureGridColor(nn.Module):
    """DVGO's colour: a C-channel feature grid gathered at the samples, then a small MLP."""

    def __init__(self, resolution: int, channels: int = 12, width: int = 128, xyz_min=(-1.0, -1.0, -1.0),
                 xyz_max=(1.0, 1.0, 1.0)):
        super().__init__()
        # small noise rather than DVGO's zeros, so the MLP's first layer gets a gradient from step one
        self.features = nn.Parameter(torch.randn(channels, resolution, resolution, resolution) * 1e-2)
        self.xyz_min, self.xyz_max = tuple(xyz_min), tuple(xyz_max)
        self.mlp = nn.Sequential(nn.Linear(channels, width), nn.ReLU(inplace=True), nn.Linear(width, 3))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(ops.trilinear(self.features, points, self.xyz_min, self.xyz_max)))

    @torch.no_grad()
    def upsample(self, resolution: int) -> None:
        self.features = nn.Parameter(resample_values(self.features, resolution))


class DVGOField(nn.Module):
    """Density grid + colour model, rendered with the fused volume renderer.

    Densities are per unit of world length (like the paper's Sigma = sigmoid(-sdf / beta) / beta), so
    a sample's alpha is 1 - exp(-softplus(V + b) * step) with the step in world units.
    """

    def __init__(self, density: DensityGrid, color: nn.Module, steps_per_voxel: float = 2.0):
        super().__init__()
        self.density, self.color = density, color
        self.steps_per_voxel = steps_per_voxel
        if getattr(color, "uses_normals", False):
            color.normal_fn = density.normals  # a bound method, not a submodule: no parameter is shared

    @property
    def step_size(self) -> float:
        """Distance between samples in world units (steps_per_voxel per voxel); also the activation's
        interval, since densities are per unit of world length."""
        return self.density.voxel_size / self.steps_per_voxel

    def march(self, rays_o: torch.Tensor, rays_d: torch.Tensor, weight_thres: float = 0.0,
              backend: str = "auto") -> ops.RenderSamples:
        """The density grid's samples along the rays that weigh more than weight_thres (ops.volume_render)."""
        grid, step = self.density, self.step_size
        march = ops.March(step_size=step, act_shift=grid.act_shift, interval=step, weight_thres=weight_thres)
        return ops.volume_render(grid.values, rays_o, rays_d, grid.box_min, grid.box_max, march, backend=backend)

    def render(self, rays_o: torch.Tensor, rays_d: torch.Tensor, bg=1.0, backend: str = "auto",
               weight_thres: float = 0.0, depth: bool = True) -> FieldRender:
        """Renders rays (R, 3) with unit directions; bg as in ops.composite. Samples with weight <=
        weight_thres are dropped before the colour model (DVGO's fast_color_thres, e.g. 1e-4): in empty
        space every sample has alpha_init's tiny weight, and colouring them all dominates the cost.
        depth=False skips the depth composite (FieldRender.depth is then None)."""
        samples = self.march(rays_o, rays_d, weight_thres, backend)
        colors = self.color(samples.points(rays_o, rays_d))
        rgb = ops.composite(samples, colors, bg)
        expected_t = ops.composite(samples, samples.t[:, None], 0.0)[:, 0] if depth else None
        return FieldRender(rgb, 1.0 - samples.T_final, expected_t, samples)

    def upsample(self, resolution: int) -> None:
        self.density.upsample(resolution)
        if hasattr(self.color, "upsample"):
            self.color.upsample(resolution)
