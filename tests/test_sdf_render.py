"""The SDF renderer: every backend against the torch reference; the reference against closed forms
(plane, sphere, camera inside a sphere) and an independent mesh ray caster (trimesh); gradients;
max_steps; batching and supersampling; bad input; the registered ops; the camera helpers."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import trimesh
from hypothesis import given, settings, strategies as st

from dream3d import ops
from dream3d.cameras import dataset_views, look_at, orbit_camera, orbit_cameras, pixel_rays, turntable
from dream3d.ops.sdf_render_ref import View, camera_rays
from dream3d.scene import grid_coordinates
from helpers import BOX, assert_close_per_element, draw_box, examples, kernel_backends, vector_and_scalar_runs

BACKENDS = kernel_backends()
ALL_BACKENDS = BACKENDS + [("torch", "cpu")]
compiled = pytest.mark.skipif("cpu" not in ops.available_backends("cpu"),
                              reason="compiled extension unavailable")

# float64: the kernels take the reference's decisions (hit, sign change, bbox exit) on values equal to
# rounding, so every output and gradient agrees to rounding.
F64 = dict(rtol=1e-9, atol=1e-10)


def seeded() -> torch.Generator:
    return torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))


def noisy_spheres(batch: int, shape, gen, dtype=torch.float64, box=BOX) -> torch.Tensor:
    """(B, X, Y, Z) SDFs of spheres of random radius and centre, plus noise (so not exactly Euclidean),
    on a grid spanning box. In a non-cubic box the sphere is stretched to an ellipsoid filling the box
    like the sphere fills the cube (a distance bound: the value's slope is at most 1)."""
    axes = [torch.linspace(box[a], box[a + 3], n, dtype=dtype) for a, n in enumerate(shape)]
    p = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
    half = torch.tensor([(box[a + 3] - box[a]) / 2 for a in range(3)], dtype=dtype)
    mid = torch.tensor([(box[a] + box[a + 3]) / 2 for a in range(3)], dtype=dtype)
    radius = torch.rand(batch, 1, 1, 1, generator=gen, dtype=dtype) * 0.3 + 0.4
    centre = (torch.rand(batch, 1, 1, 1, 3, generator=gen, dtype=dtype) - 0.5) * 0.4
    sdf = ((p - mid) / half - centre).norm(dim=-1) - radius
    return (sdf + torch.randn(batch, *shape, generator=gen, dtype=dtype) * 0.03) * half.min()


def random_cameras(batch: int, views: int, gen, box=BOX) -> torch.Tensor:
    """(B, V, 4, 4) cameras 1 to 1.75 half-diagonals away from the box's centre (2 to 3.5 for the cube),
    looking at it from any direction."""
    p = torch.rand(batch * views, 3, generator=gen, dtype=torch.float64).tolist()
    mid = torch.tensor([(box[a] + box[a + 3]) / 2 for a in range(3)], dtype=torch.float64)
    unit = math.dist(box[:3], box[3:]) / (2 * math.sqrt(3))  # 1 for the cube
    cams = []
    for r, az, el in p:
        c2w = orbit_camera((2.0 + 1.5 * r) * unit, 360.0 * az, 150.0 * el - 75.0)
        c2w[:3, 3] += mid
        cams.append(c2w)
    return torch.stack(cams).reshape(batch, views, 4, 4)


def sphere_sdf(n: int, radius: float, dtype=torch.float64) -> torch.Tensor:
    return grid_coordinates(n, dtype).norm(dim=-1) - radius


def render(sdf, c2w, backend, size=(8, 8), fov=40.0, **kwargs):
    return ops.sdf_render(sdf, c2w.to(sdf.device), fov, *size, backend=backend, **kwargs)


def loss_grad(out, sdf, seed: int):
    """d/dsdf of a fixed random linear function of rgb, depth and normal."""
    gen = torch.Generator().manual_seed(seed)
    parts = (out.rgb, out.depth, out.normal)
    weights = [torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device) for x in parts]
    return torch.autograd.grad(sum((w * x).sum() for w, x in zip(weights, parts)), sdf)[0]


