"""A comparison suite: one prompt set run under several named configurations (each a batch in
OUT/NAME, pipeline/batch.py), then R-precision on them all (evaluate.py), and one table: per
configuration the prompts done, minutes per prompt, peak memory and R-precision per retrieval model."""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from ..pipeline.batch import INDEX, run_batch
from ..pipeline.config import ConfigError, load_config_file
from .report import write_json

# configurations named by a guidance alone
BUILTIN_CONFIGS = {"none": {"guidance": "none"}, "clip": {"guidance": "clip"}, "sds": {"guidance": "sds"}}
RESOURCES = "suite_resources.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_configuration(text: str) -> tuple[str, dict]:
    """``NAME=FILE.yaml`` (dream3d-run options) or a built-in NAME (none, clip, sds)."""
    name, sep, path = text.partition("=")
    if not _NAME.match(name):
        raise ConfigError(f"--config {text!r}: a configuration name is letters, digits, '_', '.', '-'")
    if sep:
        options = load_config_file(path)
        if {"prompt", "out"} & set(options):
            raise ConfigError(f"--config {text}: prompt and out come from the suite, not the configuration")
        return name, options
    if name not in BUILTIN_CONFIGS:
        raise ConfigError(f"--config {name}: not a built-in configuration ({', '.join(BUILTIN_CONFIGS)}); give "
                          f"{name}=FILE.yaml")
    return name, dict(BUILTIN_CONFIGS[name])


def _vm_hwm_kib() -> int | None:
    try:
        return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))
    except (OSError, AttributeError):
        return None


def reset_peak_memory() -> bool:
    """Starts a fresh peak: CUDA's allocator statistics, and Linux's resident-set high-water mark
    (writing 5 to /proc/self/clear_refs). False when the RSS peak cannot be reset (it then covers the
    whole process so far)."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def read_peak_memory(rss_reset: bool) -> dict:
    import resource

    kib = _vm_hwm_kib()
    if kib is None:  # no /proc: getrusage's peak (KiB on Linux, bytes on macOS)
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
        rss_reset = False
    cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {"peak_rss_mb": round(kib / 1024, 1), "peak_rss_since_start": rss_reset,
            "peak_cuda_mb": None if cuda is None else round(cuda, 1)}


def run_configuration(name: str, options: dict, prompts: list[str], root: Path, overwrite: bool,
                      log: Callable[[str], None]) -> dict:
    """Runs the batch into root/name (or reuses a finished one) and returns its resources record."""
    folder = root / name
    if (folder / INDEX).is_file() and not overwrite:
        log(f"[dream3d-bench-suite] {name}: reusing {folder / INDEX} (--overwrite reruns it)")
        saved = folder / RESOURCES
        return json.loads(saved.read_text()) if saved.is_file() else {}
    log(f"[dream3d-bench-suite] {name}: {len(prompts)} prompts -> {folder}")
    exact = reset_peak_memory()
    t0 = time.perf_counter()
    cli = {"overwrite": True} if overwrite else {}
    run_batch(prompts, cli, options, str(folder), log=log)
    record = {"wall_s": round(time.perf_counter() - t0, 3), **read_peak_memory(exact)}
    write_json(folder / RESOURCES, record)
    return record


def summarise(name: str, folder: Path, resources: dict, rows: list[dict]) -> dict:
    """One configuration's line of the comparison: prompts done, minutes per prompt (mean of the runs'
    wall_s in index.json), peak memory, and R-precision {"MODEL top-K": {mean, stderr}}."""
    entries = json.loads((folder / INDEX).read_text())["runs"]
    walls = [e["wall_s"] for e in entries if e.get("status") == "done" and "wall_s" in e]
    return {"config": name, "done": sum(e.get("status") == "done" for e in entries), "prompts": len(entries),
            "min_per_prompt": round(sum(walls) / len(walls) / 60, 4) if walls else None,
            "peak_rss_mb": resources.get("peak_rss_mb"), "peak_cuda_mb": resources.get("peak_cuda_mb"),
            "rprecision": {f"{r['model']} top-{r['k']}": {"mean": r["mean"], "stderr": r["stderr"]}
                           for r in rows if r["group"] == name}}


def flat(line: dict) -> dict:
    """A line for CSV: the R-precision columns MODEL top-K and MODEL top-K se."""
    out = {k: v for k, v in line.items() if k != "rprecision"}
    for key, est in line["rprecision"].items():
        out[key], out[f"{key} se"] = est["mean"], est["stderr"]
    return out


def comparison_table(lines: list[dict]) -> str:
    def fmt(v):
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    scores = list(dict.fromkeys(k for line in lines for k in line["rprecision"]))
    head = ["config", "done", "min/prompt", "peak RSS MB", "peak CUDA MB", *scores]
    body = []
    for line in lines:
        mb = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
        cells = [line["config"], f"{line['done']}/{line['prompts']}", fmt(line["min_per_prompt"]),
                 mb(line["peak_rss_mb"]), mb(line["peak_cuda_mb"])]
        for k in scores:
            est = line["rprecision"].get(k)
            se = est and est["stderr"]
            cells.append("-" if est is None else fmt(est["mean"]) + ("" if se is None or se != se else f" ± {se:.3f}"))
        body.append(cells)
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    fmt_row = lambda row: "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt_row(head), "  ".join("-" * w for w in widths), *map(fmt_row, body)])
