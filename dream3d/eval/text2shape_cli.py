"""dream3d-eval-shapes: text-to-shape FID over a prompt file (Dream3D's Table 2 protocol: 3 shapes per
prompt, 5 renders each, against renders of reference shapes), for the full route and its ablations."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from ..models_dir import ENV_MODELS, models_folder
from ..shape import SDFGrid
from ..shape._atomic import atomic_path
from ..text2img.generate import SCHEDULERS
from .fid import FIDError, feature_stats, image_features, load_inception
from .prompt_sets import PROMPTS_DIR, PromptSetError, load_prompt_set
from .text2shape_fid import (MODES, RenderSpec, ShapeEvalError, fid_of_renders, generated_grids, prompt_categories,
                             reference_grids, render_set)

DEFAULT_PROMPTS = PROMPTS_DIR / "categories.txt"
EPILOG = f"""\
examples:
  dream3d-eval-shapes --models ~/dream3d-models --inception ~/inception_v3_google-0cc3c7bd.pth --out eval/t2s
  dream3d-eval-shapes --modes full no-finetune no-text2img --sd-base ~/sd-v1-4 --out eval/ablations

Models: --models DIR (or ${ENV_MODELS}) as for dream3d-shape; "full" needs G_I (MODELS/sd or --sd),
"no-finetune" the original Stable Diffusion (--sd-base, default the base recorded by G_I). FID uses
torchvision's Inception-v3 weights from a local file (--inception FILE, $DREAM3D_INCEPTION or torch hub's
cache; --download-inception fetches them); its values are comparable across runs with the same weights.
Results: OUT/fid.json; generated shapes are kept in OUT/shapes/MODE/ and reused by a rerun.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dream3d-eval-shapes", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--prompts", default=str(DEFAULT_PROMPTS), help="prompt file, one per line (default: the "
                   "39 category phrases shipped in dream3d/eval/prompts/categories.txt)")
    p.add_argument("--modes", nargs="+", choices=MODES, default=["full"])
    p.add_argument("--shapes-per-prompt", type=int, default=3)
    p.add_argument("--views", type=int, default=5)
    p.add_argument("--size", type=int, default=256, help="render size")
    p.add_argument("--resolution", type=int, default=64, help="SDF grid size of generated and library shapes")
    p.add_argument("--reference", default="library", help="'library' or a folder of SDF grids")
    p.add_argument("--reference-per-category", type=int, default=20, help="library shapes per category")
    p.add_argument("--inception", metavar="FILE", help="Inception-v3 weights (torchvision's)")
    p.add_argument("--download-inception", action="store_true")
    p.add_argument("--models", metavar="DIR")
    p.add_argument("--sd", metavar="DIR", help="G_I folder (default MODELS/sd)")
    p.add_argument("--sd-base", metavar="DIR", help="original Stable Diffusion for no-finetune")
    p.add_argument("--sd-steps", type=int, default=50)
    p.add_argument("--sd-guidance-scale", type=float, default=7.5)
    p.add_argument("--sd-scheduler", default="ddim", choices=SCHEDULERS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=50, help="Inception batch")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p


def shape_makers(models, modes: list[str], gi_folders: dict, args, device) -> dict[str, Callable[[str, int], SDFGrid]]:
    """mode -> (prompt, seed) -> grid, all through the route's own functions."""
    from ..text2shape import shape_from_embedding

    def from_embedding(embedding, seed):
        return shape_from_embedding(models, embedding, resolution=args.resolution, seed=seed).grid

    makers = {}
    for mode in modes:
        if mode == "no-text2img":
            makers[mode] = lambda prompt, seed: from_embedding(models.clip.embed_text([prompt]), seed)
            continue
        from ..text2img.generate import load_gi
        from ..text2img.route import gi_embedding

        gi = load_gi(gi_folders[mode], device)

        def make(prompt, seed, gi=gi):
            step = gi_embedding(gi, models.clip, prompt, seed=seed, steps=args.sd_steps,
                                guidance_scale=args.sd_guidance_scale, scheduler=args.sd_scheduler)
            return from_embedding(step.embedding, seed)
        makers[mode] = make
    return makers


