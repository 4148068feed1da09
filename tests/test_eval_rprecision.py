"""CLIP R-precision: the retrieval core on embeddings with known answers (matching -> 1, independent ->
chance, a deranged assignment -> 0, ties against), the standard error, the prompt sets, the field
loader, and dream3d-eval end to end on tiny runs and tiny CLIPs (one random, one whose embeddings are
all zero, which must score 0 at top-1 and 1 at k = the number of prompts)."""
from __future__ import annotations

import csv
import json
import math

import pytest
import torch
import yaml

from dream3d.eval.prompt_sets import PromptSetError, load_prompt_set, parse_prompts
from dream3d.eval.rprecision import mean_stderr, object_scores, true_prompt_ranks
from dream3d.shape.library import CATEGORIES, category_from_prompt


@pytest.fixture(autouse=True)
def one_thread():
    """One thread: on a busy 2-core machine torch's per-op thread barriers slow these small renders and
    tiny CLIPs several times over (the preview runs use one thread for the same reason)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _unit(gen, *shape):
    return torch.nn.functional.normalize(torch.randn(*shape, generator=gen, dtype=torch.float64), dim=-1)


def test_images_that_match_their_prompts_score_one():
    gen = torch.Generator().manual_seed(0)
    text = _unit(gen, 20, 16)
    targets = torch.arange(20).flip(0)
    images = text[targets][:, None] + 0.05 * torch.randn(20, 3, 16, generator=gen, dtype=torch.float64)
    scores = object_scores(images, text, targets, ks=(1, 5))
    assert scores.shape == (20, 2) and torch.equal(scores, torch.ones(20, 2, dtype=torch.float64))


def test_independent_images_score_chance_and_a_derangement_scores_zero():
    gen = torch.Generator().manual_seed(1)
    p, n = 10, 3000
    text = _unit(gen, p, 32)
    targets = torch.randint(0, p, (n,), generator=gen)
    scores = object_scores(_unit(gen, n, 2, 32), text, targets, ks=(1, 5))
    for j, chance in enumerate((1 / p, 5 / p)):
        est = mean_stderr(scores[:, j])
        assert abs(est.mean - chance) < 4 * est.stderr, (j, est)
        # an object's score is the mean of 2 independent Bernoulli(chance) views
        assert est.stderr == pytest.approx(math.sqrt(chance * (1 - chance) / 2 / n), rel=0.1)
    shuffled = targets[torch.randperm(n, generator=gen)]  # images of other prompts, views exact
    wrong = torch.where(shuffled == targets, (targets + 1) % p, shuffled)
    assert object_scores(text[wrong][:, None], text, targets, ks=(1,)).sum() == 0


def test_ranks_by_hand_and_ties_count_against():
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    image = torch.tensor([[0.8, 0.6]] * 3)  # cosines 0.8, 0.6, 0.96
    assert true_prompt_ranks(image, text, torch.tensor([0, 1, 2])).tolist() == [1, 2, 0]
    same = torch.ones(4, 3)  # every prompt alike: the true one ranks last, never first
    assert true_prompt_ranks(same[:1], same, torch.tensor([2])).tolist() == [3]
    scores = object_scores(same[:2, None], same, torch.tensor([0, 1]), ks=(1, 3, 4))
    assert scores.tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]


def test_standard_error_formula():
    est = mean_stderr([1.0, 0.0, 1.0, 1.0])  # mean 3/4, s^2 = (3 * 1/16 + 9/16) / 3 = 1/4, se = 1/2 / 2
    assert (est.mean, est.stderr, est.n) == (0.75, 0.25, 4)
    values = torch.rand(37, dtype=torch.float64)
    mean = values.sum() / 37
    s = math.sqrt(float(((values - mean) ** 2).sum() / 36))
    assert mean_stderr(values).stderr == pytest.approx(s / math.sqrt(37), rel=1e-12)
    assert math.isnan(mean_stderr([0.5]).stderr)
    with pytest.raises(ValueError, match="no values"):
        mean_stderr([])


def test_bad_input_is_refused():
    text = torch.randn(3, 4)
    with pytest.raises(ValueError, match=r"\(N, D\) and \(P, D\)"):
        true_prompt_ranks(torch.randn(2, 5), text, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="index the 3 prompts"):
        true_prompt_ranks(torch.randn(2, 4), text, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="objects, views, D"):
        object_scores(torch.randn(2, 4), text, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="k must be >= 1"):
        object_scores(torch.randn(2, 1, 4), text, torch.tensor([0, 1]), ks=(0,))


def test_builtin_prompt_set_covers_every_category(tmp_path):
    name, prompts = load_prompt_set("objects")
    cats = [category_from_prompt(p) for p in prompts]
    assert name == "objects" and len(set(prompts)) == len(prompts) >= 39
    assert set(cats) == set(CATEGORIES) and min(cats.count(c) for c in CATEGORIES) >= 3
    assert all(len(p.split()) >= 3 for p in prompts)  # an attribute besides the noun
    assert parse_prompts("# c\n a b \n\nc d\na b\n") == ["a b", "c d"]
    (tmp_path / "mine.txt").write_text("a lamp\n")
    assert load_prompt_set(str(tmp_path / "mine.txt")) == ("mine", ["a lamp"])
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(PromptSetError, match="holds no prompts"):
        load_prompt_set(str(tmp_path / "empty.txt"))
    with pytest.raises(PromptSetError, match="neither a built-in set"):
        load_prompt_set(str(tmp_path / "nope.txt"))


# --- end to end: tiny runs and tiny CLIPs --------------------------------------------------------------

open_clip = pytest.importorskip("open_clip")

from dream3d.eval.cli import main  # noqa: E402
from dream3d.eval.fields import FieldFileError, eval_cameras, load_field, render_eval_views  # noqa: E402
from dream3d.guidance import ClipSpec, load_clip  # noqa: E402
from dream3d.cli import main as run_cli  # noqa: E402
from pipeline_helpers import checkpoint_state  # noqa: E402
from prior_helpers import save_tiny_clip  # noqa: E402
from test_guidance_clip import TINY_CLIP  # noqa: E402

TINY = {"guidance": "none", "preset": "preview", "steps": 2, "resolution": 24, "view_size": 16, "n_views": 2,
        "turntable_frames": 2, "turntable_size": 16, "rays_per_step": 256, "threads": 1}
PROMPTS = ["a red wooden chair", "a white yacht", "a black desk lamp"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run folder and a batch of two prompts (one the library cannot shape, so it fails), both made by
    dream3d-run --guidance none --preset preview --steps 2 (smaller grids and views from a YAML file)."""
    root = tmp_path_factory.mktemp("eval_runs")
    small = {k: v for k, v in TINY.items() if k not in ("guidance", "preset", "steps")}
    (root / "small.yaml").write_text(yaml.safe_dump(small))
    (root / "batch.txt").write_text(f"{PROMPTS[1]}\na purple cat\n")
    flags = ["--guidance", "none", "--preset", "preview", "--steps", "2", "--config", str(root / "small.yaml")]
    assert run_cli(["--prompt", PROMPTS[0], "--out", str(root / "chair"), *flags]) == 0
    assert run_cli(["--prompts-file", str(root / "batch.txt"), "--out", str(root / "batch"), *flags]) == 1  # the cat
    (root / "prompts.txt").write_text("\n".join(PROMPTS) + "\n")
    return root


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """(config path, random-weights checkpoint, all-zero-projection checkpoint)."""
    folder = tmp_path_factory.mktemp("eval_clip")
    config, random_weights, model = save_tiny_clip(folder, "tiny-eval-clip", TINY_CLIP, "random.pt")
    with torch.no_grad():  # zero projections: every image and text embedding is 0, every cosine 0
        model.visual.proj.zero_()
        model.text_projection.zero_()
    torch.save(model.state_dict(), folder / "zero.pt")
    return config, random_weights, str(folder / "zero.pt")


