"""The pure C++ core builds with CMake, without Python or torch, and passes its ctest checks."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not found")
def test_cmake_ctest(tmp_path):
    def run(*cmd):
        result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    run("cmake", "-S", str(ROOT), "-B", str(tmp_path), "-DDREAM3D_NO_CUDA=1")
    run("cmake", "--build", str(tmp_path), "-j", "2")
    assert "100% tests passed" in run("ctest", "--output-on-failure")
