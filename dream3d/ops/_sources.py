"""The extension's source files, shared by setup.py and the JIT build (no imports beyond the stdlib)."""
from __future__ import annotations

from pathlib import Path


def extension_sources(csrc: Path, with_cuda: bool) -> list[str]:
    """Bindings (csrc/*.cpp) and per-op kernels (csrc/<op>/*_cpu.cpp, and *.cu with CUDA)."""
    sources = [p for p in sorted(csrc.glob("*.cpp")) if with_cuda or not p.name.endswith("_cuda.cpp")]
    sources += sorted(csrc.glob("*/*_cpu.cpp"))
    if with_cuda:
        sources += sorted(csrc.glob("*/*.cu"))
    return [str(p) for p in sources]
