"""Shape-generation metrics as PointFlow and SDF-StyleGAN report them: surface point clouds of SDF
grids, the Chamfer distance between every pair, and from it COV, MMD and 1-NNA.

Chamfer distance (PointFlow's): CD(X, Y) = mean_x min_y |x - y|^2 + mean_y min_x |x - y|^2 (squared
distances; ``squared=False`` uses plain ones). Points are compared in the grids' own frame (no
per-shape normalisation), so both sets must share one.

A grid without a surface (no zero crossing) has no point cloud (None): its distance to a shape with one
is infinite and to another empty shape 0, so empty generated shapes never cover a reference, never
match one in MMD, and pair up with each other in 1-NNA (which then flags them).
"""
from __future__ import annotations

import numpy as np
import torch
import trimesh
from tqdm import tqdm

from ..shape import SDFGrid, extract_mesh


def surface_points(grid: SDFGrid, n_points: int = 2048, seed: int = 0) -> torch.Tensor | None:
    """(n_points, 3) points drawn uniformly by area on the zero level set (marching cubes), or None when
    the grid has no surface."""
    values = grid.values
    if not (values.min() < 0 < values.max()):
        return None
    mesh = extract_mesh(grid)
    if len(mesh.faces) == 0 or mesh.area <= 0:
        return None
    points, _ = trimesh.sample.sample_surface(mesh, n_points, seed=seed)
    return torch.from_numpy(np.asarray(points, dtype=np.float32))


def surface_point_sets(grids: list[SDFGrid], n_points: int = 2048, seed: int = 0) -> list[torch.Tensor | None]:
    """Surface samples of every grid; grid i draws from seed + i."""
    return [surface_points(g, n_points, seed + i) for i, g in enumerate(grids)]


def chamfer_matrix(a: list[torch.Tensor | None], b: list[torch.Tensor | None], squared: bool = True,
                   chunk: int = 16, device=None, dtype=torch.float32, progress: bool = False) -> torch.Tensor:
    """(len(a), len(b)) Chamfer distances between point clouds (each (N, 3), all of one size N, or None
    for an empty shape), computed ``chunk`` pairs at a time with batched ``torch.cdist`` in ``dtype``.
    In float32 its matrix-product path loses ~1e-7 of a squared distance (in the unit cube) to
    cancellation; float64 is exact to ~1e-15 and twice as slow."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    out = torch.zeros(len(a), len(b), dtype=torch.float64)
    ia = [i for i, x in enumerate(a) if x is not None]
    ib = [j for j, y in enumerate(b) if y is not None]
    empty_a = torch.tensor([x is None for x in a])
    empty_b = torch.tensor([y is None for y in b])
    out[empty_a[:, None] != empty_b[None, :]] = float("inf")
    if not ia or not ib:
        return out
    sizes = {tuple(x.shape) for x in [a[i] for i in ia] + [b[j] for j in ib]}
    if len(sizes) != 1 or len(next(iter(sizes))) != 2 or next(iter(sizes))[1] != 3:
        raise ValueError(f"every point cloud must be (N, 3) with one N, got shapes {sorted(sizes)}")
    xa = torch.stack([a[i] for i in ia]).to(device=device, dtype=dtype)
    xb = torch.stack([b[j] for j in ib]).to(device=device, dtype=dtype)
    pairs = torch.cartesian_prod(torch.arange(len(ia)), torch.arange(len(ib)))
    values = []
    for start in tqdm(range(0, len(pairs), chunk), desc="chamfer", disable=not progress, leave=False):
        p = pairs[start:start + chunk]
        d = torch.cdist(xa[p[:, 0]], xb[p[:, 1]])  # (P, N, M)
        if squared:
            d = d.square()
        values.append((d.amin(2).mean(1) + d.amin(1).mean(1)).double().cpu())
    out[torch.tensor(ia)[:, None], torch.tensor(ib)[None, :]] = torch.cat(values).reshape(len(ia), len(ib))
    return out


def coverage(d_gen_ref: torch.Tensor) -> float:
    """COV: the fraction of reference shapes that are the nearest reference of some generated shape.
    Generated shapes whose distance to every reference is infinite (empty ones) match nothing."""
    best, index = d_gen_ref.min(dim=1)
    return float(index[torch.isfinite(best)].unique().numel() / d_gen_ref.shape[1])


def minimum_matching_distance(d_gen_ref: torch.Tensor) -> float:
    """MMD: the mean over reference shapes of the distance to their nearest generated shape."""
    return float(d_gen_ref.min(dim=0).values.mean())


def one_nna(d_gen_gen: torch.Tensor, d_ref_ref: torch.Tensor, d_gen_ref: torch.Tensor) -> float:
    """1-NNA: the leave-one-out accuracy of the 1-nearest-neighbour classifier telling generated from
    reference shapes (0.5: indistinguishable; 1: fully separable; below 0.5: the generated shapes sit
    closer to the references than these do to each other, e.g. copies of them: an identical set gives 0).
    Tie rule: a shape whose least distance is reached by shapes of both sets counts half correct (the
    expected accuracy of a random tie break)."""
    n_gen, n_ref = d_gen_ref.shape
    full = torch.cat([torch.cat([d_gen_gen, d_gen_ref], 1), torch.cat([d_gen_ref.T, d_ref_ref], 1)], 0).clone()
    full.fill_diagonal_(float("inf"))
    label = torch.cat([torch.zeros(n_gen, dtype=torch.bool), torch.ones(n_ref, dtype=torch.bool)])
    nearest = full.min(dim=1, keepdim=True).values
    at_min = full == nearest
    same = (at_min & (label[None, :] == label[:, None])).any(1)
    other = (at_min & (label[None, :] != label[:, None])).any(1)
    score = torch.where(same & other, 0.5, same.double())
    return float(score.mean())


def shape_metrics(generated: list, reference: list, squared: bool = True, chunk: int = 16, device=None,
                  dtype=torch.float32, n_points: int = 2048, progress: bool = False) -> dict:
    """COV, MMD and 1-NNA (Chamfer) of generated against reference shapes, each given as SDF grids or
    point clouds ((N, 3) tensors or None). Grids are sampled with :func:`surface_points` (n_points each)."""
    if not generated or not reference:
        raise ValueError("shape_metrics needs at least one generated and one reference shape")
    gen = surface_point_sets(generated, n_points) if isinstance(generated[0], SDFGrid) else list(generated)
    ref = (surface_point_sets(reference, n_points, seed=len(gen)) if isinstance(reference[0], SDFGrid)
           else list(reference))
    kw = dict(squared=squared, chunk=chunk, device=device, dtype=dtype, progress=progress)
    d_gr = chamfer_matrix(gen, ref, **kw)
    d_gg = chamfer_matrix(gen, gen, **kw)
    d_rr = chamfer_matrix(ref, ref, **kw)
    return {"cov": coverage(d_gr), "mmd": minimum_matching_distance(d_gr), "1nna": one_nna(d_gg, d_rr, d_gr),
            "n_generated": len(gen), "n_reference": len(ref),
            "empty_generated": sum(x is None for x in gen)}
