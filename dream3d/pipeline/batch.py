"""Many prompts, many machines: one run per prompt in OUT/<slug>, the prompts sharded across the ranks
of a ``torchrun`` launch (rank r takes prompts r, r + W, ...), and OUT/index.json, written by rank 0,
listing every prompt with its folder, rank, status and headline metrics. A prompt that fails (say, a
category the library lacks) is recorded as failed and the batch goes on. A folder that holds a batch is
refused unless --resume (finished prompts are kept, the others continue or start) or --overwrite."""
from __future__ import annotations

import datetime
import json
import os
import re
import sys
from pathlib import Path
from typing import Callable

import torch

from ..guidance import GuidanceError
from .config import ConfigError, build_config
from .outputs import write_json
from .priors import PriorError
from .run import run

INDEX = "index.json"
METRICS = "metrics.json"
# Runs take hours; a rank that finishes early must not time out waiting for the others at the end.
GATHER_TIMEOUT = datetime.timedelta(days=7)


def slug(prompt: str, taken: set[str]) -> str:
    """A folder name for a prompt: lower-case words joined by '-', at most 60 characters, unique."""
    base = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:60].strip("-") or "prompt"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def read_prompts(path: str) -> list[str]:
    """One prompt per line; blank lines and lines starting with # are skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise ConfigError(f"cannot read --prompts-file {path}: {err.strerror or err}") from err
    prompts = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise ConfigError(f"--prompts-file {path} holds no prompts")
    return prompts


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of ranks, from torchrun's environment (0, 1 without it)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def check_rerun(root: Path, folders: list[str], resume: bool, overwrite: bool) -> None:
    """A batch run again into its folder without --resume or --overwrite would find every prompt's folder
    taken and index them all as failed: refuse before touching anything."""
    if resume or overwrite:
        return
    taken = [f for f in folders if (root / f).is_dir() and any((root / f).iterdir())]
    if (root / INDEX).is_file() or taken:
        done = sum((root / f / METRICS).is_file() for f in folders)
        raise ConfigError(f"--out {root} holds a batch already ({done} of {len(folders)} prompts finished); pass "
                          "--resume to keep the finished ones and run the rest, or --overwrite to run them all again")


def finished_metrics(out: Path) -> dict | None:
    """A prompt's metrics when its run has finished (metrics.json is its last file), else None."""
    try:
        return json.loads((out / METRICS).read_text())
    except (OSError, ValueError):
        return None


def _headline(metrics: dict) -> dict:
    keys = ("psnr_heldout", "clip_score_heldout", "chamfer_to_prior", "wall_s", "prior")
    return {k: metrics[k] for k in keys if k in metrics}


def run_batch(prompts: list[str], options: dict, file_options: dict, root: str,
              log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> int:
    """Runs this rank's share of ``prompts`` (``options`` as from the command line, without prompt and
    out); rank 0 writes the index. Returns 0 when every prompt of the batch succeeded, else 1."""
    rank, world = rank_and_world()
    first = build_config({**options, "prompt": prompts[0], "out": root}, file_options)  # bad options fail now
    taken: set[str] = set()
    folders = [slug(p, taken) for p in prompts]  # from the whole list: the same folders on any world size
    check_rerun(Path(root), folders, first.resume, first.overwrite)
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("gloo", timeout=GATHER_TIMEOUT)
        local = int(os.environ.get("LOCAL_RANK", 0))
        if first.device in ("cuda", "auto") and torch.cuda.is_available():
            options = {**options, "device": f"cuda:{local % torch.cuda.device_count()}"}
    entries = []
    for i in range(rank, len(prompts), world):
        entry = {"index": i, "prompt": prompts[i], "out": folders[i], "rank": rank}
        log(f"[dream3d] rank {rank}/{world}: prompt {prompts[i]!r} -> {Path(root) / folders[i]}")
        kept = finished_metrics(Path(root) / folders[i]) if first.resume else None
        if kept is not None:
            log(f"[dream3d] rank {rank}: prompt {prompts[i]!r} finished before: kept")
            entries.append({**entry, "status": "done", **_headline(kept)})
            continue
        try:
            metrics = run(build_config({**options, "prompt": prompts[i], "out": str(Path(root) / folders[i])},
                                       file_options), log=log)
            entry.update(status="done", **_headline(metrics))
        except (ConfigError, PriorError, GuidanceError) as err:
            log(f"[dream3d] rank {rank}: prompt {prompts[i]!r} failed: {err}")
            entry.update(status="failed", error=str(err))
        entries.append(entry)
    if world > 1:
        gathered: list = [None] * world
        dist.all_gather_object(gathered, entries)
        dist.destroy_process_group()
        entries = [e for part in gathered for e in part]
    entries.sort(key=lambda e: e["index"])
    if rank == 0:
        Path(root).mkdir(parents=True, exist_ok=True)
        write_json(Path(root) / INDEX, {"world_size": world, "runs": entries})
        done = sum(e["status"] == "done" for e in entries)
        log(f"[dream3d] batch: {done}/{len(entries)} prompts done; index in {Path(root) / INDEX}")
    return 0 if all(e["status"] == "done" for e in entries) else 1