@pytest.mark.parametrize("backend,device", BACKENDS)
def test_matches_reference_float64(backend, device):
    @settings(deadline=None, max_examples=examples(backend, 15, 3))
    @given(data=st.data())
    def check(data):
        gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31), label="seed"))
        box = draw_box(data, gen)
        batch, views = data.draw(st.integers(1, 2), label="B"), data.draw(st.integers(1, 2), label="V")
        shape = tuple(data.draw(st.integers(5, 9), label=f"dim{a}") for a in range(3))
        size = (data.draw(st.integers(3, 8), label="H"), data.draw(st.integers(3, 8), label="W"))
        kwargs = dict(
            supersample=data.draw(st.sampled_from([1, 2]), label="supersample"),
            light=data.draw(st.sampled_from(["headlight", (0.3, 1.0, -0.4)]), label="light"),
            step_scale=data.draw(st.sampled_from([0.5, 0.9, 1.5]), label="step_scale"),
            min_step=data.draw(st.sampled_from([1e-3, 0.03]), label="min_step"),
            refine_steps=data.draw(st.sampled_from([0, 6]), label="refine_steps"),
            background=torch.rand(batch, views, 3, generator=gen, dtype=torch.float64).to(device),
            xyz_min=box[:3], xyz_max=box[3:])
        sdf = noisy_spheres(batch, shape, gen, box=box).to(device).requires_grad_()
        c2w = random_cameras(batch, views, gen, box)
        out = render(sdf, c2w, backend, size, **kwargs)
        ref = render(sdf, c2w, "torch", size, **kwargs)
        for name in out._fields:
            torch.testing.assert_close(getattr(out, name), getattr(ref, name), **F64, msg=f"{name} box {box}")
        assert not out.mask.requires_grad  # the mask carries no gradient
        seed = int(torch.randint(0, 2**31, (1,), generator=gen))
        assert_close_per_element(loss_grad(out, sdf, seed), loss_grad(ref, sdf, seed), **F64, msg=f"box {box}")

    check()


@pytest.mark.parametrize("backend,device", BACKENDS)
def test_matches_reference_float32(backend, device):
    """In float32 a ray whose |sdf| sits at eps, or that skims a silhouette, may end differently; at
    most 2% of the pixels may differ in mask, the rest agree to float32 rounding of the march."""
    gen = seeded()
    sdf = noisy_spheres(2, (9, 8, 9), gen, torch.float32).to(device).requires_grad_()
    c2w = random_cameras(2, 2, gen)
    out, ref = render(sdf, c2w, backend, (12, 12)), render(sdf, c2w, "torch", (12, 12))
    same = out.mask == ref.mask
    assert (~same).float().mean() <= 0.02
    for name in ("rgb", "depth", "normal"):
        torch.testing.assert_close(getattr(out, name)[same], getattr(ref, name)[same], rtol=1e-4, atol=1e-4)
    seed = int(torch.randint(0, 2**31, (1,), generator=gen))
    g_out, g_ref = loss_grad(out, sdf, seed), loss_grad(ref, sdf, seed)
    if bool(same.all()):  # per element, above a floor of 1e-5 (measured worst 8e-7 over 150 draws)
        assert_close_per_element(g_out, g_ref, rtol=1e-3, atol=1e-5, msg=backend)


def test_camera_rays_match_pixel_rays():
    c2w = random_cameras(2, 3, seeded())
    o, d = camera_rays(c2w, View(5, 7, 0.5 * 5 / math.tan(math.radians(25.0)), 1))
    for b in range(2):
        for v in range(3):
            o_ref, d_ref = pixel_rays(c2w[b, v], 5, 7, fov=50.0, dtype=torch.float64)
            torch.testing.assert_close(o[b, v].reshape(-1, 3), o_ref, rtol=0, atol=1e-15)
            torch.testing.assert_close(d[b, v].reshape(-1, 3), d_ref, rtol=0, atol=1e-14)


