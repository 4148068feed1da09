#!/usr/bin/env bash
# Installs dream3d on a fresh machine and runs a short demo of the fused renderer.
# torch first: when none is installed, torch 2.14.1 with its matching torchvision (a CUDA 13 build, which
# also runs on CPU-only machines; with nvcc present the CUDA kernels are compiled too). An installed
# torch is kept: then CLIP guidance is installed only if a matching torchvision is importable.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  "$PYTHON" -m pip install "torch==2.14.1" "torchvision==0.29.1"
fi
extras="test,sd"
if "$PYTHON" -c "import torchvision" 2>/dev/null; then
  extras="test,clip,sd"
else
  echo "dream3d: torchvision is not importable beside this torch: installing without CLIP guidance" \
       "(install the torchvision that matches your torch, then: pip install -e '.[clip]')" >&2
fi
# what the build itself needs (no build isolation, so that it compiles against the torch above)
"$PYTHON" -m pip install "setuptools>=77" wheel ninja  # 77: project.license as an SPDX string
"$PYTHON" -m pip install --no-build-isolation -e ".[$extras]"
"$PYTHON" -m dream3d.demo --out "${DEMO_OUT:-build/demo.png}"  # build/: ignored by git
