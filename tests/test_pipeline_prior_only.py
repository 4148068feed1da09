"""dream3d-run --prior-only and the mesh-prior options: the preview's files, an upright Z-up mesh in
its renders, the orientation and thin-part warning printed, and bad options refused before any work."""
from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import yaml

from dream3d.cli import main
from dream3d.pipeline import ConfigError, build_config
from dream3d.pipeline.prior_preview import AXIS_VIEWS, TURNTABLE_FRAMES, VIEW_SIZE
from dream3d.shape import load_sdf
from test_shape_mesh_prior import airplane_z_up, thin_legged_table


def _tile(views: np.ndarray, name: str) -> np.ndarray:
    """The object's pixels (not white; the label's row band cut off) in the named view's tile."""
    index = [v[0] for v in AXIS_VIEWS].index(name)
    row, col = divmod(index, 3)
    tile = views[row * VIEW_SIZE:(row + 1) * VIEW_SIZE, col * VIEW_SIZE:(col + 1) * VIEW_SIZE]
    return (tile[16:] < 250).any(axis=-1)


def test_prior_only_previews_a_z_up_mesh_upright(tmp_path, capsys):
    mesh_path = tmp_path / "jet.stl"
    airplane_z_up().export(mesh_path)
    out = tmp_path / "preview"
    code = main(["--prompt", "a jet", "--prior-mesh", str(mesh_path), "--resolution", "32", "--prior-only",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "prior.glb", "prior.json", "prior.npz",
                                                     "prior_turntable.gif", "prior_views.png"]
    assert "up +z -> +Y, front +x -> +Z" in err and "prior preview in" in err
    info = json.loads((out / "prior.json").read_text())
    norm = info["prior_normalization"]
    assert (norm["up"], norm["front"], norm["resolution"]) == ("+z", "+x", 32)
    np.testing.assert_allclose(norm["rotation"], [[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    assert load_sdf(out / "prior.npz").resolution == (32, 32, 32)
    assert yaml.safe_load((out / "config.yaml").read_text())["prior_mesh_up"] == "auto"
    views = iio.imread(out / "prior_views.png")
    assert views.shape == (2 * VIEW_SIZE, 3 * VIEW_SIZE, 3)
    # front view: the wings span far wider than the plane is tall, and the fin rises above the centre
    # line more than the fuselage hangs below it
    front = _tile(views, "front")
    rows, cols = np.flatnonzero(front.any(axis=1)), np.flatnonzero(front.any(axis=0))
    assert np.ptp(cols) > 2.5 * np.ptp(rows)
    body_row = np.argmax(front.sum(axis=1))  # the wings' row
    assert body_row - rows.min() > 2 * (rows.max() - body_row)
    # top view: a cross, the wings across (X) and the fuselage down the picture (Z)
    top = _tile(views, "top")
    assert top.any(axis=0).sum() > 0.5 * VIEW_SIZE and top.any(axis=1).sum() > 0.5 * VIEW_SIZE
    assert len(iio.imread(out / "prior_turntable.gif")) == TURNTABLE_FRAMES


def test_prior_only_warns_about_thin_legs(tmp_path, capsys):
    mesh_path = tmp_path / "table.obj"
    thin_legged_table().export(mesh_path)
    code = main(["--prompt", "a table", "--prior-mesh", str(mesh_path), "--resolution", "20", "--prior-only",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "warning: the 20^3 prior loses" in err and "--prior-resolution 60" in err
    thin = json.loads((tmp_path / "o" / "prior.json").read_text())["prior_normalization"]["thin_parts"]
    assert thin["keeps_at_resolution"] == 60 and thin["lost_fraction"] > 0.05


@pytest.mark.parametrize("options,match", [
    ({"prior_mesh_up": "up"}, "prior_mesh_up must be auto or one of"),
    ({"prior_mesh_up": "+z", "prior_mesh_front": "-z"}, "perpendicular"),
    ({"prior_mesh_margin": 0.7}, "prior_mesh_margin"),
    ({"prior_resolution": 300}, "prior_resolution must be an integer in"),
    ({"prior_dilate": -1}, "prior_dilate")])
def test_bad_mesh_prior_options(options, match):
    with pytest.raises(ConfigError, match=match):
        build_config({"prompt": "a chair", "out": "x", **options})


def test_prior_only_refuses_a_prompts_file(tmp_path, capsys):
    (tmp_path / "p.txt").write_text("a chair\n")
    code = main(["--prompts-file", str(tmp_path / "p.txt"), "--prior-only", "--out", str(tmp_path / "o")])
    assert code == 2 and "--prior-only previews one prior" in capsys.readouterr().err


def test_prior_only_leaves_a_run_to_resume_alone(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("steps: 5\n")
    code = main(["--prompt", "a chair", "--prior-only", "--resume", "--out", str(out)])
    assert code == 2 and "--resume does not apply" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml"]
    assert (out / "config.yaml").read_text() == "steps: 5\n"