@pytest.mark.parametrize("backend,device", ALL_BACKENDS)
def test_plane_closed_form(backend, device):
    """sdf = z - 0.2 is affine, so trilinear interpolation and the refined hit are exact (eps is tiny, so
    every hit comes from a refined sign change): depth equals the plane's distance along
    cameras.pixel_rays (the in-kernel rays are those rays), the normal is +z, and misses (rays meeting
    the plane outside the bbox) show their own image's background."""
    z0, size = 0.2, (6, 7)
    sdf = (grid_coordinates(5, torch.float64)[..., 2] - z0).expand(2, 5, 5, 5).to(device)
    c2w = torch.stack([orbit_cameras(3.0, [0.0, 35.0], [10.0, 30.0]),
                       orbit_cameras(2.0, [-50.0, 5.0], [60.0, -20.0])])
    bg = torch.rand(2, 2, 3, dtype=torch.float64, generator=seeded()).to(device)
    out = render(sdf, c2w, backend, size, fov=60.0, light=(0.0, 0.0, 2.0), background=bg, eps=1e-12)
    for b in range(2):
        for v in range(2):
            o, d = pixel_rays(c2w[b, v], *size, fov=60.0, dtype=torch.float64, device=device)
            t = (z0 - o[:, 2]) / d[:, 2]
            x = o + t[:, None] * d
            hit = (t > 0) & (x.abs() <= 1).all(dim=-1)
            inside = hit & (x.abs() < 1 - 1e-9).all(dim=-1)  # rays on a bbox face may go either way
            mask = out.mask[b, v].reshape(-1)
            assert torch.equal(mask[inside], torch.ones_like(mask[inside]))
            assert torch.equal(mask[~hit], torch.zeros_like(mask[~hit]))
            torch.testing.assert_close(out.depth[b, v].reshape(-1)[inside], t[inside], rtol=0, atol=1e-9)
            normal = out.normal[b, v].reshape(-1, 3)[inside]
            up = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64, device=device)
            torch.testing.assert_close(normal, up.expand_as(normal), rtol=0, atol=1e-9)
            rgb = out.rgb[b, v].reshape(-1, 3)
            torch.testing.assert_close(rgb[inside], torch.full_like(rgb[inside], 0.8), rtol=0, atol=1e-12)
            torch.testing.assert_close(rgb[~hit], bg[b, v].expand_as(rgb[~hit]), rtol=0, atol=0)


def analytic_sphere_hits(c2w, size, fov, radius):
    """t, unit normal and the distance from the centre to each pixel ray's line (impact parameter)."""
    o, d = pixel_rays(c2w, *size, fov=fov, dtype=torch.float64)
    b = (o * d).sum(-1)
    c = (o * o).sum(-1) - radius**2
    t = -b - (b * b - c).clamp_min(0).sqrt()
    impact = ((o * o).sum(-1) - b * b).clamp_min(0).sqrt()
    return t, F.normalize(o + t[:, None] * d, dim=-1), impact


@pytest.mark.parametrize("backend,device", ALL_BACKENDS)
def test_sphere_closed_form(backend, device):
    """A 48^3 grid of |p| - r: with voxel h, the interpolant is within h^2 / (4 r) of the true distance
    near the surface, so away from the silhouette (impact < r - 2h, where the ray meets the surface at
    more than 60 degrees from grazing) depth is within h^2 / r of the exact hit and the normal within
    h / r of the exact normal; rays passing 2h outside the sphere miss."""
    n, radius, size, fov = 48, 0.6, (24, 24), 40.0
    h = 2.0 / (n - 1)
    c2w = orbit_camera(2.5, 20.0, 15.0)
    out = render(sphere_sdf(n, radius).to(device), c2w[None], backend, size, fov=fov)
    t, normal, impact = analytic_sphere_hits(c2w, size, fov, radius)
    core, outside = impact < radius - 2 * h, impact > radius + 2 * h
    assert core.sum() > 100
    mask, depth = out.mask.reshape(-1).cpu(), out.depth.reshape(-1).cpu()
    assert bool((mask[core] == 1).all()) and bool((mask[outside] == 0).all())
    assert (depth[core] - t[core]).abs().max() <= h * h / radius
    assert (out.normal.reshape(-1, 3).cpu()[core] - normal[core]).norm(dim=-1).max() <= h / radius


