"""Does CLIP guidance move the shape toward the prompt? Runs library-CLIP-guided stage 2 from a start
shape (a sphere, or a library shape of another category) toward "a <category>", and prints the library
CLIP's score of shaded (geometry-only) renders and the shape measures before and after:

    python -m dream3d.library_clip.steer_check                        # sphere->table, chair->table, table->chair
    python -m dream3d.library_clip.steer_check --pairs sphere:lamp --steps 300 --set w_prior=0.01

Moving the right way: height/width and volume go toward the target's, and the Chamfer distance
(between occupied voxels) to the target category's canonical library shape falls. The pictures
(shaded renders before and after, the colour render after) and steer.json go to --out."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from ..devices import torch_threads
from ..guidance import load_clip
from ..pipeline.config import build_config
from ..pipeline.field_init import build_field
from ..pipeline.objectives import ClipGuidance, clip_spec
from ..pipeline.stage2 import optimise
from ..pipeline.views import render_views
from ..shape import SDFGrid, library_sdf_grid
from ..shape._atomic import atomic_path
from ..shape.library import CATEGORIES
from ..shape.sdf_grid import grid_points
from . import CHECKPOINT_PATH, CONFIG_PATH
from .captions import NOUNS, article
from .steer_measures import (chamfer, field_occupancy, height_over_width, ring_cameras, sdf_occupancy,
                             shaded_scores, volume)

DEFAULT_PAIRS = ("sphere:table", "chair:table", "table:chair")
SPHERE_RADIUS = 0.6
# What moves the shape (measured with this check, see the README): no prior loss, so the start shape is
# free to go; lr_grid 0.5 (the paper's; at 0.1 a solid start's interior density, ~20, takes hundreds of
# steps per voxel layer to carve); three views a step, so that the gradient is one 3D change rather than
# one view's adversarial texture. (TV 1e-2 against the speckle dissolved thin starts such as a chair.)
STEER_OPTIONS = dict(w_prior=0.0, lr_grid=0.5, clip_views=3)
BASE = dict(preset="preview", guidance="clip", clip_model=str(CONFIG_PATH), clip_checkpoint=str(CHECKPOINT_PATH),
            resolution=32, steps=600, threads=1, **STEER_OPTIONS)


def start_grid(name: str, resolution: int) -> SDFGrid:
    """"sphere" (radius 0.6) or a library category's canonical shape."""
    if name == "sphere":
        return SDFGrid(grid_points(resolution).norm(dim=-1) - SPHERE_RADIUS)
    if name not in CATEGORIES:
        raise ValueError(f"start shape {name!r}: use sphere or a library category ({', '.join(CATEGORIES)})")
    return library_sdf_grid(name, resolution)


def parse_pair(text: str) -> tuple[str, str]:
    start, sep, target = text.partition(":")
    if not sep or target not in CATEGORIES:
        raise ValueError(f"pair {text!r}: write START:TARGET, START sphere or a category, TARGET one of "
                         f"{', '.join(CATEGORIES)}")
    start_grid(start, 8)  # names the bad start early
    return start, target


def measure(field, config, guide, prompt: str, target: str, start_occ, target_occ) -> dict:
    occ = field_occupancy(field, config.beta)
    return {**shaded_scores(field, guide, prompt, target), "height_over_width": height_over_width(occ),
            "volume": volume(occ), "chamfer_to_target": chamfer(occ, target_occ),
            "chamfer_to_start": chamfer(occ, start_occ)}


def _picture(fields, config) -> np.ndarray:
    """Rows: shaded before, shaded after, colour after (on white); four views each."""
    from ..guidance.shading import shaded_views
    cams = ring_cameras(4)
    rows = []
    with torch.no_grad():
        for f in fields:
            shade, _ = shaded_views(f, cams, 96, 40.0, 1e-4)
            rows.append(shade[:, 0, :, :, None].expand(-1, -1, -1, 3))
        rgb, _ = render_views(fields[-1], cams, 96, 40.0)
        rows.append(rgb)
    return np.concatenate([np.concatenate(list(r.clamp(0, 1).numpy()), 1) for r in rows], 0)


def check_pair(start: str, target: str, overrides: dict, guide, out: Path | None) -> dict:
    prompt = article(NOUNS[target][0])
    with tempfile.TemporaryDirectory() as tmp:
        config = build_config({**BASE, **overrides, "prompt": prompt, "out": tmp})
        grid = start_grid(start, config.resolution)
        start_occ, target_occ = sdf_occupancy(grid), sdf_occupancy(library_sdf_grid(target, config.resolution))
        objective = ClipGuidance(config, guide)
        before_field = build_field(config, grid, config.resolution, "cpu")
        before = measure(before_field, config, guide, prompt, target, start_occ, target_occ)
        t0 = time.perf_counter()
        field, history = optimise(config, grid, objective, Path(tmp), "cpu")
        seconds = time.perf_counter() - t0
    after = measure(field, config, guide, prompt, target, start_occ, target_occ)
    if out is not None:
        with atomic_path(out / f"{start}-to-{target}.png") as path:
            Image.fromarray((_picture([before_field, field], config) * 255).astype(np.uint8)).save(path)
    return {"start": start, "target": target, "prompt": prompt, "steps": config.steps, "seconds": round(seconds, 1),
            "shading": objective.mode, "before": before, "after": after,
            "target_height_over_width": height_over_width(target_occ), "target_volume": volume(target_occ)}


def format_row(r: dict) -> str:
    b, a = r["before"], r["after"]
    return (f"{r['start']:>7} -> {r['prompt']:<10} score {b['score']:.3f} -> {a['score']:.3f}  top-1 "
            f"{b['category_top1']:.2f} -> {a['category_top1']:.2f}  h/w {b['height_over_width']:.2f} -> "
            f"{a['height_over_width']:.2f} (target {r['target_height_over_width']:.2f})  volume {b['volume']:.2f} -> "
            f"{a['volume']:.2f} (target {r['target_volume']:.2f})  Chamfer to target {b['chamfer_to_target']:.3f} -> "
            f"{a['chamfer_to_target']:.3f}, to start {a['chamfer_to_start']:.3f}  ({r['seconds']:.0f} s)")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dream3d.library_clip.steer_check",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS), metavar="START:TARGET")
    p.add_argument("--steps", type=int, default=BASE["steps"])
    p.add_argument("--set", nargs="*", default=[], metavar="OPTION=VALUE",
                   help="any dream3d-run option, the value read as YAML (e.g. clip_shading=color w_prior=0.03)")
    p.add_argument("--out", default=None, help="folder for steer.json and the before/after pictures")
    return p.parse_args(argv)


def parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: write OPTION=VALUE")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        pairs = [parse_pair(p) for p in args.pairs]
        overrides = {**parse_overrides(args.set), "steps": args.steps}
        build_config({**BASE, **overrides, "prompt": "a table", "out": "unused"})  # bad options stop here
    except ValueError as err:
        print(f"steer_check: error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    results = []
    with torch_threads(int(overrides.get("threads", BASE["threads"]))):
        guide = load_clip(clip_spec(build_config({**BASE, **overrides, "prompt": "a table", "out": "unused"})))
        for start, target in pairs:
            results.append(check_pair(start, target, overrides, guide, out))
            print(format_row(results[-1]), flush=True)
    if out is not None:
        with atomic_path(out / "steer.json") as path:
            path.write_text(json.dumps({"options": overrides, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
