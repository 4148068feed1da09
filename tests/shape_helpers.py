"""Shared inputs of the shape tests: closed test meshes in random poses, and fresh random seeds
(printed in failure messages, so a failing draw can be replayed)."""
from __future__ import annotations

import secrets

import numpy as np
import trimesh

# Closed meshes that stay inside [-0.9, 0.9]^3 in any pose given by random_pose.
TEST_MESHES = {
    "icosphere": lambda: trimesh.creation.icosphere(subdivisions=4, radius=0.6),
    "box": lambda: trimesh.creation.box((1.0, 0.6, 1.2)),
    "torus": lambda: trimesh.creation.torus(0.55, 0.2),
    "capsule": lambda: trimesh.creation.capsule(height=0.9, radius=0.3),
}


def fresh_seed() -> int:
    return secrets.randbits(31)


def random_pose(mesh: trimesh.Trimesh, seed: int, shift: float = 0.05) -> trimesh.Trimesh:
    """The mesh rotated at random and shifted by up to ``shift`` per axis."""
    rng = np.random.default_rng(seed)
    transform = trimesh.transformations.random_rotation_matrix(rand=rng.random(3))
    transform[:3, 3] = rng.uniform(-shift, shift, 3)
    return mesh.copy().apply_transform(transform)
