"""Runs the benchmark suite and prints one table per op / workload / device.

    python benchmarks/report.py [--quick] [pytest args]

--quick skips the workloads marked ``large`` (about a minute on a 2-core CPU). Other arguments go to
pytest (e.g. -k trilinear, --benchmark-max-time=2). Each table gives every backend's mean time per call,
its relative standard deviation, its throughput (samples, points, voxels or images per second) and its
speed-up over the torch reference timed in the same run and on the same device.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def machine() -> str:
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"CPU: {cpu}, {os.cpu_count()} logical cores, torch threads: {torch.get_num_threads()}\n"
            f"GPU: {gpu}\ntorch {torch.__version__}")


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.2f} {unit}"
    return f"{seconds / 1e-9:.0f} ns"


def fmt_rate(per_second: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_second >= scale:
            return f"{per_second / scale:.1f} {unit}"
    return f"{per_second:.1f} "  # a decimal: a few images per second must not round to one


def tables(benchmarks: list[dict]) -> str:
    groups: dict[str, list[dict]] = {}
    for bench in benchmarks:
        groups.setdefault(bench["group"], []).append(bench)
    out = []
    for group, rows in groups.items():
        info = rows[0]["extra_info"]
        if "stages" in info:
            out.append(stage_table(group, rows[0]))
        elif "share_of" in info:
            out.append(share_table(group, rows, info["share_of"]))
        else:
            out.append(ratio_table(group, rows))
    return "\n".join(out)


def ratio_table(group: str, rows: list[dict]) -> str:
    """Each backend's time, rate and speed-up over the torch reference of the same group."""
    info = rows[0]["extra_info"]
    ref = next((r["stats"]["mean"] for r in rows if r["extra_info"]["backend"] == "torch"), None)
    out = [f"\n{group}  ({info['count']:,} {info['unit']} per call)",
           f"  {'backend':<8} {'mean':>10} {'stddev':>7} {info['unit'] + '/s':>12} {'vs torch':>9}"]
    for row in rows:
        mean, spread = row["stats"]["mean"], row["stats"]["stddev"] / row["stats"]["mean"]
        ratio = f"{ref / mean:.1f}x" if ref else "-"
        out.append(f"  {row['extra_info']['backend']:<8} {fmt_time(mean):>10} {spread:>7.0%} "
                   f"{fmt_rate(row['extra_info']['count'] / mean):>12} {ratio:>9}")
    return "\n".join(out)


def share_table(group: str, rows: list[dict], whole: str) -> str:
    """Parts of a whole (e.g. of one optimisation step): each part's time and its share of the whole."""
    total = next((r["stats"]["mean"] for r in rows if r["extra_info"]["backend"] == whole), None)
    out = [f"\n{group}", f"  {'part':<13} {'mean':>10} {'stddev':>7} {'share of ' + whole:>14}"]
    for row in rows:
        mean, spread = row["stats"]["mean"], row["stats"]["stddev"] / row["stats"]["mean"]
        share = f"{mean / total:.0%}" if total else "-"
        out.append(f"  {row['extra_info']['backend']:<13} {fmt_time(mean):>10} {spread:>7.0%} {share:>14}")
    return "\n".join(out)


def stage_table(group: str, row: dict) -> str:
    """One timed run and the wall time of each of its stages."""
    stages, total = row["extra_info"]["stages"], row["stats"]["mean"]
    out = [f"\n{group}  (total {fmt_time(total)})", f"  {'stage':<13} {'time':>10} {'share':>7}"]
    for name, seconds in stages.items():
        out.append(f"  {name:<13} {fmt_time(seconds):>10} {seconds / total:>7.0%}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    pytest_args = [a for a in argv if a != "--quick"] + (["-m", "not large"] if quick else [])
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "benchmark.json"
        cmd = [sys.executable, "-m", "pytest", str(HERE), "-q", "--benchmark-quiet",
               f"--benchmark-json={result}", *pytest_args]
        code = subprocess.call(cmd, cwd=HERE.parent)
        benchmarks = json.loads(result.read_text())["benchmarks"] if result.exists() else []
    print(machine())
    print(tables(benchmarks) if benchmarks else "no benchmark results")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
