"""dream3d-train-shape: trains G_S (SDF-StyleGAN) on the shape library or a folder of SDF grids."""
from __future__ import annotations

import argparse
import json
import sys

from .config import CONFIGS
from .data import DataError
from .run import TrainError, TrainOptions, train

EPILOG = """\
examples:
  dream3d-train-shape --config small --data library --out runs/gs --threads 1     # CPU, hours
  dream3d-train-shape --config paper --data sdf_grids/ --device cuda --amp --out runs/gs_paper
  torchrun --nproc-per-node 4 -m dream3d.shape.generator.cli --config paper --device cuda --out runs/gs
  dream3d-train-shape --out runs/gs --resume --steps 20000        # continue (same options otherwise)

OUT holds checkpoint.pt (resumable), generator.pt (the EMA generator for load_generator and the models
folder), snapshots/generator-STEP.pt at each evaluation, metrics.json and report.html (sample renders,
COV / MMD / 1-NNA against held-out shapes, loss curves).
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dream3d-train-shape", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainOptions(out="")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--config", default=d.config, choices=sorted(CONFIGS), help="G_S size (default small)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field (JSON value), e.g. --set batch_size=8 --set 'channels=[64,32]'")
    p.add_argument("--data", default=d.data, help="'library' (default) or a folder of SDF grid .npz/.npy files")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--per-category", type=int, default=d.per_category, help="library shapes per category per epoch")
    p.add_argument("--pool", type=int, default=d.pool, help="library seeds cycle through 1..POOL, cached in "
                   "OUT/library-cache (0, default: fresh seeds every epoch)")
    p.add_argument("--eval-every", type=int, default=d.eval_every)
    p.add_argument("--eval-shapes", type=int, default=d.eval_shapes, help="generated and held-out shapes compared")
    p.add_argument("--eval-points", type=int, default=d.eval_points, help="surface points per shape for Chamfer")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--device", default=d.device, help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA only; ignored on the CPU)")
    p.add_argument("--threads", type=int, default=d.threads, help="CPU threads (0: torch's default)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace the run in a non-empty --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise TrainError(f"--set takes FIELD=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        options = TrainOptions(out=args.out, config=args.config, overrides=_overrides(args.set), data=args.data,
                               steps=args.steps, seed=args.seed, per_category=args.per_category, pool=args.pool,
                               eval_every=args.eval_every, eval_shapes=args.eval_shapes, eval_points=args.eval_points,
                               checkpoint_every=args.checkpoint_every, device=args.device, amp=args.amp,
                               threads=args.threads, resume=args.resume, overwrite=args.overwrite,
                               progress=not args.no_progress)
        result = train(options)
    except (TrainError, DataError) as err:
        print(f"dream3d-train-shape: error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: result[k] for k in ("steps", "cov", "mmd", "1nna", "wall_s") if k in result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
