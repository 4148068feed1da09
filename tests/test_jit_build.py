"""Without an importable prebuilt extension, the first use JIT-builds it with ninja and says so."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

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


def test_jit_build_on_first_use_and_a_quiet_load_of_the_cached_build_after(tmp_path):
    env = dict(os.environ, DREAM3D_NO_PREBUILT="1", TORCH_EXTENSIONS_DIR=str(tmp_path), CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                            timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "building the C++" in result.stdout and "jit ok" in result.stdout
    assert "CUDA_HOME" not in result.stdout + result.stderr  # a CPU build needs no CUDA runtime
    # a later process finds the build in torch's extension folder and only loads it: nothing to say
    again = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.strip() == "jit ok" and again.stderr == "", again.stdout + again.stderr


ISOLATED_BUILD = textwrap.dedent("""
    import importlib.util, sys
    try:
        import torch
        sys.exit("torch importable: the isolation failed")
    except ImportError:
        pass
    spec = importlib.util.spec_from_file_location("_sources", sys.argv[1])
    sources = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sources)
    assert sources.add_target_environment_paths() is None
    import torch
    print("torch", torch.__version__)
""")


def test_setup_finds_the_installed_torch_under_pips_build_isolation(tmp_path):
    """pip's isolated build (a PYTHONPATH sitecustomize that drops the site folders) hides torch, so a
    plain `pip install -e .` built no extension; setup.py asks the interpreter for it without isolation."""
    import site
    import torch

    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import os, sys
        hidden = {{os.path.normcase(p) for p in {site.getsitepackages() + [site.getusersitepackages()]!r}}}
        sys.path[:] = [p for p in sys.path if os.path.normcase(p) not in hidden]
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONNOUSERSITE": "1"}
    sources = Path(__file__).resolve().parents[1] / "dream3d" / "ops" / "_sources.py"
    result = subprocess.run([sys.executable, "-c", ISOLATED_BUILD, str(sources)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split()[-1] == torch.__version__