def test_field_file_rebuilds_the_trained_field(runs, tmp_path):
    field = load_field(runs / "chair")
    saved = checkpoint_state(runs / "chair")["model"]
    assert set(field.state_dict()) == set(saved)
    for name, value in field.state_dict().items():
        assert torch.equal(value, saved[name]), name
    images = render_eval_views(field, eval_cameras(3, 30.0, 4.0), 24, 40.0)
    assert images.shape == (3, 3, 24, 24) and images.dtype == torch.uint8
    assert (images[:, :, 0, 0] == 255).all()  # corners see the white background
    assert images.float().mean() < 250  # and the object is there
    (tmp_path / "field.safetensors").write_bytes(b"junk")
    with pytest.raises(FieldFileError, match="not a readable safetensors"):
        load_field(tmp_path)
    with pytest.raises(FieldFileError, match="no trained field"):
        load_field(tmp_path / "missing")


def _cli(runs, out, *models, extra=()):
    args = [f"mine={runs / 'batch'}", str(runs / "chair"), "--out", str(out), "--prompts", str(runs / "prompts.txt"),
            "--views", "2", "--size", "32", "--device", "cpu", "--top-k", "3", *extra]
    for m in models:
        args += ["--model", m]
    return main(args)


def test_cli_known_answer_with_a_clip_that_embeds_everything_alike(runs, clips, tmp_path, capsys):
    config, _, zero = clips
    assert _cli(runs, tmp_path / "out", f"{config}={zero}", extra=["--save-renders"]) == 0
    result = json.loads((tmp_path / "out" / "rprecision.json").read_text())
    rows = {(r["group"], r["k"]): r for r in result["results"]}
    assert set(rows) == {("mine", 1), ("mine", 3), ("runs", 1), ("runs", 3)}
    for group in ("mine", "runs"):  # all cosines tie: never first, always within the top 3 of 3
        assert rows[group, 1]["mean"] == 0.0 and rows[group, 3]["mean"] == 1.0
        assert rows[group, 1]["n"] == 1 and rows[group, 1]["stderr"] is None  # one run: no error
    assert result["n_candidates"] == 3 and result["added_prompts"] == []
    assert [s["prompt"] for s in result["skipped"]] == ["a purple cat"]
    out = capsys.readouterr().out
    assert "tiny-eval-clip@zero top-1" in out and "mine" in out
    with open(tmp_path / "out" / "rprecision.csv") as f:
        assert [(r["group"], r["k"], float(r["mean"])) for r in csv.DictReader(f)] == [
            ("mine", "1", 0.0), ("mine", "3", 1.0), ("runs", "1", 0.0), ("runs", "3", 1.0)]
    assert (tmp_path / "out" / "rprecision.svg").read_text().startswith("<svg")
    import imageio.v3 as iio

    strip = iio.imread(tmp_path / "out" / "renders" / "runs" / "chair.png")  # the 2 views scored, side by side
    views = render_eval_views(load_field(runs / "chair"), eval_cameras(2, 30.0, 4.0), 32, 40.0)
    assert strip.shape == (32, 64, 3) and (strip == views.permute(2, 0, 3, 1).reshape(32, 64, 3).numpy()).all()
    assert (tmp_path / "out" / "renders" / "mine" / "a-white-yacht.png").is_file()
    assert (tmp_path / "out" / "rprecision.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_scores_equal_the_core_on_the_same_embeddings(runs, clips, tmp_path):
    config, random_weights, zero = clips
    assert _cli(runs, tmp_path / "out", f"{config}={random_weights}", f"{config}={zero}") == 0
    result = json.loads((tmp_path / "out" / "rprecision.json").read_text())
    assert len(result["results"]) == 8 and len(result["runs"]) == 2
    guide = load_clip(ClipSpec(model=config, checkpoint=random_weights))
    cams = eval_cameras(2, 30.0, 4.0)
    for entry in result["runs"]:
        images = render_eval_views(load_field(entry["folder"]), cams, 32, 40.0).float() / 255
        with torch.no_grad():
            emb = guide.embed_images(images)[None]
        expected = object_scores(emb, guide.embed_text(PROMPTS), [PROMPTS.index(entry["prompt"])], ks=(1, 3))
        assert [entry["scores"]["tiny-eval-clip@random"][k] for k in ("top1", "top3")] == expected[0].tolist()
    with open(tmp_path / "out" / "rprecision_runs.csv") as f:
        assert len(list(csv.DictReader(f))) == 4  # 2 runs x 2 models


def test_one_thread_renders_and_scores_as_the_default(runs, clips, tmp_path):
    """--threads 1 renders in smaller ray chunks: the same views (to float rounding) and the same scores,
    and the caller's thread count comes back."""
    config, random_weights, _ = clips
    field, cams, threads = load_field(runs / "chair"), eval_cameras(2, 30.0, 4.0), torch.get_num_threads()
    default = render_eval_views(field, cams, 96, 40.0)
    torch.set_num_threads(1)
    try:
        one = render_eval_views(field, cams, 96, 40.0)
    finally:
        torch.set_num_threads(threads)
    assert (one.int() - default.int()).abs().max() <= 1
    for name, extra in (("default", []), ("one", ["--threads", "1"])):
        assert _cli(runs, tmp_path / name, f"{config}={random_weights}", extra=extra) == 0
        assert torch.get_num_threads() == threads
    scores = [json.loads((tmp_path / name / "rprecision.json").read_text())["results"] for name in ("default", "one")]
    assert scores[0] == scores[1]


def test_cli_missing_weights_and_bad_sources_stop_before_any_output(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DREAM3D_CLIP_CHECKPOINT", raising=False)
    code = _cli(runs, tmp_path / "out", "ViT-B-32", extra=["--clip-cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 2 and "not found offline" in err and "--clip-checkpoint" in err
    assert not (tmp_path / "out").exists()
    assert main([str(tmp_path), "--out", str(tmp_path / "o2")]) == 2
    assert "neither a finished run folder" in capsys.readouterr().err
    assert _cli(runs, tmp_path / "o3", "ViT-B-32", extra=["--views", "0"]) == 2
    assert "--views must be >= 1" in capsys.readouterr().err
