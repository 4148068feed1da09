"""python -m dream3d.demo checks every compiled backend's picture against the reference: it passes on
the real backends and exits non-zero, naming the backend, when one is wrong."""
from __future__ import annotations

import tempfile

import pytest

from dream3d import demo, ops

compiled = pytest.mark.skipif("cpu" not in ops.available_backends("cpu"), reason="compiled extension unavailable")
ARGS = ["--resolution", "16", "--image-size", "12"]


@compiled
def test_demo_passes_and_writes_the_picture(tmp_path, capsys):
    out = tmp_path / "demo.png"
    demo.main([*ARGS, "--out", str(out)])
    assert out.stat().st_size > 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert float(rows["cpu"][-1]) <= demo.TOLERANCE


@compiled
def test_demo_fails_naming_the_backend_that_differs(tmp_path, monkeypatch):
    render = demo.render_image

    def off_by_a_little(density, rays_o, rays_d, backend, march):  # the cpu backend, 2 x TOLERANCE off
        image = render(density, rays_o, rays_d, backend, march)
        return image + 2 * demo.TOLERANCE if backend == "cpu" else image

    monkeypatch.setattr(demo, "render_image", off_by_a_little)
    with pytest.raises(SystemExit, match="backend cpu") as failed:
        demo.main([*ARGS, "--out", str(tmp_path / "demo.png")])
    assert failed.value.code != 0



@compiled
def test_demo_without_out_writes_to_the_temp_folder_not_the_working_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    demo.main(ARGS)
    assert not (tmp_path / "demo.png").exists()
    written = tmp_path / "tmp" / "dream3d" / "demo.png"
    assert written.stat().st_size > 0
    assert f"wrote the picture to {written}" in capsys.readouterr().out
