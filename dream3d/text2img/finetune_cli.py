"""dream3d-finetune-sd: fine-tunes a local Stable Diffusion into G_I on SDF renders of shapes with random
solid backgrounds ("a CLS in the style of <*>"): the placeholder token's embedding and the UNet, with
prior preservation on what the original model draws for "a CLS"."""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from .config import MIXED_PRECISION, FinetuneConfig
from .sd_folder import Text2ImgError

EPILOG = """\
examples:
  dream3d-finetune-sd --base-model ~/sd-v1-4 --out runs/gi --steps 3000
  dream3d-finetune-sd --base-model ~/sd-v1-4 --out runs/gi --resume           # continue a stopped run
  accelerate launch -m dream3d.text2img.finetune_cli --base-model ~/sd-v1-4 --out runs/gi   # several GPUs
  torchrun --nproc-per-node 4 -m dream3d.text2img.finetune_cli --base-model ~/sd-v1-4 --out runs/gi

--base-model is a diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/),
e.g. from `huggingface-cli download CompVis/stable-diffusion-v1-4 --local-dir ~/sd-v1-4`. The renders
(OUT/data) and the class images (OUT/class_images) are written once and reused by later runs with the
same settings. The result, OUT/model, goes to MODELS/sd for dream3d-shape.
"""


def parser() -> argparse.ArgumentParser:
    d = FinetuneConfig(base_model="", out="")
    p = argparse.ArgumentParser(prog="dream3d-finetune-sd", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-model", required=True, metavar="DIR", help="Stable Diffusion folder in diffusers layout")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    data = p.add_argument_group("training images")
    data.add_argument("--shapes", default=d.shapes, help="'library' or a folder of SDF grid .npz/.npy files "
                      "(the class is read from the file name, e.g. chair_01.npz)")
    data.add_argument("--categories", nargs="+", metavar="CLS", help="library categories (default: all 13)")
    data.add_argument("--per-category", type=int, default=d.per_category, help="library shapes per category")
    data.add_argument("--views", type=int, default=d.views, help="renders per shape")
    data.add_argument("--grid-resolution", type=int, default=d.grid_resolution)
    data.add_argument("--size", type=int, default=d.size, help="image size (512 for SD 1.x, 768 for SD 2.x-v)")
    data.add_argument("--data-dir", metavar="DIR", help="renders folder (default OUT/data)")
    prior = p.add_argument_group("prior preservation")
    prior.add_argument("--prior-weight", type=float, default=d.prior_weight, help="0 turns it off")
    prior.add_argument("--class-images", type=int, default=d.class_images, help="images per class")
    prior.add_argument("--class-steps", type=int, default=d.class_steps)
    prior.add_argument("--class-guidance-scale", type=float, default=d.class_guidance_scale)
    prior.add_argument("--class-dir", metavar="DIR", help="class images folder (default OUT/class_images)")
    train = p.add_argument_group("training")
    train.add_argument("--placeholder-token", dest="token", default=d.token)
    train.add_argument("--initializer-token", dest="initializer", default=d.initializer)
    train.add_argument("--steps", type=int, default=d.steps)
    train.add_argument("--batch-size", type=int, default=d.batch_size, help="per process")
    train.add_argument("--lr-unet", type=float, default=d.lr_unet)
    train.add_argument("--lr-embedding", type=float, default=d.lr_embedding)
    train.add_argument("--warmup", type=int, default=d.warmup)
    train.add_argument("--weight-decay", type=float, default=d.weight_decay)
    train.add_argument("--max-grad-norm", type=float, default=d.max_grad_norm, help="0: no clipping")
    train.add_argument("--mixed-precision", choices=MIXED_PRECISION, default=d.mixed_precision)
    train.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=None,
                       help="default: on with CUDA")
    train.add_argument("--adam-8bit", action=argparse.BooleanOptionalAction, default=None,
                       help="bitsandbytes' AdamW8bit (default: on with CUDA when bitsandbytes is importable)")
    train.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    train.add_argument("--keep-checkpoints", type=int, default=d.keep_checkpoints)
    train.add_argument("--log-every", type=int, default=d.log_every)
    train.add_argument("--seed", type=int, default=d.seed)
    train.add_argument("--device", choices=("cpu",), help="force the CPU even with a GPU")
    return p


def main(argv: list[str] | None = None) -> int:
    args = vars(parser().parse_args(argv))
    cfg = FinetuneConfig(**{f.name: args[f.name] for f in fields(FinetuneConfig) if f.name in args})
    try:
        from .finetune import finetune

        finetune(cfg)
    except Text2ImgError as err:
        print(f"dream3d-finetune-sd: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
