"""A run that fails while it sets up takes back the folders it made, and only those."""
import pytest

from dream3d.pipeline.run_folder import removed_on_failure


def _fail_in(out, also=None):
    with pytest.raises(RuntimeError):
        with removed_on_failure(out):
            out.mkdir(parents=True)
            (out / "config.yaml").write_text("x")
            if also is not None:  # another run writing beside this one meanwhile (a batch's other rank)
                also.mkdir(parents=True)
                (also / "metrics.json").write_text("{}")
            raise RuntimeError("the prior failed")


def test_the_folders_made_for_a_failed_run_go(tmp_path):
    _fail_in(tmp_path / "batch" / "a-flying-saucer")
    assert list(tmp_path.iterdir()) == []


def test_a_neighbour_written_meanwhile_stays(tmp_path):
    neighbour = tmp_path / "batch" / "a-red-chair"
    _fail_in(tmp_path / "batch" / "a-flying-saucer", also=neighbour)
    assert (neighbour / "metrics.json").is_file()
    assert not (tmp_path / "batch" / "a-flying-saucer").exists()


def test_a_folder_that_held_a_run_is_left_as_it_was(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_text("kept")
    with pytest.raises(RuntimeError):
        with removed_on_failure(out):
            (out / "config.yaml").write_text("x")
            raise RuntimeError("the guidance failed")
    assert (out / "checkpoint.pt").read_text() == "kept"
