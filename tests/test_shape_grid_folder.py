"""Folders of SDF grids: the files taken, and the errors naming the option."""
import pytest

from dream3d.shape.grid_folder import sdf_grid_files


class OptionError(ValueError):
    pass


def test_lists_grid_files_sorted_and_skips_the_rest(tmp_path):
    for name in ("b.npz", "a.npy", "c.txt", "d.npz.partial"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "e.npz").mkdir()  # a folder named like a grid is not a grid
    assert [p.name for p in sdf_grid_files(tmp_path, "--data")] == ["a.npy", "b.npz"]


def test_missing_and_empty_folders_name_the_option(tmp_path):
    with pytest.raises(OptionError, match="--shapes .*: no such folder"):
        sdf_grid_files(tmp_path / "nowhere", "--shapes", OptionError)
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(OptionError, match="--reference .* holds no SDF grid files"):
        sdf_grid_files(tmp_path, "--reference", OptionError)
