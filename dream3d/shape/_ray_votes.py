"""The inside/outside test of mesh_to_sdf: six axis-aligned rays from every voxel vote.

For each axis, every triangle is rasterised onto the grid lines (columns) along that axis: a column
through the triangle's projection gets a signed crossing (+1 entering, -1 leaving, from the triangle's
orientation) at the depth where it pierces the triangle. A prefix sum along the column gives, at each
voxel, the signed crossing count of the ray coming from -inf (a ray winding number), and with the
column's total, that of the ray from +inf. A ray votes "inside" when its count is non-zero.

A point exactly on a shared edge or vertex belongs to exactly one of the triangles meeting there (the
rasterisers' top-left rule, with edge functions computed so that the two sides of a shared edge get
exactly opposite values), so a closed mesh gives every column a total of zero and all six rays agree.
"""
from __future__ import annotations

import numpy as np

from ._triangles import box_cells, box_chunks


def inside_votes(tris: np.ndarray, resolution: tuple[int, int, int], max_cells: int) -> np.ndarray:
    """(X, Y, Z) uint8 count, 0 to 6, of the rays from each voxel that see the mesh around it.
    ``tris``: (F, 3, 3) float64 triangles in voxel-index coordinates, all of non-zero area."""
    votes = np.zeros(resolution, dtype=np.uint8)
    for axis in range(3):
        order = [(axis + 1) % 3, (axis + 2) % 3, axis]  # (u, v, depth): a right-handed frame
        counts = _column_crossings(tris[:, :, order], tuple(resolution[a] for a in order), max_cells)
        winding = np.cumsum(counts, axis=-1, dtype=np.int32)
        from_below, total = winding[..., :-1], winding[..., -1:]
        axis_votes = (from_below != 0).view(np.uint8) + (from_below != total).view(np.uint8)
        votes += axis_votes.transpose([order.index(a) for a in range(3)])
    return votes


def _column_crossings(tris: np.ndarray, shape: tuple[int, int, int], max_cells: int) -> np.ndarray:
    """(U, V, D + 1) int32 signed crossings: entry [u, v, k] counts the crossings of column (u, v)
    between voxel k-1 and voxel k (k = D: beyond the last voxel)."""
    n_u, n_v, n_d = shape
    p, depth = tris[:, :, :2], tris[:, :, 2]
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    area2 = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]  # = the triangle normal's depth component
    keep = area2 != 0  # triangles seen edge-on cross no column
    p, depth, area2 = p[keep], depth[keep], area2[keep]
    # Counter-clockwise in (u, v) for the inside test; the crossing keeps the original orientation:
    # a normal pointing towards -depth means the ray from -inf enters the solid there.
    cw = area2 < 0
    p[cw] = p[cw][:, [0, 2, 1]]
    depth[cw] = depth[cw][:, [0, 2, 1]]
    crossing = np.where(cw, 1, -1).astype(np.int32)

    lo = np.maximum(np.ceil(p.min(axis=1)).astype(np.int64), 0)
    hi = np.minimum(np.floor(p.max(axis=1)).astype(np.int64), [n_u - 1, n_v - 1])
    counts = np.zeros(n_u * n_v * (n_d + 1), dtype=np.int32)
    for start, stop in box_chunks(lo, hi, max_cells):
        t, cells = box_cells(lo, hi, start, stop)
        q = cells.astype(np.float64)
        tp = p[t]
        # Edge functions of the edges opposite vertex 0, 1 and 2: the barycentric weights, times area2.
        w = [_edge_function(tp[:, (i + 1) % 3], tp[:, (i + 2) % 3], q) for i in range(3)]
        inside = np.ones(len(t), dtype=bool)
        for i in range(3):
            d = tp[:, (i + 2) % 3] - tp[:, (i + 1) % 3]
            top_left = (d[:, 1] < 0) | ((d[:, 1] == 0) & (d[:, 0] < 0))  # exactly one of d, -d
            inside &= (w[i] > 0) | ((w[i] == 0) & top_left)
        t, cells = t[inside], cells[inside]
        w = np.stack([wi[inside] for wi in w], axis=1)
        z = (w * depth[t]).sum(axis=1) / w.sum(axis=1)
        k = np.clip(np.ceil(z), 0, n_d).astype(np.int64)  # the first voxel past the crossing
        np.add.at(counts, (cells[:, 0] * n_v + cells[:, 1]) * (n_d + 1) + k, crossing[t])
    return counts.reshape(n_u, n_v, n_d + 1)


def _edge_function(a: np.ndarray, b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """cross(b - a, q - a), positive left of a -> b, computed from the lexicographically smaller
    endpoint so that swapping a and b negates it exactly (a shared edge splits its points exactly)."""
    swap = ((a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1])))[:, None]
    s, e = np.where(swap, b, a), np.where(swap, a, b)
    value = (e[:, 0] - s[:, 0]) * (q[:, 1] - s[:, 1]) - (e[:, 1] - s[:, 1]) * (q[:, 0] - s[:, 0])
    return np.where(swap[:, 0], -value, value)
