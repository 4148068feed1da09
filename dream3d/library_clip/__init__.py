"""The library CLIP: a small open_clip model trained on renders of the procedural shape library with
captions built from each shape's drawn parameters. It is the shape library's domain model: it gives
text-facing parts (CLIP guidance, the retrieval prior, R-precision) a real signal offline, where no
OpenAI CLIP weights can be had. It knows the library's 13 categories and their visible attributes only.

    python -m dream3d.library_clip.train --out runs/library_clip    # dream3d-train-clip
    python -m dream3d.library_clip.evaluate                           # held-out retrieval numbers
"""
from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).with_name("weights")
CONFIG_PATH = WEIGHTS_DIR / "library-clip.json"      # the open_clip architecture (JSON config)
CHECKPOINT_PATH = WEIGHTS_DIR / "library-clip.pt"    # the trained weights (a state dict)
