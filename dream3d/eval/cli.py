"""dream3d-eval: CLIP R-precision of finished runs (run folders and batch folders) against a prompt set."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


from ..devices import resolve_device, torch_threads
from ..guidance import GuidanceError, locate_weights
from ..out_dir import ensure_writable
from ..pipeline.config import ConfigError
from .evaluate import DEFAULT_MODELS, Protocol, evaluate, parse_model
from .fields import FieldFileError
from .prompt_sets import BUILTIN, PromptSetError, load_prompt_set
from .report import table, write_results
from .runs import RunsError, collect_runs

EPILOG = """\
examples:
  dream3d-eval runs/batch --out runs/batch/eval                    # a batch folder (index.json)
  dream3d-eval clip=runs/clip sds=runs/sds --out runs/compare      # groups compared side by side
  dream3d-eval runs/bench --prompts my_prompts.txt --model ViT-L-14:openai --top-k 10 --out runs/eval
  dream3d-eval runs/bench --model tiny.json=tiny.pt --out runs/eval  # any open_clip JSON config + weights

Each view of each run retrieves among the prompt set's prompts (plus any run prompt the set lacks); a
hit at k means the run's own prompt ranks within the top k by cosine similarity (ties count against).
A group's score is the mean over its runs with the standard error s / sqrt(n). Weights are found
offline like dream3d-run's CLIP weights (checkpoint path, $DREAM3D_CLIP_CHECKPOINT, the caches).
Writes OUT/rprecision.{json,csv,svg,png} and OUT/rprecision_runs.csv (--save-renders: the views too).
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dream3d-eval", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", metavar="[LABEL=]FOLDER",
                   help="a finished run folder or a batch folder; LABEL names its group in the results")
    p.add_argument("--out", metavar="DIR", required=True, help="folder for the results (created)")
    p.add_argument("--prompts", default="objects", metavar="NAME|FILE",
                   help=f"prompt set: built-in ({', '.join(BUILTIN)}, the default) or a text file, one per line")
    add_eval_options(p)
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for rendering and CLIP (0: torch's default, all cores; 1 is faster on a "
                        "busy machine)")
    p.add_argument("--save-renders", dest="save_renders", action="store_true",
                   help="also write each run's evaluation views to OUT/renders/GROUP/RUN.png")
    return p


def add_eval_options(p: argparse.ArgumentParser) -> None:
    """The retrieval models and the evaluation views (shared with dream3d-bench-suite)."""
    p.add_argument("--model", action="append", metavar="SPEC",
                   help="retrieval CLIP, repeatable: ARCH[:TAG][=CHECKPOINT] or CONFIG.json=CHECKPOINT "
                   f"(default: {' and '.join(DEFAULT_MODELS)}, OpenAI weights)")
    p.add_argument("--top-k", dest="top_k", type=int, default=5, help="k besides top-1 (default 5)")
    defaults = Protocol()
    p.add_argument("--views", type=int, default=defaults.views, help=f"views per run (default {defaults.views})")
    p.add_argument("--elevation", type=float, default=defaults.elevation, help="view elevation, degrees")
    p.add_argument("--radius", type=float, default=defaults.radius, help="camera distance from the origin")
    p.add_argument("--fov", type=float, default=defaults.fov, help="vertical field of view, degrees")
    p.add_argument("--size", type=int, default=defaults.size, help="render size in pixels (default 224)")
    p.add_argument("--clip-cache-dir", dest="clip_cache_dir", metavar="DIR", help="cache folder to look in")
    p.add_argument("--clip-download", dest="clip_download", action="store_true",
                   help="fetch missing weights from the hub (needs a network)")


def eval_setup(args) -> tuple[list, Protocol]:
    """The retrieval models, every one's weights located (a missing one raises GuidanceError now), and
    the evaluation views, checked."""
    _check(args)
    models = [parse_model(m, args.clip_cache_dir, args.clip_download) for m in (args.model or DEFAULT_MODELS)]
    for _, spec in models:
        locate_weights(spec)
    return models, Protocol(args.views, args.elevation, args.radius, args.fov, args.size)


def _check(args) -> None:
    if getattr(args, "threads", 0) < 0:
        raise ConfigError("--threads must be >= 0")
    if args.top_k < 1 or args.views < 1 or args.size < 8:
        raise ConfigError("--top-k and --views must be >= 1, --size >= 8")
    if not 0 < args.fov < 180 or args.radius <= 1.8 or not -90 <= args.elevation <= 90:
        raise ConfigError("--fov must lie in (0, 180), --radius outside the bbox (> 1.8), --elevation in [-90, 90]")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        set_name, prompts = load_prompt_set(args.prompts)
        runs, skipped = collect_runs(args.sources)
        models, protocol = eval_setup(args)  # a missing model stops here, before the output folder exists
        for s in skipped:
            print(f"[dream3d-eval] skipped {s.folder} ({s.prompt!r}): {s.reason}", file=sys.stderr)
        out = Path(args.out)
        ensure_writable(out)
        with torch_threads(args.threads):
            result = evaluate(runs, prompts, models, (1, args.top_k), protocol, resolve_device(args.device),
                              renders_dir=out / "renders" if args.save_renders else None)
    except (ConfigError, GuidanceError, PromptSetError, RunsError, FieldFileError, ValueError, OSError) as err:
        print(f"dream3d-eval: error: {err}", file=sys.stderr)
        return 2
    result = {"prompt_set": set_name, "n_prompts": len(prompts),
              "skipped": [vars(s) for s in skipped], **result}
    write_results(out, result)
    print(f"CLIP R-precision, prompt set {set_name} ({result['n_candidates']} candidates), "
          f"{protocol.views} views at elevation {protocol.elevation:g}, {protocol.size} px, white background")
    print(table(result["results"]))
    print(f"results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
