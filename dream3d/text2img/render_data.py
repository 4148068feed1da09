"""G_I's training images: SDF renders of shapes (the built-in library or a folder of SDF grids) from the
paper's view set, each on a random solid-colour background, captioned "a CLS in the style of TOKEN"."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..cameras import dataset_views
from ..shape.grid_folder import sdf_grid_files
from ..shape import CATEGORIES, SDFGrid, category_from_prompt, library_sdf_grid, load_sdf, render_grids
from . import image_folder
from .sd_folder import Text2ImgError

STYLE_TEMPLATE = "a {cls} in the style of {token}"
CLASS_TEMPLATE = "a {cls}"


def shape_items(source: str, per_category: int, categories: list[str] | None) -> list[tuple[str, object]]:
    """(class name, library seed or grid file) pairs."""
    if source == "library":
        chosen = list(categories or CATEGORIES)
        unknown = [c for c in chosen if c not in CATEGORIES]
        if unknown:
            raise Text2ImgError(f"unknown categories {', '.join(unknown)}; the library has {', '.join(CATEGORIES)}")
        return [(c, seed) for seed in range(per_category) for c in chosen]
    files = sdf_grid_files(source, "--shapes", Text2ImgError)
    # the class from the file name ("chair_012.npz" -> chair); "object" when it names no category
    return [(category_from_prompt(f.stem.replace("_", " ").replace("-", " ")) or "object", f) for f in files]


def load_item(item, resolution: int) -> SDFGrid:
    from ..shape.generator.data import onto_cube

    cls, what = item
    if isinstance(what, Path):
        try:
            return SDFGrid(onto_cube(load_sdf(what), resolution))
        except ValueError as err:
            raise Text2ImgError(f"{what}: {err}") from err
    return library_sdf_grid(cls, resolution, seed=int(what))


def render_spec(source: str, token: str, per_category: int, categories, views: int, size: int,
                resolution: int, seed: int) -> dict:
    return {"kind": "renders", "source": str(source), "token": token, "per_category": per_category,
            "categories": sorted(categories) if categories else None, "views": views, "size": size,
            "resolution": resolution, "seed": seed, "template": STYLE_TEMPLATE}


def build_render_data(folder: str | os.PathLike, token: str, source: str = "library", per_category: int = 8,
                      categories: list[str] | None = None, views: int = 24, size: int = 512,
                      resolution: int = 64, seed: int = 0, device="cpu", log=print) -> list[dict]:
    """Writes the data set once (or reuses a matching one) and returns its records."""
    folder = Path(folder)
    spec = render_spec(source, token, per_category, categories, views, size, resolution, seed)
    records = image_folder.existing(folder, spec, "--data-dir")
    if records is not None:
        log(f"[finetune-sd] reusing {len(records)} renders in {folder}")
        return records
    items = shape_items(source, per_category, categories)
    staging = image_folder.staging_folder(folder)
    records = []
    try:
        for index, item in enumerate(tqdm(items, desc="renders", unit="shape")):
            cams = dataset_views(views, seed=int(np.random.SeedSequence([seed, index]).generate_state(1)[0]),
                                 random_azimuth=True)
            background = torch.rand(1, views, 3, generator=torch.Generator().manual_seed(seed * 100_003 + index))
            rgb = render_grids(load_item(item, resolution), cams, size=size, background=background, device=device,
                               supersample=2).rgb[0]
            for view in range(views):
                name = f"images/{index:05d}-{view:02d}.png"
                image_folder.write_image(staging / name, rgb[view].permute(2, 0, 1))
                records.append({"file_name": name, "text": STYLE_TEMPLATE.format(cls=item[0], token=token),
                                "class": item[0]})
        return image_folder.finish(staging, folder, records, spec)
    except BaseException:
        image_folder.discard(staging)
        raise
