"""Builds dream3d and its extension dream3d._C: CPU kernels (OpenMP) always, CUDA kernels when torch is a
CUDA build and nvcc is found (DREAM3D_NO_CUDA=1 skips them). Install with
`pip install --no-build-isolation -e .` so the build uses the torch already installed."""
import importlib.util
import os
from pathlib import Path

from setuptools import setup

try:
    import torch
    from torch.utils import cpp_extension
except ImportError:  # metadata-only runs (e.g. sdist without torch): no extension, JIT on first use
    torch = None


def _load_sources():
    spec = importlib.util.spec_from_file_location("_sources", "dream3d/ops/_sources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extensions():
    if torch is None or os.environ.get("DREAM3D_NO_EXTENSION") == "1":
        return [], {}
    with_cuda = (torch.version.cuda is not None and cpp_extension.CUDA_HOME is not None
                 and os.environ.get("DREAM3D_NO_CUDA") != "1")
    cxx = ["-O3", "-fopenmp", "-std=c++17"]
    sources = [os.path.relpath(s) for s in _load_sources().extension_sources(Path("csrc"), with_cuda)]
    if with_cuda:
        ext_type = cpp_extension.CUDAExtension
        extra = {"cxx": cxx + ["-DWITH_CUDA"],
                 "nvcc": ["-O3", "--use_fast_math", "-DWITH_CUDA", "-std=c++17"]}
    else:
        ext_type = cpp_extension.CppExtension
        extra = {"cxx": cxx}
    ext = ext_type(
        name="dream3d._C",
        sources=sources,
        include_dirs=[os.path.abspath("csrc")],
        extra_compile_args=extra,
        extra_link_args=["-fopenmp"],
        py_limited_api=False,
    )
    build = cpp_extension.BuildExtension.with_options(use_ninja=True)
    return [ext], {"build_ext": build}


ext_modules, cmdclass = extensions()
setup(ext_modules=ext_modules, cmdclass=cmdclass)
