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


JIT_NAME = "dream3d_C_jit"


def _import_cpp_extension(with_cuda: bool):
    """torch.utils.cpp_extension, imported without its "No CUDA runtime is found, using CUDA_HOME=..."
    warning when the build compiles no CUDA (a CPU build needs no CUDA runtime)."""
    use_cuda_toolkit()  # before the import: cpp_extension reads CUDA_HOME once
    cpp_log = logging.getLogger("torch.utils.cpp_extension")
    level = cpp_log.level
    if not with_cuda:
        cpp_log.setLevel(logging.ERROR)
    try:
        from torch.utils import cpp_extension
    finally:
        cpp_log.setLevel(level)
    return cpp_extension


def _cached_build_is_current(cpp_extension, with_cuda: bool) -> bool:
    """Whether an earlier JIT build in torch's extension folder is there for ninja to load as it is: its
    library is newer than every file under csrc/ and was built with the same CUDA choice (torch rewrites
    build.ninja, and ninja rebuilds, when the flags change)."""
    try:
        build = Path(cpp_extension._get_build_directory(JIT_NAME, verbose=False))  # private: checked below
        library, ninja = build / f"{JIT_NAME}.so", build / "build.ninja"
        if not (library.is_file() and ninja.is_file()) or (CUDA_DEFINE in ninja.read_text()) != with_cuda:
            return False
        newest_source = max(p.stat().st_mtime for p in CSRC.rglob("*") if p.is_file())
        return library.stat().st_mtime >= newest_source
    except Exception:  # torch moved its build folder: say that a build may happen
        return False


def _jit_build() -> None:
    with_cuda = torch.cuda.is_available() and cuda_kernels_wanted()
    cpp_extension = _import_cpp_extension(with_cuda)
    flags = CXX_FLAGS + ([CUDA_DEFINE] if with_cuda else [])
    if _cached_build_is_current(cpp_extension, with_cuda):
        log.debug("dream3d: loading the cached JIT build of the C++ ops")
    else:
        print("dream3d: no prebuilt extension found; building the C++%s ops with ninja (first use only, "
              "about a minute)..." % ("/CUDA" if with_cuda else ""), flush=True)
    cpp_extension.load(
        name=JIT_NAME,
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
