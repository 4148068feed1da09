"""dream3d-export: a finished run's mesh, turntable, metrics and report rebuilt from its field at new
sizes, without training; the field, prior and config untouched; clear errors on folders that are not
finished runs."""
from __future__ import annotations

import json

import imageio.v3 as iio
import pytest
import trimesh

from dream3d.pipeline import build_config, run
from dream3d.pipeline.export_cli import main
from dream3d.pipeline.reexport import ExportError, reexport

TINY = {"prompt": "a wooden chair", "resolution": 24, "view_size": 24, "n_views": 8, "rays_per_step": 256,
        "color_width": 16, "turntable_frames": 2, "turntable_size": 16, "threads": 1, "steps": 3}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    metrics = run(build_config({**TINY, "out": str(out)}), log=print)
    return out, metrics


def _bytes(folder, names):
    return {name: (folder / name).read_bytes() for name in names}


def test_reexport_rebuilds_the_outputs_at_new_sizes(finished):
    out, before = finished
    kept = _bytes(out, ("field.safetensors", "prior.npz", "config.yaml"))
    metrics = reexport(out, mesh_resolution=36, turntable_size=40, turntable_frames=3, log=print)
    frames = iio.imread(out / "turntable.gif")
    assert frames.shape[:3] == (3, 40, 40)
    assert "mesh.glb" in metrics["mesh_files"] and all((out / name).is_file() for name in metrics["mesh_files"])
    mesh = trimesh.load(out / "mesh.glb", force="mesh")
    assert len(mesh.faces) == metrics["mesh_faces"] > before["mesh_faces"]  # 36^3 is finer than the run's 24^3
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["export"]["mesh_resolution"] == 36 and saved["export"]["turntable_size"] == 40
    assert set(saved["export"]["timings_s"]) == {"load", "mesh", "turntable", "prior image"}
    assert saved["psnr_heldout"] == before["psnr_heldout"] and saved["timings_s"] == before["timings_s"]
    page = (out / "report.html").read_text()
    assert "Re-export" in page and "3 frames, 40 px" in page and '<a href="mesh.glb">' in page
    assert _bytes(out, kept) == kept  # inputs only read
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_reexport_without_options_keeps_the_runs_sizes(finished):
    out, _ = finished
    reexport(out, log=print)
    assert iio.imread(out / "turntable.gif").shape[:3] == (TINY["turntable_frames"], 16, 16)
    assert json.loads((out / "metrics.json").read_text())["export"]["mesh_resolution"] == TINY["resolution"]


def test_cli_exports_and_reports_bad_input(finished, tmp_path, capsys):
    out, _ = finished
    assert main([str(out), "--turntable-frames", "1", "--threads", "1"]) == 0
    assert len(iio.imread(out / "turntable.gif", index=None)) == 1
    cases = [([str(tmp_path / "missing")], "does not exist"),
             ([str(out / "config.yaml")], "is a file"),
             ([str(out), "--turntable-size", "4"], "turntable_size must lie in [8, 2048]"),
             ([str(out), "--mesh-resolution", "4"], "mesh_resolution must be an integer in [8, 512]")]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv


def test_refuses_a_folder_that_is_not_a_finished_run(finished, tmp_path):
    out, _ = finished
    (tmp_path / "config.yaml").write_bytes((out / "config.yaml").read_bytes())
    with pytest.raises(ExportError, match=r"not a finished dream3d-run folder: it has no field.safetensors, "
                                          r"metrics.json; .*dream3d-run --resume"):
        reexport(tmp_path)
    for name in ("field.safetensors", "metrics.json"):
        (tmp_path / name).write_bytes(b"not what it should be")
    with pytest.raises(ExportError, match="metrics.json is not valid JSON"):
        reexport(tmp_path)
    (tmp_path / "metrics.json").write_text('{"prior_source": "library"}')
    with pytest.raises(ExportError, match="it has no prior.npz"):
        reexport(tmp_path)
    (tmp_path / "prior.npz").write_bytes((out / "prior.npz").read_bytes())
    with pytest.raises(ExportError, match="field.safetensors is not a readable safetensors file"):
        reexport(tmp_path)


def test_a_run_without_a_prior_is_exported_without_the_prior_numbers(finished, tmp_path):
    out, _ = finished
    for name in ("config.yaml", "field.safetensors", "metrics.json"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    metrics["prior_source"] = "none"
    del metrics["chamfer_to_prior"]
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    exported = reexport(tmp_path, turntable_frames=1, log=print)
    assert "chamfer_to_prior" not in exported and (tmp_path / "mesh.glb").is_file()
    assert "shape prior (SDF render)" not in (tmp_path / "report.html").read_text()
