"""Where every command runs torch: its --device option as a torch device, its --threads option."""
from __future__ import annotations

from contextlib import contextmanager

import torch


def resolve_device(name: str, error: type[Exception] = ValueError) -> torch.device:
    """``auto``: CUDA when torch sees a GPU, else the CPU. A CUDA device on a torch without one raises
    ``error`` (each command's own error type, so that its CLI reports it the usual way)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise error(f"--device {name}: this torch has no CUDA device; use --device cpu")
    return torch.device(name)


@contextmanager
def torch_threads(threads: int):
    """torch's CPU thread count set to ``threads`` for the block (0 keeps it), restored afterwards."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
