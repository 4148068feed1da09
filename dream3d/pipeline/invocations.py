"""Stage timings of a run across invocations: a run killed and resumed (perhaps several times) keeps
every invocation's timings in OUT/timings.json, written at each stage's end and at each checkpoint, so
that metrics.json adds them all up rather than reporting the last invocation alone."""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Callable

from ..shape._atomic import atomic_path

TIMINGS = "timings.json"


class Invocations:
    """This invocation's stage timings beside the earlier ones of the same run (when resuming)."""

    def __init__(self, out: Path, resumed_from_step: int | None):
        self.path = out / TIMINGS
        earlier = self._read() if resumed_from_step is not None else []
        self.current = {"resumed_from_step": resumed_from_step or 0, "timings_s": {}}
        self.all = [*earlier, self.current]
        self._t0 = time.perf_counter()

    def _read(self) -> list[dict]:
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):  # none yet (a run from before this file), or damaged: start afresh
            return []
        return saved if isinstance(saved, list) else []

    def save(self) -> None:
        self.current["wall_s"] = round(time.perf_counter() - self._t0, 3)
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(self.all, indent=1))

    @contextlib.contextmanager
    def stage(self, name: str, log: Callable[[str], None]):
        """Times the block as stage ``name``; a stage cut short (an error, Ctrl-C) is recorded too."""
        t0 = time.perf_counter()
        self.current["stage"] = name
        try:
            yield
        finally:
            self.record(name, time.perf_counter() - t0)
            self.current.pop("stage", None)
        log(f"[dream3d] stage {name}: {self.current['timings_s'][name]:.1f} s")

    def record(self, name: str, seconds: float) -> None:
        self.current["timings_s"][name] = round(seconds, 3)
        self.save()

    def totals(self) -> dict[str, float]:
        """Seconds per stage over every invocation (a stage's key order: first seen first)."""
        total: dict[str, float] = {}
        for inv in self.all:
            for name, seconds in inv["timings_s"].items():
                total[name] = round(total.get(name, 0.0) + seconds, 3)
        return total

    def wall_s(self) -> float:
        self.current["wall_s"] = round(time.perf_counter() - self._t0, 3)
        return round(sum(inv.get("wall_s", 0.0) for inv in self.all), 3)
