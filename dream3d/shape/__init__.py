"""Shapes as SDF grids: analytic primitives, mesh <-> SDF conversion, marching cubes, grid I/O.

Grids follow the project's conventions: (X, Y, Z) values, voxel (i, j, k) at
xyz_min + (i, j, k) * (xyz_max - xyz_min) / (shape - 1), negative inside, +Y up, objects in [-1, 1]^3.
"""
from .library import (CATEGORIES, SYNONYMS, LibraryShape, category_from_prompt, library_sdf_grid, library_shape,
                      make_shape)
from .marching_cubes import extract_mesh
from .mesh_io import export_mesh, load_mesh, normalize_mesh
from .mesh_to_sdf import mesh_to_sdf
from .primitives import (SDF, box, capsule, cylinder, difference, intersection, rotation_matrix,
                         smooth_union, sphere, to_grid, torus, union)
from .render import random_backgrounds, render_grids
from .sdf_grid import FORMAT_VERSION, SDFGrid, grid_points, load_sdf, save_sdf

__all__ = ["CATEGORIES", "SYNONYMS", "LibraryShape", "category_from_prompt", "library_sdf_grid",
           "library_shape", "make_shape",
           "FORMAT_VERSION", "SDF", "SDFGrid", "box", "capsule", "cylinder", "difference", "export_mesh",
           "extract_mesh", "grid_points", "intersection", "load_mesh", "load_sdf", "mesh_to_sdf",
           "normalize_mesh", "random_backgrounds", "render_grids", "rotation_matrix", "save_sdf", "smooth_union", "sphere", "to_grid", "torus",
           "union"]