@pytest.mark.parametrize("backend,device", ALL_BACKENDS)
def test_camera_inside_sphere(backend, device):
    """A camera inside the surface sees it from inside: the march steps by |sdf| and stops where the
    sign changes, so every ray hits the sphere at depth r with the outward normal along the ray; a
    headlight then lights back faces with the ambient term alone."""
    n, radius = 32, 0.6
    h = 2.0 / (n - 1)
    c2w = look_at(torch.tensor([0.05, -0.1, 0.02], dtype=torch.float64), target=(0.3, 0.2, -1.0))
    out = render(sphere_sdf(n, radius).to(device), c2w[None], backend, (6, 6), fov=90.0)
    o, d = pixel_rays(c2w, 6, 6, fov=90.0, dtype=torch.float64, device=device)
    b = (o * d).sum(-1)
    t = -b + (b * b - (o * o).sum(-1) + radius**2).sqrt()
    assert bool((out.mask == 1).all())
    torch.testing.assert_close(out.depth.reshape(-1), t, rtol=0, atol=h * h / radius)
    torch.testing.assert_close(out.normal.reshape(-1, 3), F.normalize(o + t[:, None] * d, dim=-1), rtol=0,
                               atol=h / radius)
    torch.testing.assert_close(out.rgb, torch.full_like(out.rgb, 0.8 * 0.3), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", ["box", "capsule"])
def test_against_trimesh_ray_caster(shape):
    """An independent oracle: a mesh's SDF on a 32^3 grid (trimesh's signed distance for a rotated box,
    the closed form for a capsule), rendered, against trimesh casting the same pixel rays at the mesh.
    Masks agree except at silhouette pixels (whose 3x3 neighbourhood in the oracle mixes hits and
    misses). Wherever both hit, the hit point lies within half a voxel of the mesh, and depth agrees
    within a voxel where the ray meets the surface less than 60 degrees from its normal (a grazing ray
    divides the interpolant's error near the box's edges by the cosine)."""
    n, size, fov = 32, (40, 40), 40.0
    h = 2.0 / (n - 1)
    points = grid_coordinates(n, torch.float64).reshape(-1, 3)
    if shape == "box":
        mesh = trimesh.creation.box(extents=(1.0, 0.7, 0.9))
        mesh.apply_transform(trimesh.transformations.rotation_matrix(0.5, [1.0, 2.0, 3.0]))
        sdf = -torch.from_numpy(trimesh.proximity.signed_distance(mesh, points.numpy()))  # trimesh: + inside
    else:
        mesh = trimesh.creation.capsule(height=0.8, radius=0.35, count=[48, 48])  # axis z, ends at z = +-0.4
        axis = torch.stack([points[:, 0], points[:, 1], points[:, 2] - points[:, 2].clamp(-0.4, 0.4)], dim=-1)
        sdf = axis.norm(dim=-1) - 0.35
    c2w = orbit_camera(3.0, 30.0, 25.0)
    out = render(sdf.reshape(n, n, n), c2w[None], "auto", size, fov=fov)
    o, d = pixel_rays(c2w, *size, fov=fov, dtype=torch.float64)
    locations, ray_ids, faces = mesh.ray.intersects_location(o.numpy(), d.numpy(), multiple_hits=False)
    ray_ids = torch.from_numpy(ray_ids)
    oracle_depth, cosine = (torch.zeros(o.shape[0], dtype=torch.float64) for _ in range(2))
    oracle_depth[ray_ids] = (torch.from_numpy(locations) - o[ray_ids]).norm(dim=-1)
    cosine[ray_ids] = -(torch.from_numpy(mesh.face_normals[faces]) * d[ray_ids]).sum(-1)
    oracle = (oracle_depth > 0).reshape(size)
    mixed = F.max_pool2d(oracle[None].double(), 3, 1, 1) != -F.max_pool2d(-oracle[None].double(), 3, 1, 1)
    interior = ~mixed[0]
    mask = out.mask[0] > 0.5
    assert bool((mask[interior] == oracle[interior]).all())
    both = (mask & oracle).reshape(-1)
    assert both.sum() > 200
    depth = out.depth.reshape(-1)
    hits = o[both] + depth[both, None] * d[both]
    assert np.abs(trimesh.proximity.signed_distance(mesh, hits.numpy())).max() <= h / 2
    facing = both & (cosine >= 0.5)
    assert (depth[facing] - oracle_depth[facing]).abs().max() <= h


@pytest.mark.parametrize("backend,device", ALL_BACKENDS)
def test_max_steps_bounds_the_march(backend, device):
    """max_steps bounds every ray's samples: on an SDF that never drops below eps and steps of 1.8e-4,
    crossing the bbox would take ~10^4 samples; with max_steps = 20 every ray gives up (a miss). A
    sphere seen from outside needs more than one sample, so max_steps = 1 hits nothing either."""
    c2w = orbit_cameras(3.0, [10.0, 200.0], [20.0, -40.0])[None]
    flat = torch.full((1, 6, 6, 6), 2e-4, dtype=torch.float64, device=device)
    out = render(flat, c2w, backend, (5, 5), eps=1e-4, min_step=1e-9, max_steps=20)
    assert bool((out.mask == 0).all()) and bool((out.depth == 0).all())
    sphere = sphere_sdf(16, 0.5).to(device)[None]
    assert bool((render(sphere, c2w, backend, (5, 5), max_steps=1).mask == 0).all())
    assert bool((render(sphere, c2w, backend, (5, 5)).mask[:, :, 2, 2] == 1).all())


@pytest.mark.parametrize("backend", ["cpu", "torch"])
def test_supersample_is_the_mean_of_sub_pixels(backend):
    """S x S sub-pixel rays are the pixel rays of an image S times larger: rgb and mask are its S x S
    means, depth and normal the means over the sub-pixels that hit."""
    if backend not in ops.available_backends("cpu"):
        pytest.skip("compiled extension unavailable")
    gen = seeded()
    sdf, c2w = noisy_spheres(1, (9, 9, 9), gen), random_cameras(1, 2, gen)
    low = render(sdf, c2w, backend, (5, 6), supersample=2)
    high = render(sdf, c2w, backend, (10, 12))
    def pool(x, channels_last=False):  # 2 x 2 means over the image axes
        x = x.movedim(-1, -3) if channels_last else x
        y = F.avg_pool2d(x.reshape(-1, *x.shape[-2:]), 2).reshape(*x.shape[:-2], x.shape[-2] // 2, -1)
        return y.movedim(-3, -1) if channels_last else y

    torch.testing.assert_close(low.mask, pool(high.mask), **F64)
    torch.testing.assert_close(low.rgb, pool(high.rgb, True), **F64)
    hits = pool(high.mask).clamp_min(1e-12)
    torch.testing.assert_close(low.depth, pool(high.depth * high.mask) / hits, **F64)
    torch.testing.assert_close(low.normal, pool(high.normal * high.mask[..., None], True) / hits[..., None],
                               **F64)


@compiled
def test_batching_and_shapes():
    """A batch renders each grid with its own cameras, like separate calls; (V, 4, 4) cameras are
    shared by every grid; an (X, Y, Z) grid gives outputs without the batch axis; any layout of the
    grid gives the same images."""
    gen = seeded()
    sdf, c2w = noisy_spheres(3, (7, 8, 6), gen), random_cameras(3, 2, gen)
    batched = render(sdf, c2w, "cpu", (4, 5))
    for b in range(3):
        single = render(sdf[b], c2w[b], "cpu", (4, 5))
        assert single.rgb.shape == (2, 4, 5, 3) and single.depth.shape == (2, 4, 5)
        for name in single._fields:
            torch.testing.assert_close(getattr(batched, name)[b], getattr(single, name), rtol=0, atol=0)
    shared = render(sdf, c2w[0], "cpu", (4, 5))
    torch.testing.assert_close(shared.depth[2], render(sdf[2], c2w[0], "cpu", (4, 5)).depth, rtol=0, atol=0)
    permuted = sdf.permute(0, 3, 1, 2).contiguous().permute(0, 2, 3, 1)
    torch.testing.assert_close(render(permuted, c2w, "cpu", (4, 5)).rgb, batched.rgb, rtol=0, atol=0)


def gradcheck_case(backend):
    """A coarse noisy sphere seen by two cameras with 2 x 2 supersampling and a fixed light. eps is tiny
    and the refinement long, so every hit is the converged root that implicit differentiation assumes;
    no ray is close enough to a silhouette for the finite differences to change its mask."""
    gen = torch.Generator().manual_seed(3)
    sdf = noisy_spheres(1, (5, 5, 5), gen).requires_grad_()
    c2w = orbit_cameras(2.5, [30.0, -60.0], [20.0, 35.0])[None]
    kwargs = dict(backend=backend, eps=1e-13, refine_steps=30, min_step=0.05, supersample=2,
                  light=(0.3, 1.0, 0.2))

    def fn(s):
        out = ops.sdf_render(s, c2w, 40.0, 5, 5, **kwargs)
        return out.rgb, out.depth, out.normal

    return fn, sdf


def test_gradcheck_reference():
    fn, sdf = gradcheck_case("torch")
    assert torch.autograd.gradcheck(fn, (sdf,), atol=1e-6, rtol=1e-5)


@compiled
def test_gradcheck_cpu_kernel():
    """The C++ kernels are templated on the scalar type, so the real kernel passes gradcheck."""
    fn, sdf = gradcheck_case("cpu")
    assert torch.autograd.gradcheck(fn, (sdf,), atol=1e-6, rtol=1e-5)


def good_args():
    return dict(sdf=sphere_sdf(4, 0.5, torch.float32), c2w=orbit_camera(3.0, 0.0, 0.0)[None].float(),
                fov=40.0, height=4, width=4)


BAD = [
    ("sdf", TypeError, dict(sdf=np.zeros((4, 4, 4)))),
    ("sdf", TypeError, dict(sdf=torch.zeros(4, 4, 4, dtype=torch.int64))),
    ("sdf", ValueError, dict(sdf=torch.zeros(4, 4))),
    ("sdf", ValueError, dict(sdf=torch.zeros(0, 4, 4, 4))),
    ("sdf", ValueError, dict(sdf=torch.zeros(4, 0, 4))),
    ("sdf", ValueError, dict(sdf=torch.zeros(4, 1, 4))),
    ("sdf", ValueError, dict(sdf=torch.full((4, 4, 4), float("nan")))),
    ("c2w", ValueError, dict(c2w=torch.eye(4))),
    ("c2w", ValueError, dict(c2w=torch.eye(3)[None])),
    ("c2w", ValueError, dict(c2w=torch.zeros(0, 4, 4))),
    ("c2w", ValueError, dict(c2w=torch.full((1, 4, 4), float("inf")))),
    ("c2w", TypeError, dict(c2w=torch.eye(4, dtype=torch.int32)[None])),
    ("fov", ValueError, dict(fov=0.0)),
    ("fov", ValueError, dict(fov=180.0)),
    ("fov", TypeError, dict(fov="wide")),
    ("height", ValueError, dict(height=0)),
    ("width", TypeError, dict(width=4.0)),
    ("supersample", ValueError, dict(supersample=0)),
    ("max_steps", ValueError, dict(max_steps=0)),
    ("refine_steps", ValueError, dict(refine_steps=-1)),
    ("eps", ValueError, dict(eps=0.0)),
    ("step_scale", ValueError, dict(step_scale=-1.0)),
    ("min_step", ValueError, dict(min_step=0.0)),
    ("near", ValueError, dict(near=-1.0)),
    ("near", ValueError, dict(near=2.0, far=1.0)),
    ("light", ValueError, dict(light="sun")),
    ("light", ValueError, dict(light=(0.0, 0.0, 0.0))),
    ("light", ValueError, dict(light=(1.0, 0.0))),
    ("albedo", TypeError, dict(albedo=0.5)),
    ("background", ValueError, dict(background=torch.ones(2, 3))),
    ("background", ValueError, dict(background=(1.0, float("nan"), 0.0))),
    ("ambient", TypeError, dict(ambient=None)),
    ("xyz_min", ValueError, dict(xyz_min=(1.0, 1.0, 1.0))),
    ("backend", ValueError, dict(backend="metal")),
]


@pytest.mark.parametrize("name,error,change", BAD, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD)])
def test_rejects_bad_input(name, error, change):
    with pytest.raises(error, match=name):
        ops.sdf_render(**{**good_args(), **change})


