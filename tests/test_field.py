"""The DVGO field: initialisation from an SDF prior, rendering through the fused ops, gradients,
coarse-to-fine upsampling."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dream3d import ops
from dream3d.cameras import orbit_camera, pixel_rays
from dream3d.field import ColorMLP, DensityGrid, DVGOField, FeatureGridColor, PositionalEncoding
from dream3d.field.dvgo import LINEAR_VOXELS
from dream3d.scene import sphere_sdf


def test_positional_encoding():
    enc = PositionalEncoding(4)
    x = torch.rand(10, 3)
    out = enc(x)
    assert out.shape == (10, enc.output_dim()) == (10, 27)
    torch.testing.assert_close(out[:, :3], x)
    torch.testing.assert_close(out[:, 3:15].reshape(10, 3, 4)[:, :, 2], torch.sin(4 * torch.pi * x))


@pytest.mark.parametrize("compensate", [False, True])
def test_sdf_prior_renders_the_sphere(compensate):
    grid = DensityGrid.from_sdf(sphere_sdf(48, radius=0.5), compensate_shift=compensate)
    field = DVGOField(grid, ColorMLP(n_frequencies=2, width=32))
    rays_o, rays_d = pixel_rays(orbit_camera(3.0, 20.0, 10.0), 24, 24, 40.0)
    out = field.render(rays_o, rays_d, bg=1.0)
    centre, corner = 12 * 24 + 12, 0
    assert out.opacity[centre] > 0.99 and out.opacity[corner] < 0.01
    torch.testing.assert_close(out.rgb[corner], torch.ones(3), atol=0.01, rtol=0)
    surface = 2.5  # a sphere of radius 0.5 seen from distance 3
    if compensate:  # the rendered density is the prior's: the surface within a voxel
        assert out.depth[centre].item() == pytest.approx(surface, abs=grid.voxel_size)
    else:  # eq. 9 verbatim under the shift: thinner, so the rays reach deeper
        assert out.depth[centre].item() > surface + grid.voxel_size


def test_linear_init_is_the_sdf_scaled_and_renders_its_silhouette_where_eq9_renders_it_fat():
    sdf = sphere_sdf(48, radius=0.5)
    slope = 1200.0
    grid = DensityGrid.from_sdf_linear(sdf, surface_density=40.0, slope=slope)
    voxel, b = grid.voxel_size, grid.act_shift
    # V falls `slope` a voxel outwards through the zero level, where the rendered density is 40, and is
    # floored LINEAR_VOXELS outside
    floor = grid.values.min()
    linear = grid.values > floor
    assert (sdf[linear] < LINEAR_VOXELS * voxel + 1e-6).all() and (sdf[~linear] >= LINEAR_VOXELS * voxel - 1e-6).all()
    fitted = (grid.values[linear] - grid.values[linear].mean()) / (sdf[linear] - sdf[linear].mean()) * voxel
    torch.testing.assert_close(fitted, torch.full_like(fitted, -slope), rtol=1e-3, atol=0)
    at_zero = grid.values[linear][0] + slope * sdf[linear][0] / voxel
    assert F.softplus(at_zero + b).item() == pytest.approx(40.0, rel=1e-4)
    assert F.softplus(floor + b) < 1e-30
    # every cell the surface crosses interpolates the SDF's ramp: near the zero level, V read anywhere
    # is the surface value minus slope x the interpolated SDF (a floor nearer the surface clamped the
    # cells' outer corners and moved their level sets outwards)
    points = torch.nn.functional.normalize(torch.randn(4096, 3), dim=-1) * (0.5 + (torch.rand(4096, 1) - 0.5) * 0.2 * voxel)
    read_v = ops.trilinear(grid.values[None], points, grid.box_min, grid.box_max)[:, 0]
    read_sdf = ops.trilinear(sdf[None], points, grid.box_min, grid.box_max)[:, 0]
    torch.testing.assert_close(read_v, at_zero - slope * read_sdf / voxel, rtol=0, atol=1e-2)
    # the silhouette: a ray passing just outside the sphere stays clear, one just inside turns opaque
    rays_d = torch.tensor([[0.0, 0.0, -1.0]]).expand(2, 3).contiguous()
    rays_o = torch.tensor([[0.5 + 0.25 * voxel, 0.0, 3.0], [0.5 - 0.25 * voxel, 0.0, 3.0]])
    color = ColorMLP(n_frequencies=1, width=8)
    outside, inside = DVGOField(grid, color).render(rays_o, rays_d).opacity.tolist()
    assert outside < 0.01 and inside > 0.99
    eq9_outside = DVGOField(DensityGrid.from_sdf(sdf, beta=0.025), color).render(rays_o, rays_d).opacity[0]
    assert eq9_outside > 0.5  # eq. 9's tail, crossed along the silhouette, renders it fat


@pytest.mark.parametrize("color", ["mlp", "grid"])
def test_gradients_reach_every_parameter(color):
    """Every parameter gets a gradient, and its value is the loss's: central finite differences (float64
    field, the compiled kernels' float64 path where they load) at the entry with the largest gradient and
    at two random entries of each parameter."""
    grid = DensityGrid.from_sdf(sphere_sdf(16))
    model = ColorMLP(2, 16) if color == "mlp" else FeatureGridColor(16, channels=4, width=16)
    field = DVGOField(grid, model).double()
    rays_o, rays_d = pixel_rays(orbit_camera(3.0, 0.0, 0.0), 8, 8, 40.0, dtype=torch.float64)
    bg = torch.rand(3, dtype=torch.float64)

    def loss():
        out = field.render(rays_o, rays_d, bg=bg)
        return out.rgb.square().mean() + out.opacity.mean()

    loss().backward()
    eps = 1e-6
    for name, p in field.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
        flat, grad = p.data.view(-1), p.grad.view(-1)
        for i in [int(grad.abs().argmax())] + torch.randint(0, flat.numel(), (2,)).tolist():
            with torch.no_grad():
                flat[i] += eps
                up = loss().item()
                flat[i] -= 2 * eps
                down = loss().item()
                flat[i] += eps
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - grad[i].item()) <= 1e-8 + 1e-5 * abs(grad[i].item()), \
                f"{name}[{i}]: autograd {grad[i].item()!r}, finite differences {numeric!r}"


def test_upsample_keeps_the_field():
    grid = DensityGrid(torch.randn(9, 9, 9))
    coarse = grid.values.detach().clone()
    grid.upsample(17)
    assert grid.resolution == (17, 17, 17)
    torch.testing.assert_close(grid.values[::2, ::2, ::2], coarse)  # align_corners: old voxels kept
    points = torch.rand(50, 3) * 2 - 1
    before = ops.trilinear(coarse[None], points, [-1] * 3, [1] * 3)
    after = ops.trilinear(grid.values.detach()[None], points, [-1] * 3, [1] * 3)
    torch.testing.assert_close(after, before, atol=1e-5, rtol=0)  # trilinear refinement of trilinear


def test_empty_grid_is_alpha_init():
    grid = DensityGrid.empty(8, alpha_init=1e-3)
    sigma = F.softplus(grid.values + grid.act_shift)
    torch.testing.assert_close(1 - torch.exp(-sigma), torch.full_like(sigma, 1e-3))
    with pytest.raises(ValueError, match="density"):
        DensityGrid(torch.zeros(1, 4, 4))


def test_weight_thres_skips_empty_space_samples():
    field = DVGOField(DensityGrid.from_sdf(sphere_sdf(32, radius=0.5)), ColorMLP(n_frequencies=2, width=16))
    rays_o, rays_d = pixel_rays(orbit_camera(3.0, 30.0, 10.0), 16, 16, 40.0)
    full = field.render(rays_o, rays_d, bg=1.0)
    thin = field.render(rays_o, rays_d, bg=1.0, weight_thres=1e-4)
    assert thin.samples.weights.numel() < full.samples.weights.numel() / 2
    torch.testing.assert_close(thin.rgb, full.rgb, atol=2e-3, rtol=0)


def test_density_normals_point_out_of_the_sphere():
    grid = DensityGrid.from_sdf(sphere_sdf(32, radius=0.5))
    points = F.normalize(torch.randn(64, 3), dim=-1) * 0.5
    torch.testing.assert_close(grid.normals(points), points / 0.5, atol=0.05, rtol=0)


def test_colour_mlp_reads_the_normals_inside_a_field():
    color = ColorMLP(n_frequencies=2, width=16, normals=True)
    with pytest.raises(RuntimeError, match="normals"):
        color(torch.zeros(4, 3))
    field = DVGOField(DensityGrid.from_sdf(sphere_sdf(32, radius=0.5)), color)
    with torch.no_grad():  # the MLP blind to the position: what is left is the normal
        color.mlp[0].weight[:, :-3] = 0
        out, back, further_out = field.color(torch.tensor([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0], [0.55, 0.0, 0.0]]))
    assert not torch.allclose(out, back)
    torch.testing.assert_close(out, further_out)
