#!/usr/bin/env bash
# Runs the test suite: every backend against the torch reference (Triton through its CPU interpreter
# when there is no GPU), the CUDA sources through nvcc when it is present, the C++ core through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
exec "$PYTHON" -m pytest -n "${DREAM3D_TEST_WORKERS:-2}" tests "$@"