@compiled
def test_registered_ops():
    """opcheck of both ops (schema, fake kernels, autograd registration), and the ops' own checks."""
    gen = seeded()
    sdf, c2w = noisy_spheres(2, (5, 6, 4), gen, torch.float32), random_cameras(2, 2, gen).float()
    bg = torch.rand(2, 2, 3)
    args = [[-1.0, -1.0, -1.0, 1.0, 1.0, 1.0], 4, 5, 6.0, 2]
    trace = [0.0, 1e10, 1e-4, 0.9, 1e-3, 64, 4]
    shading = [0.3, 0.7, [0.8, 0.7, 0.6], [0.0, 1.0, 0.0]]
    torch.library.opcheck(torch.ops.dream3d.sdf_render_forward, (sdf, c2w, bg, *args, *trace, *shading))
    out = torch.ops.dream3d.sdf_render_forward(sdf, c2w, bg, *args, *trace, *shading)
    grads = (torch.randn_like(out[0]), torch.randn_like(out[2]), torch.randn_like(out[3]))
    torch.library.opcheck(torch.ops.dream3d.sdf_render_backward, (sdf, c2w, out[4], *grads, *args, *shading))
    with pytest.raises((ValueError, RuntimeError), match="max_steps"):
        torch.ops.dream3d.sdf_render_forward(sdf, c2w, bg, *args, *trace[:5], 0, 4, *shading)
    with pytest.raises((ValueError, RuntimeError), match="c2w"):
        torch.ops.dream3d.sdf_render_forward(sdf, c2w[:1], bg, *args, *trace, *shading)


