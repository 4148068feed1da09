"""Loads the compiled ops (``torch.ops.dream3d.*``): the prebuilt extension, else a JIT build with ninja."""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import torch

from ._sources import (CUDA_DEFINE, CXX_FLAGS, LINK_FLAGS, NVCC_FLAGS, cuda_kernels_wanted, extension_sources,
                       use_cuda_toolkit)

log = logging.getLogger("dream3d")

REPO_ROOT = Path(__file__).resolve().parents[2]
CSRC = REPO_ROOT / "csrc"


def _ops_registered() -> bool:
    return hasattr(torch.ops.dream3d, "render_forward")


def _jit_build() -> None:
    use_cuda_toolkit()  # before the import: cpp_extension reads CUDA_HOME once
    from torch.utils import cpp_extension

    with_cuda = torch.cuda.is_available() and cuda_kernels_wanted()
    flags = CXX_FLAGS + ([CUDA_DEFINE] if with_cuda else [])
    print("dream3d: no prebuilt extension found; building the C++%s ops with ninja (first use only, "
          "about a minute)..." % ("/CUDA" if with_cuda else ""), flush=True)
    cpp_extension.load(
        name="dream3d_C_jit",
        sources=extension_sources(CSRC, with_cuda),
        extra_include_paths=[str(CSRC)],
        extra_cflags=flags,
        extra_cuda_cflags=NVCC_FLAGS + [CUDA_DEFINE],
        extra_ldflags=list(LINK_FLAGS),
        with_cuda=with_cuda,
        is_python_module=False,
        verbose=os.environ.get("DREAM3D_VERBOSE_BUILD") == "1",
    )


# Outcome of the first load(); a plain global rather than functools.lru_cache, which torch.compile
# would trace through (load() sits on every op's dispatch path).
_loaded: bool | None = None
_cuda_kernels: bool | None = None  # the same for has_cuda_kernels(), on every CUDA op's dispatch path


def load() -> bool:
    """True when the compiled ops are registered; warns once and returns False when they cannot be."""
    global _loaded
    if _loaded is None:
        _loaded = _import_or_build()
        if _loaded:
            from . import _fake_kernels
            _fake_kernels.register()
    return _loaded


def reset() -> None:
    """Forgets the outcome of load() (tests)."""
    global _loaded, _cuda_kernels
    _loaded = _cuda_kernels = None


def _import_or_build() -> bool:
    if _ops_registered():
        return True
    try:
        if os.environ.get("DREAM3D_NO_PREBUILT") == "1":  # e.g. to test or force the JIT build
            raise ImportError("DREAM3D_NO_PREBUILT=1")
        import dream3d._C  # noqa: F401  (registers the ops with torch)
        return True
    except ImportError as err:
        prebuilt_error = err
    if os.environ.get("DREAM3D_NO_JIT") == "1" or not CSRC.is_dir():
        reason = f"the prebuilt extension did not import ({prebuilt_error})"
    else:
        try:
            _jit_build()
            return True
        except Exception as err:  # a failed build must never crash the caller
            reason = f"the JIT build failed ({type(err).__name__}: {str(err).strip().splitlines()[-1:]})"
    warnings.warn(f"dream3d: compiled ops unavailable: {reason}; falling back to Triton (GPU) or the "
                  "torch reference. Reinstall with `pip install --no-build-isolation -e .` to build them.",
                  RuntimeWarning, stacklevel=4)
    return False


def has_cuda_kernels() -> bool:
    """Whether the compiled ops include their CUDA kernels (asked once)."""
    global _cuda_kernels
    if _cuda_kernels is None:
        _cuda_kernels = load() and bool(torch.ops.dream3d.has_cuda())
    return _cuda_kernels
