"""The camera convention (docs/ARCHITECTURE.md, "Cameras") against facts that do not come from look_at:
+Y world up is up in the image, a camera at azimuth 0 (on +Z) sees +X on its right, and a ball off the
axes lands in the pixels the pinhole projection puts it in, through the rays of cameras.pixel_rays, the
SDF renderer (its own in-kernel rays) and the stage-2 field's volume renderer. A camera rolled by 180
degrees (upside-down renders) or mirrored fails these; the other tests, which take their cameras and
their expected images from the same look_at, would not notice."""
from __future__ import annotations

import math

import pytest
import torch

from dream3d import ops
from dream3d.cameras import focal_length, orbit_camera, pixel_rays
from dream3d.field import ColorMLP, DensityGrid, DVGOField
from dream3d.scene import grid_coordinates
from helpers import kernel_backends

SIZE, FOV, RADIUS = 32, 40.0, 3.0
ALL_BACKENDS = [("torch", "cpu")] + kernel_backends()
# the Triton interpreter on CPU takes 5-40 s a picture: it renders one view (its kernels are compared with
# the reference elsewhere; these tests are about the cameras)
INTERPRETED = [(b, d) for b, d in ALL_BACKENDS if b == "triton" and d == "cpu"]
COMPILED = [c for c in ALL_BACKENDS if c not in INTERPRETED]

# For a camera on the sphere at azimuth az (elevation 0) looking at the origin, by the right-handed
# convention with +Y up: forward -(sin az, 0, cos az), up +Y, right = forward x up = (cos az, 0, -sin az).
# Written out per azimuth (not computed from look_at): az 0 on +Z sees +X on its right, az 90 on +X sees
# -Z, az 180 on -Z sees -X, az 270 on -X sees +Z.
RIGHT = {0.0: (1.0, 0.0, 0.0), 90.0: (0.0, 0.0, -1.0), 180.0: (-1.0, 0.0, 0.0), 270.0: (0.0, 0.0, 1.0)}


def ball_sdf(centre, radius: float = 0.25, n: int = 40) -> torch.Tensor:
    return (grid_coordinates(n, torch.float64) - torch.tensor(centre, dtype=torch.float64)).norm(dim=-1) - radius


def expected_pixel(offset_right: float, offset_up: float) -> tuple[float, float]:
    """(row, col) index coordinates where a point offset right and up from the target, at the target's
    depth RADIUS, projects: pixel (row, col) has its centre at (col + 0.5, row + 0.5), row 0 at the top."""
    f = focal_length(SIZE, FOV)
    return SIZE / 2 - f * offset_up / RADIUS - 0.5, SIZE / 2 + f * offset_right / RADIUS - 0.5


def centroid(mask: torch.Tensor) -> tuple[float, float]:
    """Weighted (row, col) centre of an (H, W) coverage image."""
    mask = mask.detach().cpu().double().reshape(SIZE, SIZE)
    rows, cols = torch.meshgrid(torch.arange(SIZE, dtype=torch.float64), torch.arange(SIZE, dtype=torch.float64),
                                indexing="ij")
    total = mask.sum()
    assert total > 5, "the ball is not in the picture"
    return (float((mask * rows).sum() / total), float((mask * cols).sum() / total))


def assert_lands_at(mask, offset_right, offset_up, what):
    """The ball's coverage centroid within a pixel of its centre's projection (a small ball off the axis
    projects to an ellipse whose centroid moves outward by well under a pixel here), in the quadrant the
    offsets say."""
    row, col = centroid(mask)
    e_row, e_col = expected_pixel(offset_right, offset_up)
    assert abs(row - e_row) < 1.0 and abs(col - e_col) < 1.0, f"{what}: at ({row:.2f}, {col:.2f}), " \
        f"expected ({e_row:.2f}, {e_col:.2f})"


