"""dream3d-run's options and bad input: layering, validation, and clear errors before any work."""
from __future__ import annotations

import os

import pytest
import yaml

from dream3d.cli import main
from dream3d.pipeline.batch import slug
from dream3d.pipeline import PRESETS, ConfigError, RunConfig, build_config, load_config_file, save_config
from dream3d.pipeline.priors import resolve_prior


def test_layering_cli_over_file_over_preset_over_defaults(tmp_path):
    file_options = {"steps": 7, "resolution": 40, "w_prior": 0.5}
    c = build_config({"prompt": "a chair", "out": "x", "steps": 3, "preset": "preview"}, file_options)
    assert (c.steps, c.resolution, c.w_prior) == (3, 40, 0.5)          # CLI > file > preset
    assert c.view_size == PRESETS["preview"]["view_size"]              # preset > defaults
    assert c.lr_color == RunConfig.lr_color                            # defaults
    paper = build_config({"prompt": "a chair", "out": "x", "preset": "paper"})
    assert (paper.resolution, paper.steps, paper.lr_grid, paper.lr_color) == (160, 5000, 0.5, 5e-3)


def test_yaml_round_trip(tmp_path):
    c = build_config({"prompt": "a chair", "out": "x", "preset": "high"})
    save_config(c, tmp_path / "c.yaml")
    assert build_config({}, load_config_file(tmp_path / "c.yaml")) == c


@pytest.mark.parametrize("text,match", [("stepz: 3\n", "unknown option"), ("- 1\n- 2\n", "mapping"),
                                        ("a: [\n", "not valid YAML")])
def test_bad_config_files(tmp_path, text, match):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config_file(tmp_path / "c.yaml")


@pytest.mark.parametrize("options,match", [
    ({"prompt": "  "}, "prompt is empty"), ({"out": ""}, "output folder"), ({"steps": 0}, "steps"),
    ({"prior": "magic"}, "--prior must be one of"), ({"preset": "fast"}, "unknown preset"),
    ({"prior": "mesh"}, "--prior-mesh"), ({"upsample_steps": [10]}, "coarse_resolution"),
    ({"resume": True, "overwrite": True}, "exclude"), ({"beta": None}, "beta must be a number"),
    ({"w_mask": "much"}, "w_mask must be a number"), ({"lr_grid": True}, "lr_grid must be a number")])
def test_validation(options, match):
    with pytest.raises(ConfigError, match=match):
        build_config({"prompt": "a chair", "out": "x", **options})


def test_float_options_written_as_yaml_strings_become_floats(tmp_path):
    (tmp_path / "c.yaml").write_text("w_tv: 1e-3\nbeta: 2\nclip_radius: null\n")  # YAML: '1e-3' is a string
    c = build_config({"prompt": "a chair", "out": "x"}, load_config_file(tmp_path / "c.yaml"))
    assert (c.w_tv, c.beta, c.clip_radius) == (1e-3, 2.0, None) and isinstance(c.beta, float)


def _run_cli(capsys, *args):
    code = main(list(args))
    return code, capsys.readouterr().err


def test_cli_empty_prompt(tmp_path, capsys):
    code, err = _run_cli(capsys, "--prompt", "", "--out", str(tmp_path / "o"))
    assert code == 2 and "prompt is empty" in err


def test_cli_unknown_category_lists_the_library(tmp_path, capsys):
    code, err = _run_cli(capsys, "--prompt", "a cat", "--prior", "library", "--out", str(tmp_path / "o"))
    assert code == 2 and "names no shape" in err and "chair" in err and "watercraft" in err
    code, err = _run_cli(capsys, "--prompt", "a cat", "--category", "dragon", "--out", str(tmp_path / "p"))
    assert code == 2 and "unknown library category 'dragon'" in err and "bench" in err
    assert not (tmp_path / "o").exists()  # nothing half-started: the folder the run made is gone again


def test_cli_unreadable_mesh(tmp_path, capsys):
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"glTF not really")
    code, err = _run_cli(capsys, "--prompt", "a chair", "--prior-mesh", str(bad), "--out", str(tmp_path / "o"))
    assert code == 2 and "--prior-mesh" in err and "broken.glb" in err
    code, err = _run_cli(capsys, "--prompt", "a chair", "--prior-mesh", str(tmp_path / "none.obj"),
                         "--out", str(tmp_path / "p"))
    assert code == 2 and "no mesh file" in err


def test_cli_existing_out_is_refused(tmp_path, capsys):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("mine")
    code, err = _run_cli(capsys, "--prompt", "a chair", "--out", str(tmp_path / "o"))
    assert code == 2 and "--resume" in err and "--overwrite" in err
    assert (tmp_path / "o" / "keep.txt").read_text() == "mine"


