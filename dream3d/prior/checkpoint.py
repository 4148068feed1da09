"""G_M's model file (prior.pt): format tag, config, state dict (with the w statistics), and what the
prior was trained with (the CLIP that embedded its data, G_S's identity). Written atomically."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..shape._atomic import atomic_path
from .config import PriorConfig, PriorError
from .model import DiffusionPrior

FORMAT = "dream3d-prior"
VERSION = 1


def save_prior(path: str | os.PathLike, model: DiffusionPrior, meta: dict | None = None) -> None:
    """meta: JSON-able facts that ride along (``clip``: the CLIP spec; ``generator``; ``data``; ``step``)."""
    payload = {"format": FORMAT, "version": VERSION, "config": model.config.to_dict(),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "meta": dict(meta or {})}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: str | os.PathLike, expected_format: str, what: str, how: str) -> dict:
    """A torch file's dict, checked for the format tag; errors name the file and how to make one."""
    path = Path(path)
    if not path.is_file():
        raise PriorError(f"no {what} at {path}; {how}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or holding arbitrary objects
        raise PriorError(f"{path} is not a readable {what} ({type(err).__name__}: {err}); {how}") from err
    found = payload.get("format") if isinstance(payload, dict) else None
    if found != expected_format:
        raise PriorError(f"{path} is not a {what}: its format is {found or 'unknown'!r}, expected "
                         f"{expected_format!r}; {how}")
    if payload.get("version", 0) > VERSION:
        raise PriorError(f"{path}: format version {payload['version']} is newer than this reader's ({VERSION})")
    return payload


def model_from_payload(payload: dict, path, expect: PriorConfig | None = None) -> DiffusionPrior:
    config = PriorConfig.from_dict(payload["config"])
    if expect is not None and config != expect:
        diff = {k: (v, getattr(config, k)) for k, v in expect.to_dict().items() if getattr(config, k) != v}
        raise PriorError(f"{path} holds a prior of another config: " +
                         ", ".join(f"{k} expected {a!r}, found {b!r}" for k, (a, b) in diff.items()))
    model = DiffusionPrior(config)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise PriorError(f"{path}: the weights do not fit the prior config they were saved with: {err}") from err
    return model


def load_prior(path: str | os.PathLike, device="cpu", expect: PriorConfig | None = None) -> tuple[DiffusionPrior, dict]:
    """(model in eval mode on ``device``, meta). ``expect``: refuse a checkpoint of another config."""
    payload = read_checkpoint(path, FORMAT, "G_M prior checkpoint",
                              "train one with dream3d-train-prior (it writes OUT/prior.pt)")
    model = model_from_payload(payload, path, expect)
    return model.eval().to(device), payload.get("meta", {})
