"""Stage 2's progress: a tqdm bar on a terminal, else a line every ~5% on stderr."""
from __future__ import annotations

import sys
import time


class Progress:
    """A tqdm bar on a terminal, else (logs, batch jobs) a line every ~5% on stderr; both show the loss
    and the objective's headline value (PSNR or CLIP score)."""

    def __init__(self, total: int, start: int, metric: str):
        from tqdm import tqdm

        self.total, self.start_step, self.metric, self.t0 = total, start, metric, time.perf_counter()
        interactive = sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=start, desc="stage 2", unit="step", file=sys.stderr) if interactive else None
        self.every = max(1, total // 20)

    def update(self, step: int, losses: dict) -> None:
        loss, value = losses["loss"], losses[self.metric]
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({"loss": f"{loss:.4f}", self.metric: f"{value:.3f}"})
        elif step % self.every == 0 or step == self.total:
            elapsed = time.perf_counter() - self.t0
            rate = (step - self.start_step) / elapsed if elapsed > 0 else 0.0
            eta = (self.total - step) / rate if rate > 0 else float("nan")
            print(f"  step {step:>6}/{self.total}  loss {loss:.5f}  {self.metric} {value:.4f}  "
                  f"{rate:5.2f} step/s  eta {eta:5.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
