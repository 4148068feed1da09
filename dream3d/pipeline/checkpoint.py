"""Stage 2's checkpoint: model, optimiser, the ray-batch generator and torch's RNG, step, history and
the config, written atomically; loading checks the run's options against the saved ones."""
from __future__ import annotations

from pathlib import Path

import torch

from ..field import DVGOField
from ..shape._atomic import atomic_path
from .config import RESUMABLE_CHANGES, ConfigError, RunConfig

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


def save_checkpoint(path: Path, config: RunConfig, step: int, field: DVGOField, optimizer, gen: torch.Generator,
                    history: dict) -> None:
    state = {"format": CHECKPOINT_FORMAT, "step": step, "config": config.to_dict(),
             "resolution": field.density.resolution[0], "model": field.state_dict(),
             "optimizer": optimizer.state_dict(), "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
             "history": history}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, config: RunConfig) -> dict:
    """The checkpoint's state, after checking that it belongs to a run with the same options (apart from
    those in RESUMABLE_CHANGES, e.g. more steps)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch.load raises many types on a damaged file
        raise ConfigError(f"cannot resume: {path} is not a readable checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"cannot resume: {path} is not a dream3d checkpoint of format {CHECKPOINT_FORMAT}")
    saved, now = state["config"], config.to_dict()
    changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
    if changed:
        raise ConfigError("cannot resume: options differ from the checkpoint's: " +
                          ", ".join(f"{k} ({saved.get(k)!r} -> {now[k]!r})" for k in changed))
    if state["step"] > config.steps:
        raise ConfigError(f"cannot resume: the checkpoint is at step {state['step']}, past steps={config.steps}")
    return state
