"""The turntable's size and frame count: dream3d-run options with checked bounds, the presets' defaults,
and the written gif/mp4 at the asked size; dream3d-export registered as a console script."""
from __future__ import annotations

import importlib
from pathlib import Path

import imageio.v3 as iio
import pytest
import torch

from dream3d.cli import _parser, main
from dream3d.field import ColorMLP, DensityGrid, DVGOField
from dream3d.pipeline import PRESETS, build_config
from dream3d.pipeline.outputs import write_turntable

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _cli_config(*args: str):
    options = vars(_parser().parse_args(["--prompt", "a chair", "--out", "o", *args]))
    return build_config({k: v for k, v in options.items() if k not in ("config", "prompts_file", "prior_only")})


def test_cli_sets_the_turntable_and_the_preview_default_is_larger_than_it_was():
    c = _cli_config("--turntable-frames", "12", "--turntable-size", "200")
    assert (c.turntable_frames, c.turntable_size) == (12, 200)
    preview = _cli_config("--preset", "preview")
    assert (preview.turntable_frames, preview.turntable_size) == (36, 128)  # was 24 frames of 96 px
    for preset in PRESETS.values():  # every preset's turntable is at least as sharp as its training views
        assert preset["turntable_size"] >= preset["view_size"]


@pytest.mark.parametrize("args,message", [
    (("--turntable-frames", "0"), "turntable_frames must lie in [1, 720], got 0"),
    (("--turntable-frames", "100000"), "turntable_frames must lie in [1, 720], got 100000"),
    (("--turntable-size", "7"), "turntable_size must lie in [8, 2048] pixels, got 7"),
    (("--turntable-size", "5000"), "turntable_size must lie in [8, 2048] pixels, got 5000")])
def test_out_of_range_turntable_options_are_named(tmp_path, capsys, args, message):
    assert main(["--prompt", "a chair", "--out", str(tmp_path / "o"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before any work


def test_non_integer_turntable_option_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["--turntable-size", "big"])
    assert "--turntable-size: invalid int value: 'big'" in capsys.readouterr().err


def test_turntable_files_have_the_asked_frames_and_size(tmp_path):
    x = torch.linspace(-1, 1, 16)
    sdf = torch.stack(torch.meshgrid(x, x, x, indexing="ij")).norm(dim=0) - 0.6
    field = DVGOField(DensityGrid.from_sdf(sdf), ColorMLP(2, 8, 2))
    config = build_config({"prompt": "a ball", "out": str(tmp_path), "turntable_frames": 5, "turntable_size": 24})
    assert write_turntable(tmp_path, field, config) == ["turntable.gif", "turntable.mp4"]
    assert iio.imread(tmp_path / "turntable.gif").shape == (5, 24, 24, 3)
    assert iio.imread(tmp_path / "turntable.mp4", plugin="pyav" if _has_pyav() else None).shape[:3] == (5, 24, 24)


def _has_pyav() -> bool:
    return importlib.util.find_spec("av") is not None


def test_export_is_a_console_script():
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]
    module, function = scripts["dream3d-export"].split(":")
    assert callable(getattr(importlib.import_module(module), function))
