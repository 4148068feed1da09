"""The extension's source files, shared by setup.py and the JIT build (no imports beyond the stdlib)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


# Compiler flags of the extension, for setup.py and the JIT build alike. No -std flag: torch's builder
# picks the standard its headers need (C++17, or C++20 from torch 2.14). -fno-math-errno: nothing reads
# errno, so GCC emits sqrt and friends as bare instructions instead of calls behind a branch (1.4x on
# the SDF renderer's forward). -ffp-contract=off: FMA only where a kernel writes one, so that an AVX2
# path computes bbox tests and cell positions with the scalar path's roundings.
CXX_FLAGS = ["-O3", "-fopenmp", "-fno-math-errno", "-ffp-contract=off"]
# The CUDA kernels round like the CPU build: no contracted multiply-adds (t0 + k * step and o + t * d as
# FMAs move a sample across a bbox face or t_far: ~2% of entering axis-aligned rays gained or lost one),
# IEEE division, sqrt and reciprocal (the ray-box test's 1 / d), subnormals kept. No --use_fast_math:
# its __expf and friends are a few ulp off libm, and the kernels are memory bound, so the exact forms
# cost little. tests/test_cuda_sources.py checks the march kernels' PTX for fused or approximate ops.
NVCC_FLAGS = ["-O3", "--fmad=false", "-prec-div=true", "-prec-sqrt=true", "-ftz=false"]
LINK_FLAGS = ["-fopenmp"]
CUDA_DEFINE = "-DWITH_CUDA"


def extension_sources(csrc: Path, with_cuda: bool) -> list[str]:
    """Bindings (csrc/*.cpp) and per-op kernels (csrc/<op>/*_cpu.cpp, and *.cu with CUDA)."""
    sources = [p for p in sorted(csrc.glob("*.cpp")) if with_cuda or not p.name.endswith("_cuda.cpp")]
    sources += sorted(csrc.glob("*/*_cpu.cpp"))
    if with_cuda:
        sources += sorted(csrc.glob("*/*.cu"))
    return [str(p) for p in sources]


def cuda_toolkit_root() -> str | None:
    """The CUDA toolkit folder: $CUDA_HOME, else the real folder of the nvcc on PATH (resolving links,
    so that /usr/local/bin/nvcc -> /usr/local/cuda/bin/nvcc gives /usr/local/cuda, the folder that holds
    include/cuda_runtime.h), else /usr/local/cuda; None when none of them holds the headers."""
    candidates = [os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(str(Path(os.path.realpath(nvcc)).parent.parent))
    candidates.append("/usr/local/cuda")
    for root in candidates:
        if root and (Path(root) / "include" / "cuda_runtime.h").is_file():
            return root
    return None


def use_cuda_toolkit() -> str | None:
    """Points torch's extension builder at the toolkit (call before importing torch.utils.cpp_extension,
    which reads CUDA_HOME once, on import)."""
    root = cuda_toolkit_root()
    if root and not os.environ.get("CUDA_HOME"):
        os.environ["CUDA_HOME"] = root
    return root


def cuda_kernels_wanted() -> bool:
    """What decides, beside torch, whether a build compiles the CUDA kernels: the toolkit's headers are
    found and DREAM3D_NO_CUDA is not 1."""
    return cuda_toolkit_root() is not None and os.environ.get("DREAM3D_NO_CUDA") != "1"


def add_target_environment_paths() -> str | None:
    """For setup.py under pip's build isolation: a PYTHONPATH entry whose sitecustomize drops the real site
    folders, leaving the build requirements but not torch, so ``import torch`` fails and no extension
    would be built, silently. The extension must match the torch it will run with, the one installed
    where dream3d goes: ask the same interpreter without the isolation (PYTHONPATH, PYTHONNOUSERSITE)
    for its module folders and append them (the isolated build requirements keep their place in front).
    Returns why not when that interpreter cannot import torch either, else None."""
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE")}
    probe = "import json, sys, torch; print(json.dumps([p for p in sys.path if p]))"
    try:
        found = subprocess.run([sys.executable, "-c", probe], env=clean, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"could not ask {sys.executable} for its torch ({err})"
    if found.returncode != 0:
        return f"{sys.executable} cannot import torch ({(found.stderr.strip().splitlines() or ['?'])[-1]})"
    sys.path.extend(p for p in json.loads(found.stdout.strip().splitlines()[-1]) if p not in sys.path)
    return None
