"""Triangle mesh -> SDF grid.

Distance: exact (closest points in float64, stored as float32) at every voxel within ``band`` voxels
of the surface: each triangle measures the voxels of its bbox grown by the band, and each voxel keeps
the minimum. Every other voxel takes the exact distance to the triangle of its nearest band voxel
(found by a Euclidean distance transform): an upper bound on the true distance, never more than one
voxel diagonal above it (proof in _fill_far_field). Measured against brute force at 128^3: at most
0.35 voxel on single closed shapes, 0.75 voxel between two separate parts. Triangles are first split
until every edge spans at most ``_MAX_EDGE_VOXELS`` voxels, which keeps each triangle's box small.

Sign: six axis-aligned rays from each voxel (+-X, +-Y, +-Z) count their signed crossings with the
surface; the voxel is inside when at least four of them see a non-zero count (see _ray_votes.py).
 - Closed meshes: all six rays agree, so the sign is exact. Each connected part is first turned
   outward (positive signed volume), so inside-out parts are fine, and overlapping parts are united
   (the non-zero rule).
 - Open meshes (holes, cracks, missing faces) and flipped faces: a ray through a hole or a flipped
   face disagrees with the others and is outvoted, so moderate holes are closed over: a box with one
   face removed gets the solid box's sign. Its distances are still to the open surface, so the SDF
   jumps from negative to positive across the hole, where marching cubes puts a cap. A part that
   encloses nothing (a single sheet) is outside everywhere: its SDF is the unsigned distance
   (extract it at a small positive level). Three votes against three count as outside.
Parts of the mesh outside the bbox still count for the sign (crossings beyond the grid's ends enter
the columns' totals) and, within the band of the border, for the distance; the far-field bound
assumes the closest surface lies inside the bbox.

Cost: about 0.1-0.3 s at 64^3, 0.5-0.9 s at 128^3 and 5 s (1 GB) at 256^3 for meshes of 12 to 5120
triangles, on 2 threads of a shared 2-core machine.
"""
from __future__ import annotations

import collections
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import trimesh
from scipy.ndimage import distance_transform_edt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._ray_votes import inside_votes
from ._triangles import box_cells, box_chunks, triangle_distances
from .sdf_grid import DEFAULT_MAX, DEFAULT_MIN, SDFGrid, _check_bbox, _check_resolution

_MAX_EDGE_VOXELS = 4
_CHUNK = 1 << 16  # (voxel, triangle) pairs per task: small enough for the temporaries to stay in cache

Progress = Callable[[str, float], None]


def mesh_to_sdf(mesh: trimesh.Trimesh, resolution, xyz_min=DEFAULT_MIN, xyz_max=DEFAULT_MAX, *,
                band: int = 3, progress: Progress | None = None) -> SDFGrid:
    """Signed distances from ``mesh`` (negative inside) at the voxels of a grid of ``resolution``
    (an int or 3 ints) over the bbox: exact within ``band`` voxels of the surface, an upper bound
    beyond (see the module notes for the accuracy and the sign of open meshes). Runs on
    ``torch.get_num_threads()`` threads; ``progress(stage, fraction)`` is called as the work advances."""
    res = _check_resolution(resolution)
    if band < 1:
        raise ValueError(f"band must be at least 1 voxel, got {band}")
    xyz_min, xyz_max = _check_bbox(xyz_min, xyz_max)
    report = progress or (lambda stage, fraction: None)
    lo = np.array(xyz_min)
    h = (np.array(xyz_max) - lo) / (np.array(res) - 1)

    tris = _surface_triangles(mesh, _MAX_EDGE_VOXELS * h.min())
    band_width = band * h.max()
    with ThreadPoolExecutor(max(1, torch.get_num_threads())) as pool:
        dist, nearest_tri = _band_distances(tris, lo, h, res, band_width, pool, report)
        _fill_far_field(dist, nearest_tri, tris, lo, h, res, band_width, pool, report)
    report("sign", 0.0)
    inside = inside_votes((tris - lo) / h, res, _CHUNK) >= 4
    report("sign", 1.0)
    dist = dist.reshape(res)
    return SDFGrid(torch.from_numpy(np.where(inside, -dist, dist)), xyz_min, xyz_max)


def _surface_triangles(mesh: trimesh.Trimesh, max_edge: float) -> np.ndarray:
    """(F, 3, 3) float64 triangles of ``mesh`` with coincident vertices merged (so shared edges are
    split at shared midpoints), every part turned outward, no edge longer than ``max_edge`` and no
    zero-area triangle."""
    tris = np.asarray(mesh.triangles, dtype=np.float64)
    if len(tris) == 0:
        raise ValueError("mesh_to_sdf needs a mesh with triangles, got none")
    if not np.isfinite(tris).all():
        raise ValueError("mesh_to_sdf: the mesh has NaN or infinite vertex coordinates")
    vertices, faces = np.unique(tris.reshape(-1, 3), axis=0, return_inverse=True)
    faces = _orient_parts(vertices, faces.reshape(-1, 3))
    longest = float(np.linalg.norm(tris - tris[:, [1, 2, 0]], axis=-1).max())
    halvings = max(0, math.ceil(math.log2(longest / max_edge))) if longest > 0 else 0
    vertices, faces = trimesh.remesh.subdivide_to_size(vertices, faces, max_edge, max_iter=halvings + 4)
    tris = vertices[faces]
    tris = tris[np.linalg.norm(np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]), axis=-1) > 0]
    if len(tris) == 0:
        raise ValueError("mesh_to_sdf: every triangle of the mesh has zero area")
    return tris


