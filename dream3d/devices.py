"""The one rule by which every command turns its --device option into a torch device."""
from __future__ import annotations

import torch


def resolve_device(name: str, error: type[Exception] = ValueError) -> torch.device:
    """``auto``: CUDA when torch sees a GPU, else the CPU. A CUDA device on a torch without one raises
    ``error`` (each command's own error type, so that its CLI reports it the usual way)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise error(f"--device {name}: this torch has no CUDA device; use --device cpu")
    return torch.device(name)