def test_cli_read_only_out(tmp_path, capsys):
    if os.geteuid() == 0:  # root ignores permission bits; sysfs is mounted read-only
        out = "/sys/dream3d-test-out"
    else:
        tmp_path.chmod(0o500)
        out = str(tmp_path / "o")
    try:
        code, err = _run_cli(capsys, "--prompt", "a chair", "--out", out)
    finally:
        tmp_path.chmod(0o700)
    assert code == 2 and "not writable" in err


def test_cli_text2shape_says_what_is_missing(tmp_path, capsys):
    code, err = _run_cli(capsys, "--prompt", "a chair", "--prior", "text2shape", "--out", str(tmp_path / "p"))
    assert code == 2 and "not configured" in err


def test_priors_from_files(tmp_path):
    from dream3d.shape import export_mesh, extract_mesh, library_sdf_grid, save_sdf

    grid = library_sdf_grid("cabinet", 32)
    save_sdf(tmp_path / "t.npz", grid)
    export_mesh(extract_mesh(grid), tmp_path / "t.obj")
    base = {"prompt": "a thing", "out": "x", "resolution": 28}
    from_sdf = resolve_prior(build_config({**base, "prior_sdf": str(tmp_path / "t.npz")}))
    from_mesh = resolve_prior(build_config({**base, "prior_mesh": str(tmp_path / "t.obj")}))
    assert from_sdf.source == "sdf" and from_mesh.source == "mesh"
    assert from_sdf.grid.resolution == from_mesh.grid.resolution == (28, 28, 28)
    inside = (from_sdf.grid.values < 0) & (from_mesh.grid.values < 0)
    assert inside.sum() > 0.6 * (from_sdf.grid.values < 0).sum()


def test_slugs_are_unique_folder_names():
    taken: set[str] = set()
    assert slug("A park bench, overgrown!", taken) == "a-park-bench-overgrown"
    assert slug("a park bench overgrown", taken) == "a-park-bench-overgrown-2"
    assert slug("???", taken) == "prompt"


def test_saved_config_is_plain_yaml(tmp_path):
    c = build_config({"prompt": "a chair", "out": "x"})
    save_config(c, tmp_path / "c.yaml")
    assert yaml.safe_load((tmp_path / "c.yaml").read_text())["prompt"] == "a chair"


def test_preview_with_clip_uses_every_core_unless_told():
    base = {"prompt": "a chair", "out": "x"}
    assert build_config(base).threads == 1
    assert build_config({**base, "guidance": "clip"}).threads == 0
    assert build_config({**base, "guidance": "clip", "threads": 2}).threads == 2


def test_default_preset_is_the_paper_on_cuda_and_the_preview_on_the_cpu():
    base = {"prompt": "a chair", "out": "x"}
    assert build_config(base).preset == "preview"
    paper = build_config({**base, "device": "cuda"})
    assert paper.preset == "paper" and (paper.steps, paper.lr_grid, paper.lr_color) == (5000, 0.5, 5e-3)
    assert build_config({**base, "device": "cuda", "preset": "preview"}).preset == "preview"


def test_fewer_steps_keep_the_presets_coarse_to_fine_schedule_in_place():
    base = {"prompt": "a chair", "out": "x", "preset": "paper", "guidance": "clip"}
    assert build_config({**base, "steps": 1000}).upsample_steps == [200]  # step 1000 of 5000
    short = build_config({**base, "steps": 1})
    assert short.upsample_steps == [] and short.coarse_resolution is None
    assert build_config({**base, "steps": 1000, "upsample_steps": [900]}).upsample_steps == [900]  # as given


@pytest.mark.parametrize("preset", ["high", "paper"])
def test_the_offline_fit_trains_at_the_final_grid(preset):
    """The linear init holds surfaces where they start: a field grown from a coarse grid would keep the
    coarse prior's shape, so the offline fit starts at the preset's final grid, with beta 0.4 voxel."""
    for steps in ({}, {"steps": 1000}):
        config = build_config({"prompt": "a chair", "out": "x", "preset": preset, "guidance": "none", **steps})
        assert config.coarse_resolution is None and config.upsample_steps == []
        assert config.beta == pytest.approx(0.4 * 2.0 / (config.resolution - 1), rel=0.03)
    with pytest.raises(ConfigError, match="coarse_resolution: null"):
        build_config({"prompt": "a chair", "out": "x", "preset": preset, "guidance": "none", "coarse_resolution": 64,
                      "upsample_steps": [100]})
