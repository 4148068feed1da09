#!/usr/bin/env bash
# On a machine with a GPU, after scripts/install.sh: the whole suite with its CUDA and compiled-Triton
# variants, then the benchmarks, each headed by the GPU's name. Writes OUT (default gpu-check/):
# tests.log, junit.xml, benchmarks.txt. Stops first if the CUDA kernels were not built.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${1:-gpu-check}
mkdir -p "$OUT"
"$PYTHON" - <<'PY' || exit 2
import torch
from dream3d.ops import _extension
assert torch.cuda.is_available(), "no CUDA device visible to torch"
assert _extension.has_cuda_kernels(), "dream3d._C has no CUDA kernels: reinstall with nvcc on PATH"
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)
PY
DREAM3D_REQUIRE_EXTENSION=1 "$PYTHON" -m pytest -n "${DREAM3D_TEST_WORKERS:-4}" tests -q -rfEs \
    --junitxml="$OUT/junit.xml" 2>&1 | tee "$OUT/tests.log"
tests_rc=${PIPESTATUS[0]}
"$PYTHON" benchmarks/report.py ${DREAM3D_BENCH_ARGS:-} 2>&1 | tee "$OUT/benchmarks.txt"
exit "$tests_rc"
