"""Shared test inputs: random grids and rays with the edge cases the kernels must get right."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import torch
from hypothesis import strategies as st

from dream3d import ops

BOX = (-1.0, -1.0, -1.0, 1.0, 1.0, 1.0)
# Off-centre boxes with unequal sides: a ray-box or cell computation that uses one axis' bounds for
# another passes on the cube and fails on these.
BOXES = (BOX, (-0.5, 0.0, -2.0, 1.5, 0.25, 2.0), (-3.0, -1.25, 0.5, -0.5, 2.75, 1.5))


def assert_close_per_element(actual: torch.Tensor, expected: torch.Tensor, *, rtol: float, atol: float,
                             msg: str = "") -> None:
    """Every element within atol + rtol * |expected| (a small absolute floor plus a relative part).

    Not divided by the largest element: that hides errors in the small entries (a gradient 16% off
    where it is 1e-4 of the largest passes) and fails when every entry is small (all rays opaque or
    empty). Reports how many elements fail and the worst one."""
    a = actual.detach().cpu().to(torch.float64)
    e = expected.detach().cpu().to(torch.float64)
    assert a.shape == e.shape, f"{msg}: shape {tuple(a.shape)} != {tuple(e.shape)}"
    err = (a - e).abs()
    bound = atol + rtol * e.abs()
    bad = ~(err <= bound) | (a.isnan() != e.isnan())
    bad &= ~(a.isnan() & e.isnan())
    if bool(bad.any()):
        excess = torch.where(bad, (err - bound).nan_to_num(nan=float("inf")), torch.zeros_like(err))
        i = int(excess.flatten().argmax())
        index = tuple(int(j) for j in torch.unravel_index(torch.tensor(i), a.shape)) if a.dim() else ()
        raise AssertionError(
            f"{msg}{': ' if msg else ''}{int(bad.sum())} of {a.numel()} elements beyond atol {atol:g} + rtol "
            f"{rtol:g} * |expected|; worst at {index}: {a.flatten()[i].item()!r} vs {e.flatten()[i].item()!r}")


def devices() -> list[str]:
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def kernel_backends() -> list[tuple[str, str]]:
    """(backend, device) pairs of every non-reference backend that runs here."""
    return [(b, d) for d in devices() for b in ops.available_backends(d) if b != "torch"]


def examples(backend: str, fast: int, slow: int) -> int:
    """Hypothesis examples per test: the Triton interpreter on CPU is slow, so it gets fewer."""
    return slow if backend == "triton" and not torch.cuda.is_available() else fast


def random_box(gen: torch.Generator) -> tuple:
    """A bbox of random centre (within +-2) and unequal sides (about 0.5 to 3)."""
    centre = torch.rand(3, generator=gen, dtype=torch.float64) * 4 - 2
    half = torch.rand(3, generator=gen, dtype=torch.float64) * 1.25 + 0.25
    return tuple((centre - half).tolist() + (centre + half).tolist())


def random_rays(n: int, gen: torch.Generator, dtype=torch.float64, box=BOX):
    """Rays of every kind: from outside towards the box, starting inside, missing, along axes,
    grazing a face or an edge. Directions are unit length."""
    lo = torch.tensor(box[:3], dtype=dtype)
    hi = torch.tensor(box[3:], dtype=dtype)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    kind = torch.arange(n) % 6
    o = centre + half * (torch.rand(n, 3, generator=gen, dtype=dtype) * 6 - 3)
    target = centre + half * (torch.rand(n, 3, generator=gen, dtype=dtype) * 1.6 - 0.8)
    d = target - o
    inside = kind == 1  # origin inside the box, any direction
    o[inside] = centre + half * (torch.rand(int(inside.sum()), 3, generator=gen, dtype=dtype) * 1.8 - 0.9)
    d[inside] = torch.randn(int(inside.sum()), 3, generator=gen, dtype=dtype)
    miss = kind == 2  # pointing away from the box
    d[miss] = o[miss] - centre
    axis = kind == 3  # exactly along a coordinate axis, through the box
    for i in torch.nonzero(axis).flatten().tolist():
        a = i % 3
        d[i] = 0
        d[i, a] = -1.0 if o[i, a] > centre[a] else 1.0
        o[i, (a + 1) % 3] = centre[(a + 1) % 3] + half[(a + 1) % 3] * 0.3
        o[i, (a + 2) % 3] = centre[(a + 2) % 3] - half[(a + 2) % 3] * 0.55
    face = kind == 4  # in the plane of a face (y = hi), moving along x
    o[face, 1] = hi[1]
    o[face, 0] = lo[0] - half[0]
    d[face] = torch.tensor([1.0, 0.0, 0.3], dtype=dtype)
    edge = kind == 5  # along the edge y = lo, z = hi
    o[edge] = torch.stack([lo[0] - half[0] * 0.5, lo[1], hi[2]]).to(dtype)
    d[edge] = torch.tensor([1.0, 0.0, 0.0], dtype=dtype)
    return o, torch.nn.functional.normalize(d, dim=-1)


def random_density(shape, gen, dtype=torch.float64, scale=4.0, offset=0.0):
    return torch.randn(*shape, generator=gen, dtype=dtype) * scale + offset


def dvgo_march(shape, box=BOX, alpha_init=1e-2, steps_per_voxel=2.0, **overrides) -> ops.March:
    """DVGO-style march: step of 1/steps_per_voxel voxel, interval in voxel units; overrides name fields."""
    voxel = min((box[a + 3] - box[a]) / (shape[a] - 1) for a in range(3))
    return ops.March(step_size=voxel / steps_per_voxel, act_shift=ops.act_shift_from_alpha_init(alpha_init),
                     interval=1.0 / steps_per_voxel, **overrides)


def dense_weights(samples, n_rays: int, k_max: int) -> torch.Tensor:
    """Packed weights scattered into a (R, k_max) table by (ray, step): compares packings that may
    differ by a sample at a threshold."""
    out = samples.weights.new_zeros(n_rays, k_max)
    out[samples.ray_ids, samples.step_ids.long()] = samples.weights
    return out


def max_steps(rays_o, rays_d, box, step_size) -> int:
    diag = math.dist(box[:3], box[3:])
    return int(diag / step_size) + 2


def vector_and_scalar_runs(tmp_path: Path, script: str, *args: str) -> tuple[dict, dict]:
    """Runs script (Python source; argv[1] is where it torch.saves its results, argv[2:] are args, and
    this folder is importable) twice: with the CPU kernels' AVX2 paths, then with DREAM3D_NO_SIMD=1,
    which forces the scalar ones (the switch is read once per process, hence the subprocesses)."""
    path = tmp_path / "run.py"
    path.write_text(f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n" + script)
    results = []
    for flag in ("0", "1"):
        out = tmp_path / f"out{flag}.pt"
        env = {**os.environ, "DREAM3D_NO_SIMD": flag}
        subprocess.run([sys.executable, str(path), str(out), *args], env=env, check=True, timeout=300)
        results.append(torch.load(out))
    return results[0], results[1]


def draw_box(data, gen: torch.Generator) -> tuple:
    """A hypothesis draw of the bbox: the cube, one of BOXES, or a random one from gen."""
    choice = data.draw(st.sampled_from(["cube", "fixed", "random"]), label="box kind")
    if choice == "cube":
        return BOX
    if choice == "fixed":
        return data.draw(st.sampled_from(BOXES[1:]), label="box")
    return random_box(gen)


def extension_required() -> bool:
    """DREAM3D_REQUIRE_EXTENSION=1 (CI): a compiled extension that does not load fails the run instead
    of silently dropping every test of the cpu backend."""
    return os.environ.get("DREAM3D_REQUIRE_EXTENSION") == "1"