def test_camera_helpers():
    views = dataset_views(24, radius=3.0, seed=7)
    assert views.shape == (24, 4, 4)
    torch.testing.assert_close(views, dataset_views(24, radius=3.0, seed=7), rtol=0, atol=0)
    position = views[:, :3, 3]
    torch.testing.assert_close(position.norm(dim=-1), torch.full((24,), 3.0, dtype=torch.float64))
    elevation = torch.rad2deg(torch.asin(position[:, 1] / 3.0))
    azimuth = torch.rad2deg(torch.atan2(position[:, 0], position[:, 2]))
    assert bool(((elevation >= 20 - 1e-9) & (elevation <= 30 + 1e-9)).all())
    torch.testing.assert_close(azimuth, torch.linspace(-90.0, 90.0, 24, dtype=torch.float64))
    random_az = torch.rad2deg(torch.atan2(*dataset_views(24, seed=1, random_azimuth=True)[:, [0, 2], 3].T))
    assert bool((random_az.abs() <= 90).all()) and random_az.std() > 10
    table = turntable(8, radius=2.0, elevation=25.0)
    elevation = torch.rad2deg(torch.asin(table[:, 1, 3] / 2.0))
    torch.testing.assert_close(elevation, torch.full((8,), 25.0, dtype=torch.float64))
    torch.testing.assert_close(table[2], orbit_camera(2.0, 90.0, 25.0))
    with pytest.raises(ValueError, match="n_views"):
        turntable(0)


