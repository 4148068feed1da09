"""Image folders as diffusers' training examples read them (the "imagefolder" layout): images/*.png and
metadata.jsonl with one {"file_name", "text"} line per image, plus spec.json saying what made them.
A folder is built once, in a hidden sibling that is renamed into place when complete, and reused by
later runs whose spec matches; a different spec is refused rather than silently mixed."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from .sd_folder import Text2ImgError

SPEC = "spec.json"
METADATA = "metadata.jsonl"


def existing(folder: Path, spec: dict, what: str) -> list[dict] | None:
    """The folder's records when it was built with ``spec``; None when it does not exist."""
    if not folder.exists():
        return None
    spec_file = folder / SPEC
    if not spec_file.is_file() or not (folder / METADATA).is_file():
        raise Text2ImgError(f"{what} {folder} exists but is not a complete image folder ({SPEC} and {METADATA}); "
                            "remove it or give another folder")
    found = json.loads(spec_file.read_text())
    if found != json.loads(json.dumps(spec)):
        changed = sorted(k for k in set(found) | set(spec) if found.get(k) != spec.get(k))
        raise Text2ImgError(f"{what} {folder} was built with other settings ({', '.join(changed)} differ); "
                            "remove it to rebuild, or give another folder")
    return read_records(folder)


def read_records(folder: Path) -> list[dict]:
    with open(folder / METADATA) as f:
        return [json.loads(line) for line in f if line.strip()]


def staging_folder(folder: Path) -> Path:
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.partial-"))
    (staging / "images").mkdir()
    return staging


def write_image(path: Path, image: torch.Tensor) -> None:
    """(3, H, W) in [0, 1] -> 8-bit PNG."""
    import imageio.v3 as iio

    pixels = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    iio.imwrite(path, pixels)


def read_image(path: Path, size: int | None = None) -> torch.Tensor:
    """(3, size, size) in [0, 1]."""
    import imageio.v3 as iio

    pixels = np.asarray(iio.imread(path))[..., :3]
    image = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1)
    if size is not None and image.shape[-2:] != (size, size):
        image = torch.nn.functional.interpolate(image[None], size=(size, size), mode="bilinear",
                                                align_corners=False, antialias=True)[0].clamp(0, 1)
    return image


def finish(staging: Path, folder: Path, records: list[dict], spec: dict) -> list[dict]:
    """Writes the metadata and spec, then moves the staging folder into place."""
    with open(staging / METADATA, "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    (staging / SPEC).write_text(json.dumps(spec, indent=1))
    os.chmod(staging, 0o755)
    os.replace(staging, folder)
    return records


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
