#!/usr/bin/env bash
# Runs the test suite: every backend against the torch reference (Triton through its CPU interpreter
# when there is no GPU), the CUDA sources through nvcc when it is present, the C++ core through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# In CI a compiled extension that fails to load must fail the run (tests/conftest.py), not quietly skip
# every cpu-backend test; locally the suite still runs without it unless asked.
if [ "${CI:-}" = "true" ]; then
  export DREAM3D_REQUIRE_EXTENSION="${DREAM3D_REQUIRE_EXTENSION:-1}"
fi
exec "$PYTHON" -m pytest -n "${DREAM3D_TEST_WORKERS:-2}" tests "$@"
