"""The stage-2 field built from the prior (paper eq. 9) and its optimiser."""
from __future__ import annotations

import math

import torch

from ..field import ColorMLP, DensityGrid, DVGOField, FeatureGridColor, surface_density
from ..shape import SDFGrid
from .config import RunConfig
from .priors import resample


def build_field(config: RunConfig, grid: SDFGrid, resolution: int, device) -> DVGOField:
    """The field initialised from the prior at ``resolution`` (paper eq. 9); the colour model's initial
    weights come from the run's seed. color_model "mlp": the paper's MLP on a positional encoding of x
    (eq. 6c); "grid": DVGO's feature grid (k0) at the density's resolution with a small MLP on the
    gathered features (on the CPU preview it is 1.4x slower per step than the MLP: the 12-channel
    scatter of its backward costs more than the deeper MLP)."""
    torch.manual_seed(config.seed)
    if config.prior == "none":  # the w/o-prior ablation: DVGO's (and DreamFields') empty init
        density = empty_density(resolution, grid)
    else:
        sdf = resample(grid, resolution).values.to(device)
        density = (DensityGrid.from_sdf_linear(sdf, surface_density(config.beta), config.init_slope,
                                               xyz_min=grid.xyz_min, xyz_max=grid.xyz_max)
                   if config.density_init == "linear" else
                   DensityGrid.from_sdf(sdf, beta=config.beta, xyz_min=grid.xyz_min, xyz_max=grid.xyz_max))
    if config.color_model == "grid":
        color = FeatureGridColor(resolution, config.color_grid_channels, config.color_width,
                                 xyz_min=grid.xyz_min, xyz_max=grid.xyz_max)
    else:
        color = ColorMLP(config.color_frequencies, config.color_width, config.color_depth, config.color_normals)
    return DVGOField(density, color).to(device)


# The empty init's opacity per voxel: DVGO's alpha_init for a grid trained without a coarse stage. At the
# prior runs' 1e-6 every sample weighs less than weight_thres, so the renderer keeps none and the only
# gradient (through the background's transmittance) is smaller than Adam's eps: the field never grows.
EMPTY_ALPHA_PER_VOXEL = 1e-2


def empty_density(resolution: int, grid: SDFGrid) -> DensityGrid:
    """Every voxel at the same density, EMPTY_ALPHA_PER_VOXEL of opacity across one voxel (as DVGO's
    alpha_init, whose interval is the voxel), under the prior runs' activation shift, so that the field
    file and its readers stay the same."""
    density = DensityGrid.empty(resolution, xyz_min=grid.xyz_min, xyz_max=grid.xyz_max)
    voxel = (grid.xyz_max[0] - grid.xyz_min[0]) / (resolution - 1)
    sigma = -math.log1p(-EMPTY_ALPHA_PER_VOXEL) / voxel  # per unit of world length, as the renderer's
    with torch.no_grad():
        density.values.fill_(density.raw_for(sigma))
    return density


def make_optimizer(config: RunConfig, field: DVGOField) -> torch.optim.Adam:
    """Adam with DVGO's split: the grids (density, and a colour feature grid) at their own rates, the
    MLP weights at lr_color."""
    groups = [{"params": list(field.density.parameters()), "lr": config.lr_grid}]
    features = [p for name, p in field.color.named_parameters() if name == "features"]
    if features:
        groups.append({"params": features, "lr": config.lr_color_grid})
    groups.append({"params": [p for name, p in field.color.named_parameters() if name != "features"],
                   "lr": config.lr_color})
    for group in groups:
        group["initial_lr"] = group["lr"]  # decay_lr's reference, kept in the optimiser's checkpoint
    return torch.optim.Adam(groups)
