"""Builds dream3d and its extension dream3d._C: CPU kernels (OpenMP) always, CUDA kernels when torch is a
CUDA build and nvcc is found (DREAM3D_NO_CUDA=1 skips them). The extension is compiled against the torch
installed where dream3d goes, also under pip's build isolation (a plain `pip install -e .`), which hides
it; `pip install --no-build-isolation -e .` skips that isolated environment altogether."""
import importlib.util
import os
import sys
from pathlib import Path

from setuptools import setup



def _load_sources():
    spec = importlib.util.spec_from_file_location("_sources", "dream3d/ops/_sources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCES = _load_sources()
CUDA_TOOLKIT = SOURCES.use_cuda_toolkit()  # before cpp_extension's import, which reads CUDA_HOME once
NO_TORCH = None
try:
    import torch  # noqa: F401
except ImportError:
    NO_TORCH = SOURCES.add_target_environment_paths()  # pip's build isolation hides the installed torch
try:
    import torch
    from torch.utils import cpp_extension
except ImportError as err:  # no torch anywhere (e.g. an sdist): no extension now, a JIT build on first use
    torch = None
    NO_TORCH = NO_TORCH or str(err)


def _default_cuda_archs() -> None:
    """With no GPU to ask, torch would compile for every architecture it knows (slow); build for the
    data-centre GPUs plus PTX that newer ones JIT-compile. TORCH_CUDA_ARCH_LIST overrides this."""
    if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
        os.environ["TORCH_CUDA_ARCH_LIST"] = "8.0;9.0+PTX"
        print("dream3d: no GPU visible; building CUDA kernels for TORCH_CUDA_ARCH_LIST=8.0;9.0+PTX")


def _say(message: str) -> None:
    """A build message that stands out in pip's log (pip shows it with -v, or when the build fails)."""
    bar = "*" * 100
    print(f"\n{bar}\ndream3d: {message}\n{bar}\n", file=sys.stderr, flush=True)


def extensions():
    if os.environ.get("DREAM3D_NO_EXTENSION") == "1":
        return [], {}
    if torch is None:
        _say(f"building NO compiled extension: no torch to compile against ({NO_TORCH}). Install torch, then "
             "`pip install --no-build-isolation -e .`; until then the first use JIT-builds the ops with ninja.")
        return [], {}
    with_cuda = torch.version.cuda is not None and SOURCES.cuda_kernels_wanted()
    if torch.version.cuda is not None and CUDA_TOOLKIT is None:
        print("dream3d: no CUDA toolkit headers found (set CUDA_HOME); building the CPU kernels only")
    cxx = list(SOURCES.CXX_FLAGS)  # a copy: the builder appends to its extension's flag lists
    sources = [os.path.relpath(s) for s in SOURCES.extension_sources(Path("csrc"), with_cuda)]
    if with_cuda:
        _default_cuda_archs()
        ext_type = cpp_extension.CUDAExtension
        extra = {"cxx": cxx + [SOURCES.CUDA_DEFINE], "nvcc": SOURCES.NVCC_FLAGS + [SOURCES.CUDA_DEFINE]}
    else:
        ext_type = cpp_extension.CppExtension
        extra = {"cxx": cxx}
    ext = ext_type(
        name="dream3d._C",
        sources=sources,
        include_dirs=[os.path.abspath("csrc")],
        extra_compile_args=extra,
        extra_link_args=list(SOURCES.LINK_FLAGS),
        py_limited_api=False,
    )
    build = cpp_extension.BuildExtension.with_options(use_ninja=True)
    return [ext], {"build_ext": build}


ext_modules, cmdclass = extensions()
setup(ext_modules=ext_modules, cmdclass=cmdclass)
