"""dream3d-bench-suite: one prompt set under several named configurations, then CLIP R-precision on them
all, and one comparison table (R-precision, minutes per prompt, peak memory)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..devices import resolve_device
from ..out_dir import ensure_writable
from ..guidance import GuidanceError
from ..pipeline.config import ConfigError
from .cli import add_eval_options, eval_setup
from .evaluate import evaluate
from .fields import FieldFileError
from .prompt_sets import BUILTIN, PromptSetError, load_prompt_set
from .report import write_csv, write_json, write_results
from .runs import RunsError, collect_runs
from .suite import BUILTIN_CONFIGS, comparison_table, flat, parse_configuration, run_configuration, summarise

EPILOG = """\
examples:
  dream3d-bench-suite --config none --config clip --config sds --limit 8 --out runs/suite
  dream3d-bench-suite --config base=base.yaml --config grid=grid.yaml --prompts mine.txt --preset paper \\
                      --device cuda --out runs/suite

A configuration is NAME=FILE.yaml (dream3d-run options, as for --config there) or one of the built-in
names none, clip, sds (that guidance and nothing else). --preset, --steps and --device give every
configuration its defaults; a configuration's own options win. Each configuration runs as a batch in
OUT/NAME (a finished one, with its index.json, is reused unless --overwrite); then every run is scored
as dream3d-eval would (OUT/rprecision.*), and OUT/suite.json and OUT/suite.csv hold the comparison.
Minutes per prompt: the mean of the runs' wall time. Peak memory: the process's resident set (its
high-water mark reset before each configuration on Linux) and CUDA's allocator peak.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dream3d-bench-suite", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", dest="configs", action="append", required=True, metavar="NAME[=FILE.yaml]",
                   help=f"a configuration, repeatable (built-in: {', '.join(BUILTIN_CONFIGS)})")
    p.add_argument("--out", metavar="DIR", required=True, help="folder for the runs and the results")
    p.add_argument("--prompts", default="objects", metavar="NAME|FILE",
                   help=f"prompt set: built-in ({', '.join(BUILTIN)}, the default) or a text file")
    p.add_argument("--limit", type=int, metavar="N", help="only the set's first N prompts")
    p.add_argument("--preset", help="default preset of every configuration")
    p.add_argument("--steps", type=int, help="default steps of every configuration")
    p.add_argument("--device", help="device of the runs (cpu, cuda, cuda:N, auto) and of the evaluation")
    p.add_argument("--overwrite", action="store_true", help="rerun configurations that already have results")
    add_eval_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    try:
        configs = [parse_configuration(c) for c in args.configs]
        names = [name for name, _ in configs]
        if len(set(names)) < len(names):
            raise ConfigError(f"configuration names must differ: {', '.join(names)}")
        set_name, candidates = load_prompt_set(args.prompts)
        if args.limit is not None and args.limit < 1:
            raise ConfigError(f"--limit must be >= 1, got {args.limit}")
        prompts = candidates[:args.limit]  # run these; retrieval is still among the whole set
        models, protocol = eval_setup(args)  # missing retrieval weights stop the suite before any run
        common = {k: getattr(args, k) for k in ("preset", "steps", "device") if getattr(args, k) is not None}
        out = Path(args.out)
        ensure_writable(out)
        resources = {name: run_configuration(name, {**common, **options}, prompts, out, args.overwrite, log)
                     for name, options in configs}
        runs, skipped = collect_runs([f"{name}={out / name}" for name in names])
        result = evaluate(runs, candidates, models, (1, args.top_k), protocol, resolve_device(args.device or "auto"),
                          log=log)
    except (ConfigError, GuidanceError, PromptSetError, RunsError, FieldFileError, ValueError, OSError) as err:
        print(f"dream3d-bench-suite: error: {err}", file=sys.stderr)
        return 2
    write_results(out, {"prompt_set": set_name, "n_prompts": len(prompts), "skipped": [vars(s) for s in skipped],
                        **result})
    lines = [summarise(name, out / name, resources[name], result["results"]) for name in names]
    write_json(out / "suite.json", {"prompt_set": set_name, "prompts": prompts,
                                    "configurations": dict(configs), "common": common, "results": lines})
    flat_lines = [flat(line) for line in lines]
    write_csv(out / "suite.csv", flat_lines, list(dict.fromkeys(k for line in flat_lines for k in line)))
    print(f"comparison on prompt set {set_name} ({len(prompts)} prompts), CLIP R-precision with "
          f"{protocol.views} views at {protocol.size} px:")
    print(comparison_table(lines))
    print(f"results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
