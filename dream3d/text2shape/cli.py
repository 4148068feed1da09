"""dream3d-shape: a prompt (or a picture) -> an untextured 3D shape through stage 1's models
(CLIP -> G_M -> w -> G_S): DIR/shape.npz (SDF grid), shape.glb (mesh), preview.png, shape.json."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ..models_dir import ENV_MODELS, models_folder
from ..text2img.generate import SCHEDULERS, load_gi
from ..text2img.route import find_gi, gi_embedding
from ..text2img.sd_folder import Text2ImgError
from ..prior import SAMPLERS
from .models import Text2ShapeError, load_models, resolve_paths
from .outputs import check_out, write_shape
from .route import shape_from_embedding, text_to_shape

EPILOG = f"""\
examples:
  dream3d-shape --prompt "a swivel chair" --models ~/dream3d-models --out shapes/chair
  dream3d-shape --image photo.png --out shapes/photo --resolution 128    # models from ${ENV_MODELS}

The models folder (--models DIR or ${ENV_MODELS}) holds generator.pt (G_S, from dream3d-train-shape),
prior.pt (G_M, from dream3d-train-prior) and optionally clip/ (the CLIP weights the prior's data were
embedded with; otherwise they are looked for in the Hugging Face and open_clip caches) and sd/ (G_I, from
dream3d-finetune-sd: a prompt then goes prompt -> G_I image -> background removed -> CLIP image embedding,
and DIR/gi_image.png, gi_cutout.png are kept; --no-sd embeds the prompt's text instead).
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dream3d-shape", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--prompt", help="text, e.g. \"a swivel chair\" (its CLIP text embedding conditions G_M)")
    what.add_argument("--image", metavar="FILE", help="a picture whose CLIP image embedding conditions G_M")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (refused if not empty, unless --overwrite)")
    p.add_argument("--models", metavar="DIR", help=f"models folder (default ${ENV_MODELS})")
    p.add_argument("--generator", metavar="FILE", help="G_S checkpoint (instead of MODELS/generator.pt)")
    p.add_argument("--prior", metavar="FILE", help="G_M checkpoint (instead of MODELS/prior.pt)")
    p.add_argument("--clip-model", metavar="NAME|FILE.json", help="CLIP architecture (default: the prior's)")
    p.add_argument("--clip-checkpoint", metavar="PATH", help="CLIP weights (default: MODELS/clip, then the caches)")
    p.add_argument("--clip-cache-dir", metavar="DIR")
    p.add_argument("--resolution", type=int, default=64, help="SDF grid size per axis")
    p.add_argument("--seed", type=int, default=0, help="seed of G_M's sampling noise")
    p.add_argument("--sampler", choices=SAMPLERS, default="ddpm", help="ddpm: every timestep; ddim: --steps of them")
    p.add_argument("--steps", type=int, help="ddim: sampling steps (default: all)")
    p.add_argument("--guidance-scale", type=float, default=1.0,
                   help="classifier-free guidance (> 1 needs a prior trained with --cond-drop)")
    p.add_argument("--preview-size", type=int, default=256, help="pixels per preview view")
    sd = p.add_argument_group("G_I (the stylised Stable Diffusion: prompt -> image -> CLIP image embedding)")
    sd.add_argument("--sd", metavar="DIR", help="G_I folder (default MODELS/sd when present; without one the "
                    "prompt's CLIP text embedding is used)")
    sd.add_argument("--no-sd", action="store_true", help="skip G_I even if MODELS/sd exists (text embedding)")
    sd.add_argument("--sd-steps", type=int, default=50, help="G_I sampling steps")
    sd.add_argument("--sd-guidance-scale", type=float, default=7.5)
    sd.add_argument("--sd-scheduler", default="ddim", choices=SCHEDULERS)
    sd.add_argument("--sd-threshold", type=float, default=0.08,
                    help="background removal: max channel distance from the border colour that is background")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    return p


def run(args: argparse.Namespace, log=print) -> Path:
    out = Path(args.out)
    check_out(out, args.overwrite)  # before loading anything
    if args.preview_size < 8:
        raise Text2ShapeError(f"--preview-size must be >= 8, got {args.preview_size}")
    t0 = time.perf_counter()
    paths = resolve_paths(args.models, args.generator, args.prior, args.clip_model, args.clip_checkpoint,
                          args.clip_cache_dir)
    gi_folder = None if args.no_sd or args.prompt is None else find_gi(models_folder(args.models), args.sd)
    models = load_models(paths, args.device, log)
    gi = load_gi(gi_folder, args.device) if gi_folder is not None else None
    t1 = time.perf_counter()
    sampling = dict(resolution=args.resolution, seed=args.seed, sampler=args.sampler, steps=args.steps,
                    guidance_scale=args.guidance_scale)
    images, gi_info = None, {}
    if gi is not None:
        step = gi_embedding(gi, models.clip, args.prompt, seed=args.seed, steps=args.sd_steps,
                            guidance_scale=args.sd_guidance_scale, scheduler=args.sd_scheduler,
                            threshold=args.sd_threshold)
        shape = shape_from_embedding(models, step.embedding, source="gi", **sampling)
        images = step.files()
        gi_info = {"sd": str(gi_folder), "sd_prompt": step.prompt, "sd_steps": args.sd_steps,
                   "sd_guidance_scale": args.sd_guidance_scale, "sd_scheduler": args.sd_scheduler,
                   "sd_background": step.cutout.background.tolist(), "sd_border_spread": step.cutout.border_spread}
        if step.cutout.border_spread > 0.1:
            log(f"[dream3d-shape] warning: G_I's image has no solid background (border spread "
                f"{step.cutout.border_spread:.2f}); the cut-out may keep background: see gi_cutout.png")
    else:
        shape = text_to_shape(models, prompt=args.prompt, image=args.image, **sampling)
    t2 = time.perf_counter()
    info = {"prompt": args.prompt, "image": args.image, "source": shape.source, "seed": args.seed,
            "sampler": args.sampler, "steps": args.steps, "guidance_scale": args.guidance_scale,
            "resolution": args.resolution, "generator": str(paths.generator), "prior": str(paths.prior),
            "clip": models.meta.get("clip", {}).get("model"), **gi_info, "w": shape.w.tolist()}
    write_shape(out, shape.grid, info, args.preview_size, args.overwrite, images)
    log(f"[dream3d-shape] {out}: shape.npz, shape.glb, preview.png (models {t1 - t0:.1f} s, "
        f"sampling {t2 - t1:.1f} s, outputs {time.perf_counter() - t2:.1f} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        run(args)
    except (Text2ShapeError, Text2ImgError) as err:
        print(f"dream3d-shape: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
