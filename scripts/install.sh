#!/usr/bin/env bash
# Installs dream3d on a fresh machine and runs a short demo of the fused renderer.
# torch first (the CPU build unless a torch is already installed: install a CUDA build of torch
# beforehand to get the CUDA kernels), then the package and its extension, built against that torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  "$PYTHON" -m pip install "torch==2.13.0"
fi
# what the build itself needs (no build isolation, so that it compiles against the torch above)
"$PYTHON" -m pip install setuptools wheel ninja
"$PYTHON" -m pip install --no-build-isolation -e ".[test]"
"$PYTHON" -m dream3d.demo --out "${DEMO_OUT:-demo.png}"
