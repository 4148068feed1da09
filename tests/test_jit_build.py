"""Without an importable prebuilt extension, the first use JIT-builds it with ninja and says so."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import torch
    from dream3d import ops
    assert "cpu" in ops.available_backends("cpu"), ops.available_backends("cpu")
    density = torch.randn(5, 5, 5, dtype=torch.float64)
    rays_o = torch.tensor([[0.0, 0.0, 3.0]], dtype=torch.float64)
    rays_d = torch.tensor([[0.0, 0.0, -1.0]], dtype=torch.float64)
    march = ops.March(step_size=0.1, act_shift=-2.0, interval=0.5)
    out = ops.volume_render(density, rays_o, rays_d, [-1] * 3, [1] * 3, march, backend="cpu")
    ref = ops.volume_render(density, rays_o, rays_d, [-1] * 3, [1] * 3, march, backend="torch")
    torch.testing.assert_close(out.weights, ref.weights)
    print("jit ok")
""")


def test_jit_build_on_first_use(tmp_path):
    env = dict(os.environ, DREAM3D_NO_PREBUILT="1", TORCH_EXTENSIONS_DIR=str(tmp_path), CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                            timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "building the C++" in result.stdout and "jit ok" in result.stdout
