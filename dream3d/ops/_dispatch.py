"""Backend selection: ``auto`` picks by device and availability, explicit names are checked."""
from __future__ import annotations

import importlib.util
import os
import warnings

import torch

from . import _extension

BACKENDS = ("auto", "cpu", "cuda", "triton", "torch")


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def triton_runs_on(device: torch.device) -> bool:
    if not triton_available():
        return False
    if device.type == "cuda":
        return True
    return device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1"


def available_backends(device: torch.device | str = "cpu") -> list[str]:
    """Backends that can run on ``device``, fastest first (the reference ``torch`` always last)."""
    device = torch.device(device)
    names = []
    if device.type == "cpu" and _extension.load():
        names.append("cpu")
    if device.type == "cuda" and _extension.has_cuda_kernels():
        names.append("cuda")
    if triton_runs_on(device):
        names.append("triton")  # on the CPU the interpreter: correct but slow, so after the C++ kernels
    names.append("torch")
    return names


_warned_fallback: set[str] = set()


def _warn_fallback(device_type: str) -> None:
    """One warning per device type when auto falls back to the reference."""
    if device_type not in _warned_fallback:
        _warned_fallback.add(device_type)
        warnings.warn(f"dream3d: no compiled or Triton kernels for {device_type} tensors; using the torch "
                      "reference (correct, slower)", RuntimeWarning, stacklevel=4)


def resolve(backend: str, device: torch.device) -> str:
    """The backend that will run: validates an explicit choice, picks one for ``auto``."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        if device.type == "cpu":
            chosen = "cpu" if _extension.load() else "torch"
        elif device.type == "cuda":
            if _extension.has_cuda_kernels():
                chosen = "cuda"
            elif triton_runs_on(device):
                chosen = "triton"
            else:
                chosen = "torch"
        else:
            chosen = "torch"
        if chosen == "torch":
            _warn_fallback(device.type)
        return chosen
    if backend == "cpu" and device.type != "cpu":
        raise ValueError(f"backend='cpu' needs CPU tensors, got tensors on {device}")
    if backend == "cuda" and device.type != "cuda":
        raise ValueError(f"backend='cuda' needs CUDA tensors, got tensors on {device}")
    if backend == "cpu" and not _extension.load():
        raise RuntimeError("backend='cpu' requested but the compiled extension is unavailable")
    if backend == "cuda" and not _extension.has_cuda_kernels():
        raise RuntimeError("backend='cuda' requested but the extension was built without CUDA")
    if backend == "triton" and not triton_runs_on(device):
        raise RuntimeError("backend='triton' needs a CUDA device, or TRITON_INTERPRET=1 set before "
                           "import for CPU tensors" if triton_available() else
                           "backend='triton' requested but triton is not installed")
    return backend


def kernels_for(backend: str):
    """The module implementing the low-level backend contract (docs/ARCHITECTURE.md)."""
    if backend in ("cpu", "cuda"):
        from . import _backend_compiled
        return _backend_compiled
    if backend == "triton":
        from dream3d import kernels
        return kernels
    raise ValueError(backend)
