"""Training shapes for G_S: the procedural library (fresh seeds of all 13 categories every epoch, a
fixed held-out set) or a folder of SDF grid files. Every grid is brought onto the data resolution over
[-1, 1]^3. The order of an epoch depends only on (seed, epoch), so a resumed run reads the same batches
and ranks of a distributed run take disjoint strided slices of it (as DistributedSampler does)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..library import CATEGORIES, library_sdf_grid
from ..grid_folder import sdf_grid_files
from ..sdf_grid import SDFGrid, grid_points, load_sdf, save_sdf

HELDOUT_SEED = 1_000_000  # library seeds from here on are never trained on


class DataError(ValueError):
    """Training data that cannot be used (a missing or empty folder, unreadable grids)."""


def onto_cube(grid: SDFGrid, resolution: int) -> torch.Tensor:
    """The grid's SDF at the voxels of a resolution^3 grid over [-1, 1]^3 (trilinear; beyond the grid's
    own bbox the value at its nearest face), (R, R, R) float32."""
    if (grid.xyz_min, grid.xyz_max) == ((-1.0,) * 3, (1.0,) * 3) and grid.resolution == (resolution,) * 3:
        return grid.values.float().contiguous()
    points = grid_points(resolution, dtype=torch.float64)
    lo, hi = torch.tensor(grid.xyz_min, dtype=torch.float64), torch.tensor(grid.xyz_max, dtype=torch.float64)
    normalised = ((points - lo) / (hi - lo) * 2 - 1).float()
    # grid_sample indexes (D, H, W) = (X, Y, Z) with coordinates given as (z, y, x)
    out = F.grid_sample(grid.values.float()[None, None], normalised.flip(-1)[None], mode="bilinear",
                        padding_mode="border", align_corners=True)
    return out[0, 0].contiguous()


def epoch_order(n_items: int, seed: int, epoch: int) -> list[int]:
    """A permutation of range(n_items) fixed by (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n_items).tolist()


class LibraryData:
    """Library shapes at ``resolution``: epoch e trains on ``per_category`` fresh seeds of every category
    (seeds 1 + e * per_category + i), or, with ``pool`` > 0, on seeds cycling through 1..pool (grids are
    then cached in ``cache_dir``: the library's SDFs take seconds per grid on a CPU). The held-out set
    uses seeds from HELDOUT_SEED, round-robin over the categories."""

    def __init__(self, resolution: int, per_category: int = 4, pool: int = 0, seed: int = 0,
                 cache_dir: str | os.PathLike | None = None):
        if per_category < 1 or pool < 0:
            raise DataError(f"per_category must be >= 1 and pool >= 0, got {per_category} and {pool}")
        self.resolution, self.per_category, self.pool, self.seed = resolution, per_category, pool, seed
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.description = (f"library, {len(CATEGORIES)} categories x {per_category} "
                            + (f"seeds per epoch from a pool of {pool}" if pool else "fresh seeds per epoch"))

    def epoch_size(self) -> int:
        return len(CATEGORIES) * self.per_category

    def epoch_items(self, epoch: int) -> list[tuple[str, int]]:
        items = []
        for i in range(self.per_category):
            index = epoch * self.per_category + i
            shape_seed = 1 + (index % self.pool if self.pool else index)
            items += [(c, shape_seed) for c in CATEGORIES]
        return [items[k] for k in epoch_order(len(items), self.seed, epoch)]

    def heldout_items(self, n: int) -> list[tuple[str, int]]:
        return [(CATEGORIES[i % len(CATEGORIES)], HELDOUT_SEED + i // len(CATEGORIES)) for i in range(n)]

    def load(self, item: tuple[str, int], cache: bool | None = None) -> torch.Tensor:
        category, shape_seed = item
        use_cache = self.cache_dir is not None and (self.pool > 0 if cache is None else cache)
        path = self.cache_dir / f"{category}-{shape_seed}-{self.resolution}.npz" if use_cache else None
        if path is not None and path.exists():
            return load_sdf(path).values
        grid = library_sdf_grid(category, self.resolution, seed=shape_seed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_sdf(path, grid)
        return grid.values


class FolderData:
    """The .npz/.npy SDF grids of a folder (sorted by name). With 10 or more files every 10th is held
    out for evaluation; with fewer, evaluation compares against the training files themselves."""

    def __init__(self, folder: str | os.PathLike, resolution: int, seed: int = 0):
        files = sdf_grid_files(folder, "--data", DataError)
        self.resolution, self.seed = resolution, seed
        if len(files) >= 10:
            self.heldout = files[::10]
            self.train = [f for i, f in enumerate(files) if i % 10]
        else:
            self.heldout, self.train = files, files
        self.description = f"{folder}: {len(self.train)} training grids, {len(self.heldout)} held out"

    def epoch_size(self) -> int:
        return len(self.train)

    def epoch_items(self, epoch: int) -> list[Path]:
        return [self.train[k] for k in epoch_order(len(self.train), self.seed, epoch)]

    def heldout_items(self, n: int) -> list[Path]:
        return [self.heldout[i % len(self.heldout)] for i in range(min(n, len(self.heldout)))]

    def load(self, item: Path, cache: bool | None = None) -> torch.Tensor:
        try:
            grid = load_sdf(item)
        except ValueError as err:
            raise DataError(str(err)) from err
        return onto_cube(grid, self.resolution)


def make_data(spec: str, resolution: int, per_category: int = 4, pool: int = 0, seed: int = 0,
              cache_dir=None) -> LibraryData | FolderData:
    """'library' or a folder path -> the data source."""
    if spec == "library":
        return LibraryData(resolution, per_category, pool, seed, cache_dir)
    return FolderData(spec, resolution, seed)


class Batches:
    """Step -> batch: each epoch's items, this rank's strided share of them, cut into batches of
    ``batch_size`` (the last partial one dropped)."""

    def __init__(self, data, batch_size: int, rank: int = 0, world: int = 1):
        per_rank = data.epoch_size() // world
        if per_rank < batch_size:
            raise DataError(f"an epoch of {data.epoch_size()} shapes over {world} rank(s) cannot fill a batch of "
                            f"{batch_size}; use more shapes per epoch or a smaller batch")
        self.data, self.batch_size, self.rank, self.world = data, batch_size, rank, world
        self.steps_per_epoch = per_rank // batch_size
        self._epoch, self._items = None, None

    def items(self, step: int) -> list:
        epoch, index = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._epoch, self._items = epoch, self.data.epoch_items(epoch)[self.rank::self.world]
        return self._items[index * self.batch_size:(index + 1) * self.batch_size]

    def batch(self, step: int) -> torch.Tensor:
        return torch.stack([self.data.load(item) for item in self.items(step)])
