"""Shapes as SDF grids: analytic primitives, mesh <-> SDF conversion, marching cubes, grid I/O."""