def evaluate(makers: dict, prompts: list[str], net: torch.nn.Module, out: Path, spec: RenderSpec,
             shapes_per_prompt: int = 3, seed: int = 0, reference: str = "library", per_category: int = 20,
             resolution: int = 64, batch_size: int = 50, device="cpu", log=print) -> dict:
    """FID of every mode's renders against the reference renders; writes OUT/fid.json."""
    out.mkdir(parents=True, exist_ok=True)
    categories = prompt_categories(prompts)
    refs = reference_grids(reference, categories, per_category, resolution, out / "reference")
    ref_stats = feature_stats(image_features(net, render_set(refs, spec, device), batch_size, "reference"))
    results = {"prompts": len(prompts), "shapes_per_prompt": shapes_per_prompt, "views": spec.views,
               "size": spec.size, "reference": reference, "reference_shapes": len(refs),
               "reference_categories": categories if reference == "library" else None, "seed": seed, "fid": {}}
    for mode, make in makers.items():
        t0 = time.perf_counter()
        grids = generated_grids(make, prompts, shapes_per_prompt, seed, out / "shapes" / mode, mode)
        value = fid_of_renders(net, render_set(grids, spec, device), ref_stats, batch_size)
        results["fid"][mode] = value
        log(f"[eval-shapes] {mode}: FID {value:.3f} ({len(grids)} shapes x {spec.views} views, "
            f"{time.perf_counter() - t0:.1f} s)")
    with atomic_path(out / "fid.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1))
    return results


def gi_folders(args, modes) -> dict:
    """The Stable Diffusion folder each mode needs, checked before any work."""
    from ..text2img.route import find_gi
    from ..text2img.sd_folder import check_sd_folder, read_gi_meta

    folders = {}
    if "full" in modes or "no-finetune" in modes:
        gi = find_gi(models_folder(args.models), args.sd)
        if "full" in modes:
            if gi is None or read_gi_meta(check_sd_folder(gi, "--sd")) is None:
                raise ShapeEvalError("mode full needs G_I: put dream3d-finetune-sd's OUT/model in MODELS/sd or "
                                     "give --sd DIR")
            folders["full"] = gi
        if "no-finetune" in modes:
            recorded = (read_gi_meta(gi) or {}).get("base_model") if gi is not None else None
            base = args.sd_base or recorded
            if not base:
                raise ShapeEvalError("mode no-finetune needs the original Stable Diffusion: give --sd-base DIR")
            folders["no-finetune"] = check_sd_folder(base, "--sd-base")
    return folders


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from ..text2img.sd_folder import Text2ImgError
    from ..text2shape import Text2ShapeError, load_models, resolve_paths

    try:
        if min(args.shapes_per_prompt, args.views, args.reference_per_category) < 1 or args.size < 16:
            raise ShapeEvalError("--shapes-per-prompt, --views and --reference-per-category must be >= 1, --size >= 16")
        _, prompts = load_prompt_set(args.prompts)
        net = load_inception(args.inception, args.device, args.download_inception)
        folders = gi_folders(args, args.modes)
        models = load_models(resolve_paths(args.models), args.device)
        makers = shape_makers(models, args.modes, folders, args, args.device)
        spec = RenderSpec(views=args.views, size=args.size)
        results = evaluate(makers, prompts, net, Path(args.out), spec, args.shapes_per_prompt, args.seed,
                           args.reference, args.reference_per_category, args.resolution, args.batch_size, args.device)
    except (ShapeEvalError, FIDError, PromptSetError, Text2ShapeError, Text2ImgError) as err:
        print(f"dream3d-eval-shapes: error: {err}", file=sys.stderr)
        return 2
    for mode, value in results["fid"].items():
        print(f"{mode:12s} FID {value:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
