"""Triangle meshes in and out: loading anything trimesh reads as one mesh, fitting it into the
[-1, 1]^3 cube, and atomic export with optional vertex colours or a texture image."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import trimesh

from ._atomic import atomic_path

EXPORT_FORMATS = (".glb", ".ply", ".obj")


def load_mesh(path: str | os.PathLike) -> trimesh.Trimesh:
    """Reads a mesh (obj, ply, glb/gltf, stl, off, ...); a scene is flattened into one mesh with its
    node transforms applied. Raises FileNotFoundError if there is no file and ValueError naming the
    file if it is empty, unreadable, of an unknown format or holds no triangles."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no mesh file at {path}")
    file_type = path.suffix.lower().lstrip(".")
    if file_type not in trimesh.available_formats():
        raise ValueError(f"{path}: trimesh reads no {path.suffix!r} files")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty")
    try:
        mesh = trimesh.load(path, file_type=file_type, force="mesh")
    except Exception as err:  # trimesh's parsers raise anything from KeyError to struct.error on bad bytes
        raise ValueError(f"{path}: not a readable {file_type} mesh ({type(err).__name__}: {err})") from err
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"{path}: holds no triangles{_point_cloud_hint(path, file_type)}")
    if not np.isfinite(mesh.vertices).all():
        raise ValueError(f"{path}: has NaN or infinite vertex coordinates")
    return mesh


def _point_cloud_hint(path: Path, file_type: str) -> str:
    """What a file without triangles holds instead, when it is points: priors need a surface."""
    try:
        points = trimesh.load(path, file_type=file_type)
        if isinstance(points, trimesh.Scene):
            points = [g for g in points.geometry.values() if isinstance(g, trimesh.PointCloud)]
            count = sum(len(g.vertices) for g in points)
        else:
            count = len(points.vertices) if isinstance(points, trimesh.PointCloud) else 0
    except Exception:  # the hint is a courtesy: the file already failed to give a mesh
        return ""
    if not count:
        return ""
    return (f": it is a point cloud of {count} points; reconstruct a surface first (e.g. Poisson "
            "reconstruction in Open3D or MeshLab) and give that mesh")


def normalize_mesh(mesh: trimesh.Trimesh, padding: float = 0.05) -> tuple[trimesh.Trimesh, np.ndarray]:
    """A copy of ``mesh`` centred on its bbox centre and uniformly scaled so its longest side spans
    [-(1 - padding), 1 - padding]; returns it and the (4, 4) transform applied (new = T @ old)."""
    if not 0.0 <= padding < 1.0:
        raise ValueError(f"padding must lie in [0, 1), got {padding}")
    lo, hi = mesh.bounds
    extent = float((hi - lo).max())
    if not extent > 0:
        raise ValueError("cannot normalise a mesh with zero extent")
    scale = 2.0 * (1.0 - padding) / extent
    transform = np.diag([scale, scale, scale, 1.0])
    transform[:3, 3] = -scale * (lo + hi) / 2
    out = mesh.copy()
    out.apply_transform(transform)
    return out, transform


def export_mesh(mesh: trimesh.Trimesh, path: str | os.PathLike, vertex_colors=None) -> None:
    """Writes ``mesh`` as .glb, .ply or .obj (geometry and vertex colours; textures only in .glb),
    replacing ``path`` atomically. ``vertex_colors`` (V, 3) or (V, 4), floats in [0, 1] or uint8,
    override the mesh's own colours."""
    path = Path(path)
    if path.suffix.lower() not in EXPORT_FORMATS:
        raise ValueError(f"{path}: meshes are exported as {', '.join(EXPORT_FORMATS)}, not {path.suffix!r}")
    if vertex_colors is not None:
        mesh = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False,
                               vertex_colors=_colors_uint8(vertex_colors, len(mesh.vertices)))
    file_type = path.suffix.lower().lstrip(".")
    # An .obj texture would go to side files (material.mtl, material_0.png) shared by every .obj in
    # the folder and outside the atomic replace, so .obj keeps geometry and vertex colours only;
    # .glb embeds textures.
    options = {"include_texture": False} if file_type == "obj" else {}
    with atomic_path(path) as tmp:
        mesh.export(tmp, file_type=file_type, **options)


def export_textured_mesh(mesh: trimesh.Trimesh, path: str | os.PathLike) -> list[str]:
    """Writes a mesh with UVs and a texture image (trimesh.visual.TextureVisuals) as .glb (the image
    embedded) or .obj beside a .mtl of the same stem and the image as <material name>.png; every file
    is replaced atomically. Returns the names of the files written."""
    from trimesh.exchange.obj import export_obj

    path = Path(path)
    if not isinstance(mesh.visual, trimesh.visual.TextureVisuals) or mesh.visual.uv is None:
        raise ValueError(f"{path}: export_textured_mesh needs a mesh with UVs and a texture")
    suffix = path.suffix.lower()
    if suffix == ".glb":
        with atomic_path(path) as tmp:
            mesh.export(tmp, file_type="glb")
        return [path.name]
    if suffix != ".obj":
        raise ValueError(f"{path}: textured meshes are exported as .glb or .obj, not {path.suffix!r}")
    text, side_files = export_obj(mesh, include_normals=False, include_texture=True, return_texture=True,
                                  mtl_name=path.with_suffix(".mtl").name)
    for name, data in side_files.items():  # the image and .mtl first: the .obj names them
        with atomic_path(path.parent / name) as tmp:
            tmp.write_bytes(data)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return [path.name, *sorted(side_files)]


def _colors_uint8(colors, n_vertices: int) -> np.ndarray:
    c = np.asarray(colors.detach().cpu() if hasattr(colors, "detach") else colors)
    if c.ndim != 2 or c.shape[0] != n_vertices or c.shape[1] not in (3, 4):
        raise ValueError(f"vertex_colors must be ({n_vertices}, 3) or ({n_vertices}, 4), got {c.shape}")
    if c.dtype == np.uint8:
        return c
    if not np.isfinite(c).all() or c.min() < 0 or c.max() > 1:
        raise ValueError("float vertex_colors must lie in [0, 1]")
    return np.round(c * 255).astype(np.uint8)
