"""G_M's data set on disk: a folder with manifest.json (what was built and how: the plan every rank
and every resume must share) and shards shard-NNNNN.safetensors, each holding ``embedding``
(n, K, D): CLIP image embeddings of K views per shape, ``w`` (n, w_dim) and ``z`` (n, z_dim).
A shard exists only once complete (written atomically); a folder is complete when every planned shard
exists."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..shape._atomic import atomic_path
from .config import PriorError

MANIFEST = "manifest.json"
DATA_FORMAT = "dream3d-prior-data"
HOW = "build it with dream3d-build-prior-data"


@dataclass(frozen=True)
class DataPlan:
    """Everything that decides the shards' contents: a resumed or sharded build must match it."""

    shapes: int
    shard_size: int
    views: int
    image_size: int
    resolution: int          # the SDF grid G_S synthesises for rendering
    seed: int
    fov: float
    radius: float
    azimuth: tuple[float, float] = (-90.0, 90.0)
    elevation: tuple[float, float] = (20.0, 30.0)
    clip: dict = field(default_factory=dict)        # model, pretrained, checkpoint sha256 prefix, embed_dim
    generator: dict = field(default_factory=dict)   # path, sha256 prefix, z_dim, w_dim
    format: str = DATA_FORMAT

    @property
    def num_shards(self) -> int:
        return math.ceil(self.shapes / self.shard_size)

    def shard_count(self, index: int) -> int:
        return min(self.shard_size, self.shapes - index * self.shard_size)

    @property
    def embed_dim(self) -> int:
        return int(self.clip["embed_dim"])

    @property
    def w_dim(self) -> int:
        return int(self.generator["w_dim"])

    def to_json(self) -> dict:
        data = asdict(self)
        data["azimuth"], data["elevation"] = list(self.azimuth), list(self.elevation)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "DataPlan":
        data = dict(data)
        data["azimuth"], data["elevation"] = tuple(data["azimuth"]), tuple(data["elevation"])
        return cls(**data)


def shard_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"shard-{index:05d}.safetensors"


def read_manifest(folder: str | os.PathLike) -> DataPlan:
    folder = Path(folder)
    if not folder.is_dir():
        raise PriorError(f"no data folder {folder}; {HOW}")
    path = folder / MANIFEST
    if not path.is_file():
        raise PriorError(f"{folder} holds no {MANIFEST} (an empty or foreign folder); {HOW}")
    try:
        plan = DataPlan.from_json(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError) as err:
        raise PriorError(f"{path} is not a prior data manifest: {err}") from err
    if plan.format != DATA_FORMAT:
        raise PriorError(f"{path}: format {plan.format!r}, expected {DATA_FORMAT!r}")
    return plan


def write_manifest(folder: Path, plan: DataPlan) -> None:
    """Writes the plan, or checks it against the one already there (a resume or another rank)."""
    path = folder / MANIFEST
    if path.is_file():
        old = read_manifest(folder)
        if old != plan:
            diff = [k for k, v in plan.to_json().items() if old.to_json().get(k) != v]
            raise PriorError(f"{folder} holds data built with other settings ({', '.join(diff)} differ); "
                             "give the same options to finish it, or another --out")
        return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(plan.to_json(), indent=1))


def write_shard(folder: Path, index: int, embedding: torch.Tensor, w: torch.Tensor, z: torch.Tensor) -> None:
    from safetensors.torch import save_file

    tensors = {"embedding": embedding.detach().float().cpu().contiguous(), "w": w.detach().float().cpu().contiguous(),
               "z": z.detach().float().cpu().contiguous()}
    with atomic_path(shard_path(folder, index)) as tmp:
        save_file(tensors, str(tmp), metadata={"index": str(index), "format": DATA_FORMAT})


def read_shard(folder: Path, plan: DataPlan, index: int) -> dict[str, torch.Tensor]:
    """The shard's tensors, checked against the plan: a missing, unreadable or wrong one is an error
    naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = shard_path(folder, index)
    if not path.is_file():
        raise PriorError(f"{path} is missing ({plan.num_shards} shards planned in {folder / MANIFEST}); "
                         "run dream3d-build-prior-data again with the same options to finish the data")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise PriorError(f"{path} is corrupt ({err}); delete it and run dream3d-build-prior-data again "
                         "with the same options to rebuild it") from err
    n = plan.shard_count(index)
    expected = {"embedding": (n, plan.views, plan.embed_dim), "w": (n, plan.w_dim)}
    for key, shape in expected.items():
        if key not in tensors or tuple(tensors[key].shape) != shape:
            found = tuple(tensors[key].shape) if key in tensors else "nothing"
            raise PriorError(f"{path}: {key} should be {shape}, found {found}; delete it and rebuild it")
        if not torch.isfinite(tensors[key]).all():
            raise PriorError(f"{path}: {key} holds NaN or infinite values; delete it and rebuild it")
    return tensors


def missing_shards(folder: Path, plan: DataPlan) -> list[int]:
    return [i for i in range(plan.num_shards) if not shard_path(folder, i).is_file()]


def load_data(folder: str | os.PathLike) -> tuple[DataPlan, torch.Tensor, torch.Tensor]:
    """(plan, embeddings (N, K, D), w (N, w_dim)) of a complete folder."""
    folder = Path(folder)
    plan = read_manifest(folder)
    missing = missing_shards(folder, plan)
    if missing:
        raise PriorError(f"{folder} is incomplete: {len(missing)} of {plan.num_shards} shards missing "
                         f"(first: {shard_path(folder, missing[0]).name}); run dream3d-build-prior-data again "
                         "with the same options to finish it")
    shards = [read_shard(folder, plan, i) for i in range(plan.num_shards)]
    return plan, torch.cat([s["embedding"] for s in shards]), torch.cat([s["w"] for s in shards])
