"""The Python examples in README.md and docs/API.md run as written."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [(doc, i, code) for doc in ("README.md", "docs/API.md")
            for i, code in enumerate(re.findall(r"```python\n(.*?)```", (ROOT / doc).read_text(), re.S))
            if "import " in code]  # the runnable examples; the rest are signatures


@pytest.mark.parametrize("doc,index,code", EXAMPLES, ids=[f"{d}-{i}" for d, i, _ in EXAMPLES])
def test_example_runs(doc, index, code):
    scope = {}
    exec(compile(code, f"{doc}[{index}]", "exec"), scope)
    tensors = [v for v in scope.values() if isinstance(v, torch.Tensor) and v.is_floating_point()]
    assert all(bool(torch.isfinite(t).all()) for t in tensors)


def test_examples_found():
    assert {doc for doc, _, _ in EXAMPLES} == {"README.md", "docs/API.md"}