def test_pixel_rays_directions():
    """Pixels right of the centre look towards the camera's right, pixels above it towards +Y, and the
    rays through the middle look at the origin, for cameras all around."""
    for az, right in RIGHT.items():
        c2w = orbit_camera(RADIUS, az, 0.0)
        position = torch.tensor([RADIUS * math.sin(math.radians(az)), 0.0, RADIUS * math.cos(math.radians(az))],
                                dtype=torch.float64)
        torch.testing.assert_close(c2w[:3, 3], position, rtol=0, atol=1e-12)
        pixels = torch.tensor([[SIZE // 2, SIZE - 1], [SIZE // 2, 0], [0, SIZE // 2], [SIZE - 1, SIZE // 2]])
        _, d = pixel_rays(c2w, SIZE, SIZE, FOV, pixels=pixels, dtype=torch.float64)
        right = torch.tensor(right, dtype=torch.float64)
        assert d[0] @ right > 0.3 and d[1] @ right < -0.3, f"az {az}: +right is not on the image's right"
        assert d[2, 1] > 0.3 and d[3, 1] < -0.3, f"az {az}: +Y is not up in the image"
    # looking down from elevation 60: the top row of the image looks further away (and up) than the bottom
    _, d = pixel_rays(orbit_camera(RADIUS, 0.0, 60.0), SIZE, SIZE, FOV, dtype=torch.float64)
    d = d.reshape(SIZE, SIZE, 3)
    assert bool((d[0, :, 1] > d[-1, :, 1]).all()) and bool((d[0, :, 2] < d[-1, :, 2]).all())


@pytest.mark.parametrize("backend,device,azimuth", [(b, d, az) for b, d in COMPILED for az in sorted(RIGHT)]
                         + [(b, d, 90.0) for b, d in INTERPRETED])
def test_sdf_render_puts_the_ball_where_it_is(backend, device, azimuth):
    """A ball 0.5 right of and 0.5 above the origin as the camera sees it lands in the upper right of the
    image, at its centre's projection."""
    centre = [0.5 * r + (0.5 if a == 1 else 0.0) for a, r in enumerate(RIGHT[azimuth])]
    c2w = orbit_camera(RADIUS, azimuth, 0.0)[None].to(device)
    out = ops.sdf_render(ball_sdf(centre).to(device), c2w, FOV, SIZE, SIZE, backend=backend)
    assert_lands_at(out.mask[0], 0.5, 0.5, f"{backend} azimuth {azimuth}")


@pytest.mark.parametrize("backend,device", COMPILED)
def test_sdf_render_up_is_up_from_above(backend, device):
    """From elevation 30 a ball on the +Y axis appears above the image centre and centred left-right,
    one on +X to the right of it."""
    c2w = orbit_camera(RADIUS, 0.0, 30.0)[None].to(device)
    above = ops.sdf_render(ball_sdf([0.0, 0.6, 0.0]).to(device), c2w, FOV, SIZE, SIZE, backend=backend)
    row, col = centroid(above.mask[0])
    assert row < SIZE / 2 - 4 and abs(col - (SIZE / 2 - 0.5)) < 0.5, (row, col)
    right = ops.sdf_render(ball_sdf([0.6, 0.0, 0.0]).to(device), c2w, FOV, SIZE, SIZE, backend=backend)
    row, col = centroid(right.mask[0])
    assert col > SIZE / 2 + 4, (row, col)


@pytest.mark.parametrize("backend,device", COMPILED)
@pytest.mark.parametrize("azimuth", [0.0, 90.0])
def test_field_render_puts_the_ball_where_it_is(backend, device, azimuth):
    """Stage 2's path: the ball's SDF initialises a DVGO density grid (paper eq. 9), rendered through
    ops.volume_render from cameras.pixel_rays; its opacity lands where the pinhole projection says."""
    centre = [0.5 * r + (0.5 if a == 1 else 0.0) for a, r in enumerate(RIGHT[azimuth])]
    field = DVGOField(DensityGrid.from_sdf(ball_sdf(centre, n=32).float()), ColorMLP(n_frequencies=2, width=8))
    field = field.to(device)
    rays_o, rays_d = pixel_rays(orbit_camera(RADIUS, azimuth, 0.0), SIZE, SIZE, FOV, device=device)
    with torch.no_grad():
        out = field.render(rays_o, rays_d, backend=backend, depth=False)
    assert_lands_at(out.opacity, 0.5, 0.5, f"{backend} azimuth {azimuth}")