def test_cpu_vector_path_is_bitwise_the_scalar_path(tmp_path):
    """The CPU kernel samples 8 rays at once with AVX2 where the CPU has it (csrc/common/cpu_simd.h),
    operation for operation as the scalar code: DREAM3D_NO_SIMD=1 forces the scalar path, and the two
    must agree bit for bit, forward and backward, on a batch of random shapes."""
    if "cpu" not in ops.available_backends("cpu"):
        pytest.skip("compiled extension unavailable")
    vector, scalar = vector_and_scalar_runs(
        tmp_path,
        "import torch\n"
        "from dream3d import ops\n"
        "from dream3d.cameras import dataset_views\n"
        "gen = torch.Generator().manual_seed(7)\n"
        "sdf = torch.rand(2, 20, 24, 22, generator=gen) - 0.45\n"
        "sdf.requires_grad_()\n"
        "c2w = torch.stack([dataset_views(3, radius=3.0, seed=s) for s in range(2)]).float()\n"
        "out = ops.sdf_render(sdf, c2w, 40.0, 24, 24, backend='cpu', supersample=2)\n"
        "(out.rgb.sum() + out.depth.sum() + out.normal.sum()).backward()\n"
        "torch.save({'rgb': out.rgb, 'depth': out.depth, 'grad': sdf.grad}, sys.argv[1])\n")
    for key in vector:
        assert torch.equal(vector[key], scalar[key]), key
    assert (vector["depth"] > 0).any()  # the shapes were hit