def _orient_parts(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``faces`` with every connected part turned outward (positive signed volume, measured about the
    part's centroid), so that an inside-out part overlapping another one still adds to the solid."""
    edges = np.concatenate([faces[:, :2], faces[:, 1:]])
    adjacency = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(vertices),) * 2)
    n_parts, part = connected_components(adjacency, directed=False)
    counts = np.bincount(part, minlength=n_parts)[:, None]
    centroid = np.stack([np.bincount(part, vertices[:, a], n_parts) for a in range(3)], axis=1) / counts
    face_part = part[faces[:, 0]]
    tris = vertices[faces] - centroid[face_part, None]
    six_volumes = np.einsum("ij,ij->i", tris[:, 0], np.cross(tris[:, 1], tris[:, 2]))
    volume = np.bincount(face_part, six_volumes, n_parts)
    faces = faces.copy()
    flip = volume[face_part] < 0
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return faces


def _band_distances(tris, lo, h, res, band_width, pool, report):
    """Flat float32 distances, exact where <= band_width (inf where no triangle came near), and the
    flat int32 index of a nearest triangle (-1 where none)."""
    n = math.prod(res)
    dist = np.full(n, np.inf, dtype=np.float32)
    nearest_tri = np.full(n, -1, dtype=np.int32)
    box_lo = np.maximum(np.ceil((tris.min(axis=1) - band_width - lo) / h).astype(np.int64), 0)
    box_hi = np.minimum(np.floor((tris.max(axis=1) + band_width - lo) / h).astype(np.int64),
                        np.array(res) - 1)

    def measure(start, stop):
        t, cells = box_cells(box_lo, box_hi, start, stop)
        p = lo + cells * h
        d = triangle_distances(p, tris[t, 0], tris[t, 1], tris[t, 2]).astype(np.float32)
        return t, (cells[:, 0] * res[1] + cells[:, 1]) * res[2] + cells[:, 2], d

    for t, flat, d in _pipelined(pool, measure, box_chunks(box_lo, box_hi, _CHUNK)):
        np.minimum.at(dist, flat, d)
        won = d == dist[flat]  # ties: any of the equally near triangles
        nearest_tri[flat[won]] = t[won]
        report("distance", float(t[-1] + 1) / len(tris))
    return dist, nearest_tri


def _fill_far_field(dist, nearest_tri, tris, lo, h, res, band_width, pool, report):
    """Lowers the voxels beyond the band to their distance to their nearest band voxel's triangle.
    Bound: let S be a voxel's closest surface point, at distance D. The voxel nearest to the point of
    the segment towards S at band_width - diag/2 from S is a band voxel, within D - band_width + diag
    of the voxel (diag: a voxel's diagonal). The nearest band voxel is no farther, and its triangle
    lies within band_width of it, so the result is at most D + diag."""
    in_band = dist <= band_width
    if not in_band.any():
        raise ValueError("mesh_to_sdf: no voxel lies within the band of the mesh; "
                         "is the mesh inside the bbox?")
    far = np.flatnonzero(~in_band)
    if len(far) == 0:
        return
    seed = distance_transform_edt(~in_band.reshape(res), sampling=h, return_distances=False,
                                  return_indices=True)
    seed_tri = nearest_tri[np.ravel_multi_index(tuple(seed), res).reshape(-1)]
    del seed

    def measure(chunk):
        t = seed_tri[chunk]
        p = lo + np.stack(np.unravel_index(chunk, res), axis=1) * h
        return chunk, triangle_distances(p, tris[t, 0], tris[t, 1], tris[t, 2]).astype(np.float32)

    chunks = np.array_split(far, -(-len(far) // _CHUNK))
    for i, (chunk, d) in enumerate(_pipelined(pool, measure, ((c,) for c in chunks))):
        dist[chunk] = np.minimum(dist[chunk], d)
        report("far field", (i + 1) / len(chunks))


def _pipelined(pool: ThreadPoolExecutor, fn, tasks: Iterable[tuple], depth: int = 8) -> Iterator:
    """fn(*task) for each task on the pool, results in order, at most ``depth`` tasks in flight (so
    memory stays bounded however many tasks there are)."""
    pending = collections.deque()
    for task in tasks:
        pending.append(pool.submit(fn, *task))
        if len(pending) >= depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
