"""SDFGrid and its files: the voxel convention, .npz/.npy round trips, atomic writes, and clear
errors for missing, empty, garbled or invalid files."""
from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest
import torch

from dream3d import shape
from shape_helpers import fresh_seed


def random_grid(seed: int, bbox: bool = True) -> shape.SDFGrid:
    g = torch.Generator().manual_seed(seed)
    res = tuple(int(n) for n in torch.randint(2, 20, (3,), generator=g))
    lo = tuple(float(v) for v in torch.rand(3, generator=g) * 2 - 1.5)
    hi = tuple(a + 0.1 + float(w) for a, w in zip(lo, torch.rand(3, generator=g) * 2))
    values = torch.randn(res, generator=g)
    return shape.SDFGrid(values, lo, hi) if bbox else shape.SDFGrid(values)


def test_grid_properties_follow_align_corners():
    grid = shape.SDFGrid(torch.zeros(5, 3, 9), (-1, 0, 2), (1, 1, 6))
    assert grid.resolution == (5, 3, 9)
    assert grid.voxel_size == (0.5, 0.5, 0.5)
    xyz = grid.coordinates()
    assert xyz.shape == (5, 3, 9, 3)
    torch.testing.assert_close(xyz[0, 0, 0], torch.tensor([-1.0, 0.0, 2.0]))
    torch.testing.assert_close(xyz[-1, -1, -1], torch.tensor([1.0, 1.0, 6.0]))
    torch.testing.assert_close(xyz[3, 1, 4], torch.tensor([0.5, 0.5, 4.0]))


def test_grid_validates_itself():
    with pytest.raises(ValueError, match="X, Y, Z"):
        shape.SDFGrid(torch.zeros(4, 4))
    with pytest.raises(ValueError, match=">= 2"):
        shape.SDFGrid(torch.zeros(4, 1, 4))
    with pytest.raises(ValueError, match="xyz_min < xyz_max"):
        shape.SDFGrid(torch.zeros(2, 2, 2), (0, 0, 0), (1, 0, 1))


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_round_trip(tmp_path, suffix):
    seed = fresh_seed()
    grid = random_grid(seed, bbox=suffix == ".npz")
    path = tmp_path / f"grid{suffix}"
    shape.save_sdf(path, grid)
    loaded = shape.load_sdf(path)
    assert torch.equal(loaded.values, grid.values), f"seed {seed}"
    assert (loaded.xyz_min, loaded.xyz_max) == (grid.xyz_min, grid.xyz_max), f"seed {seed}"
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left behind


def test_npz_records_its_format_version(tmp_path):
    shape.save_sdf(tmp_path / "g.npz", random_grid(1))
    with np.load(tmp_path / "g.npz") as data:
        assert int(data["format_version"]) == shape.FORMAT_VERSION


def test_npy_refuses_to_drop_a_bbox(tmp_path):
    with pytest.raises(ValueError, match="npz"):
        shape.save_sdf(tmp_path / "g.npy", shape.SDFGrid(torch.zeros(2, 2, 2), (0, 0, 0), (1, 1, 1)))
    assert not list(tmp_path.iterdir())


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "g.npz"
    shape.save_sdf(path, random_grid(2))
    before = path.read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        shape.save_sdf(path, random_grid(3))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["g.npz"]


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


GOOD = dict(values=np.zeros((3, 3, 3), np.float32), xyz_min=np.array([-1.0] * 3), xyz_max=np.array([1.0] * 3),
            format_version=np.array(1))
BAD_FILES = {
    "empty.npz": (b"", "not a readable"),
    "empty.npy": (b"", "not a readable"),
    "garbage.npz": (os.urandom(256), "not a readable"),
    "garbage.npy": (b"\x93NUMPY" + os.urandom(64), "not a readable"),
    "missing.npz": (npz_bytes(values=GOOD["values"]), "missing xyz_min, xyz_max, format_version"),
    "nan.npz": (npz_bytes(**{**GOOD, "values": np.full((3, 3, 3), np.nan, np.float32)}),
                "27 SDF values are NaN"),
    "flat.npz": (npz_bytes(**{**GOOD, "values": np.zeros((3, 9), np.float32)}), "3D"),
    "thin.npy": (npy_bytes(np.zeros((3, 1, 3), np.float32)), "every size >= 2"),
    "inf.npy": (npy_bytes(np.full((2, 2, 2), np.inf)), "NaN or infinite"),
    "text.npz": (npz_bytes(**{**GOOD, "values": np.array(["a"] * 8).reshape(2, 2, 2)}), "real numbers"),
    "bbox.npz": (npz_bytes(**{**GOOD, "xyz_max": np.array([1.0, -2.0, 1.0])}), "xyz_min < xyz_max"),
    "bbox_shape.npz": (npz_bytes(**{**GOOD, "xyz_min": np.zeros(2)}), "3 values"),
    "future.npz": (npz_bytes(**{**GOOD, "format_version": np.array(99)}), "newer"),
    "truncated.npz": (npz_bytes(**GOOD)[:200], "not a readable"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_raise_a_clear_value_error(tmp_path, name):
    data, message = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as err:
        shape.load_sdf(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("name, data", [("garbage.npz", b"not a zip at all" * 8), ("garbage.npy", b"x" * 64),
                                        ("objects.npz", npz_bytes(**{**GOOD, "values": np.array([{}, None])}))])
def test_unreadable_files_do_not_pass_on_numpys_pickle_advice(tmp_path, name, data):
    """numpy tries to unpickle what is not an array and suggests allow_pickle: a grid never needs it."""
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match="is not a readable SDF grid") as err:
        shape.load_sdf(path)
    assert str(path) in str(err.value) and "pickle" not in str(err.value)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        shape.load_sdf(tmp_path / "nothing.npz")
    (tmp_path / "g.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="g.txt"):
        shape.load_sdf(tmp_path / "g.txt")
    with pytest.raises(ValueError, match=".txt"):
        shape.save_sdf(tmp_path / "g.txt", random_grid(4))


def test_npz_is_a_plain_zip_of_npy_arrays(tmp_path):
    """Other tools can read the file without dream3d."""
    shape.save_sdf(tmp_path / "g.npz", random_grid(5))
    with zipfile.ZipFile(tmp_path / "g.npz") as z:
        assert sorted(z.namelist()) == ["format_version.npy", "values.npy", "xyz_max.npy", "xyz_min.npy"]
