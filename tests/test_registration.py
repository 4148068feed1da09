"""The compiled ops are well-formed torch custom ops: opcheck, torch.compile, and dispatch fallbacks."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from dream3d import ops
from dream3d.ops import _dispatch, _extension
from helpers import BOX, devices, dvgo_march, extension_required, random_density, random_rays

compiled = pytest.mark.skipif("cpu" not in ops.available_backends("cpu"),
                              reason="compiled extension unavailable")


def render_inputs(device, dtype=torch.float32):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    density = random_density((5, 6, 4), gen, dtype=dtype).to(device)
    rays_o, rays_d = (r.to(device) for r in random_rays(10, gen, dtype=dtype))
    return density, rays_o, rays_d, dvgo_march((5, 6, 4))


@compiled
@pytest.mark.parametrize("device", devices())
def test_opcheck(device):
    density, rays_o, rays_d, march = render_inputs(device)
    scalars = list(march)  # the schema takes March's fields as floats, in order
    torch.library.opcheck(torch.ops.dream3d.render_forward, (density, rays_o, rays_d, list(BOX), *scalars),
                          test_utils=("test_schema", "test_autograd_registration", "test_faketensor"))
    ray_ids, step_ids, t, w, t_final, offsets = torch.ops.dream3d.render_forward(
        density, rays_o, rays_d, list(BOX), *scalars)
    torch.library.opcheck(torch.ops.dream3d.render_backward,
                          (density, rays_o, rays_d, list(BOX), *scalars, offsets, step_ids, w, t_final,
                           torch.randn_like(w), torch.randn_like(t_final)))
    grid = torch.randn(4, 3, 5, 4, device=device)
    points = torch.rand(20, 3, device=device) * 2 - 1
    torch.library.opcheck(torch.ops.dream3d.trilinear_forward, (grid, points, list(BOX)))
    torch.library.opcheck(torch.ops.dream3d.trilinear_backward,
                          (grid, points, list(BOX), torch.randn(20, 4, device=device), True))
    torch.library.opcheck(torch.ops.dream3d.total_variation, (grid, [1.0, 2.0, 0.5]))
    sdf = torch.randn(4, 5, 6, device=device) * 0.1
    torch.library.opcheck(torch.ops.dream3d.sdf_to_density, (sdf, 0.05, -3.0))
    torch.library.opcheck(torch.ops.dream3d.sdf_to_density_backward, (sdf, torch.randn_like(sdf), 0.05, 0.0))
    torch.library.opcheck(torch.ops.dream3d.prior_loss, (torch.randn_like(sdf), sdf, -3.0, 0.5))


@compiled
def test_torch_compile_smoke():
    """torch.compile traces through the fused trilinear and TV ops (fake kernels registered)."""
    grid = torch.randn(3, 4, 5, 6, requires_grad=True)
    points = torch.rand(32, 3) * 2 - 1

    def loss_fn(g, p):
        return ops.trilinear(g, p, BOX[:3], BOX[3:]).square().mean() + ops.total_variation(g)

    eager = loss_fn(grid, points)
    compiled_fn = torch.compile(loss_fn, backend="aot_eager", fullgraph=False)
    out = compiled_fn(grid, points)
    torch.testing.assert_close(out, eager)
    (g1,) = torch.autograd.grad(out, grid)
    (g2,) = torch.autograd.grad(loss_fn(grid, points), grid)
    torch.testing.assert_close(g1, g2)


def test_auto_picks_compiled_on_cpu():
    """auto runs the compiled kernels when they load. Where the extension is required (CI sets
    DREAM3D_REQUIRE_EXTENSION=1) a failed load is a failure here, not a quiet switch to the reference."""
    loaded = _extension.load()
    if extension_required():
        assert loaded, "DREAM3D_REQUIRE_EXTENSION=1 but the compiled extension did not load"
        assert "cpu" in ops.available_backends("cpu")
    expected = "cpu" if loaded else "torch"
    assert _dispatch.resolve("auto", torch.device("cpu")) == expected
    if loaded:  # and auto really runs them: the registered op's result, not the reference's
        sdf = torch.linspace(-0.2, 0.2, 9, dtype=torch.float64)
        torch.testing.assert_close(ops.sdf_to_density(sdf, 0.05), torch.ops.dream3d.sdf_to_density(sdf, 0.05, 0.0),
                                   rtol=0, atol=0)


def test_require_extension_fails_the_run_when_the_extension_does_not_load(tmp_path):
    """DREAM3D_REQUIRE_EXTENSION=1 turns a compiled extension that does not load (here: no prebuilt one,
    no JIT build) into a failed pytest run, instead of ~60 silently skipped cpu-backend tests. (Without
    the variable the same conftest runs this whole suite.)"""
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    tests = Path(__file__).parent
    (tmp_path / "conftest.py").write_text((tests / "conftest.py").read_text())
    env = {**os.environ, "DREAM3D_REQUIRE_EXTENSION": "1", "DREAM3D_NO_PREBUILT": "1", "DREAM3D_NO_JIT": "1",
           "PYTHONPATH": os.pathsep.join([str(tests.parent), os.environ.get("PYTHONPATH", "")])}
    plugins = ["-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:benchmark", "-p", "no:hypothesispytest"]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", *plugins, str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode != 0 and "DREAM3D_REQUIRE_EXTENSION" in run.stdout + run.stderr, run.stdout + run.stderr
    assert "1 passed" not in run.stdout


def test_fallback_to_reference_warns_once(monkeypatch):
    """Without compiled kernels, auto falls back to the reference with one warning, never a crash."""
    monkeypatch.setattr(_extension, "load", lambda: False)
    _dispatch._warned_fallback.clear()
    density, rays_o, rays_d, march = render_inputs("cpu", torch.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = ops.volume_render(density, rays_o, rays_d, BOX[:3], BOX[3:], march)
        ops.volume_render(density, rays_o, rays_d, BOX[:3], BOX[3:], march)
    fallback = [w for w in caught if "torch reference" in str(w.message)]
    assert len(fallback) == 1
    ref = ops.volume_render(density, rays_o, rays_d, BOX[:3], BOX[3:], march, backend="torch")
    torch.testing.assert_close(out.T_final, ref.T_final)
    with pytest.raises(RuntimeError, match="backend='cpu'"):
        ops.volume_render(density, rays_o, rays_d, BOX[:3], BOX[3:], march, backend="cpu")
    _dispatch._warned_fallback.clear()


def test_failed_jit_build_warns_instead_of_crashing(monkeypatch, tmp_path):
    """A broken JIT build (no compiler, bad sources) becomes a warning and load() returns False."""
    monkeypatch.setattr(_extension, "_ops_registered", lambda: False)
    monkeypatch.setitem(__import__("sys").modules, "dream3d._C", None)  # the prebuilt one is "missing"
    monkeypatch.setattr(_extension, "CSRC", tmp_path)  # a source folder with nothing to build

    def broken_build():
        raise RuntimeError("Error building extension 'dream3d_C_jit'")

    monkeypatch.setattr(_extension, "_jit_build", broken_build)
    _extension.reset()
    try:
        with pytest.warns(RuntimeWarning, match="JIT build failed"):
            assert _extension.load() is False
    finally:
        _extension.reset()


@compiled
def test_cuda_build_registers_every_op_for_cuda():
    """A CUDA build of torch with a CUDA toolkit present builds the CUDA kernels too (setup.py); then
    every op that has a CPU kernel must also have a CUDA one (a link check that needs no GPU)."""
    from dream3d.ops._sources import cuda_kernels_wanted

    if torch.version.cuda is None or not cuda_kernels_wanted():
        pytest.skip("CPU build of torch or no CUDA toolkit: the extension is CPU-only by design")
    assert torch.ops.dream3d.has_cuda(), "the extension was built without its CUDA kernels"
    names = [n for n in torch._C._dispatch_get_all_op_names() if n.startswith("dream3d::")]
    with_cpu = [n for n in names if torch._C._dispatch_has_kernel_for_dispatch_key(n, "CPU")]
    assert len(with_cpu) >= 10
    missing = [n for n in with_cpu if not torch._C._dispatch_has_kernel_for_dispatch_key(n, "CUDA")]
    assert not missing, missing
