"""The CUDA sources compile on any machine with nvcc: .cu files include no torch headers."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[1] / "csrc"
NVCC = shutil.which("nvcc") or (shutil.which("/usr/local/cuda/bin/nvcc"))


@pytest.mark.skipif(NVCC is None, reason="nvcc not found")
@pytest.mark.parametrize("source", sorted(p.relative_to(CSRC).as_posix() for p in CSRC.rglob("*.cu")))
def test_cu_compiles(source, tmp_path):
    cmd = [NVCC, "-std=c++17", "-O1", "-arch=sm_80", "-I", str(CSRC), "-c", str(CSRC / source),
           "-o", str(tmp_path / "out.o")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.o").stat().st_size > 0


def test_cu_files_include_no_torch():
    for source in CSRC.rglob("*.cu"):
        text = source.read_text()
        assert "torch/" not in text and "ATen/" not in text, source
