"""The library CLIP: captions from shape parameters, its training run (loss, checkpoints, resume,
export) on a tiny model and tiny renders, loading through guidance/clip.py, evaluation, bad input."""
from __future__ import annotations

import json
import random

import pytest
import torch

open_clip = pytest.importorskip("open_clip")

from dream3d.guidance import ClipSpec, GuidanceError, load_clip  # noqa: E402
from dream3d.library_clip import captions as cap  # noqa: E402
from dream3d.library_clip.data import RenderSpec, compose, load_views, random_colours  # noqa: E402
from dream3d.library_clip.evaluate import evaluate  # noqa: E402
from dream3d.library_clip.splits import HELDOUT_START, heldout_items, train_items  # noqa: E402
from dream3d.library_clip.train import (Batcher, TrainConfig, TrainError, batch_loss, create_model,  # noqa: E402
                                        export_paths, main, make_optimizer, train)
from dream3d.shape.library import CATEGORIES, category_from_prompt, library_shape  # noqa: E402

TINY = {"embed_dim": 16,
        "vision_cfg": {"image_size": 16, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 24, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1}}
TINY_SPEC = RenderSpec(grid_resolution=16, image_size=16, views=2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model config path, renders of 13 categories x 2 seeds, a cache folder)."""
    folder = tmp_path_factory.mktemp("library_clip")
    config = folder / "tiny-library-clip.json"
    config.write_text(json.dumps(TINY))
    cache = folder / "renders"
    views = load_views(cache, [(c, s) for s in (1, 2) for c in CATEGORIES], TINY_SPEC, progress=False)
    return config, views, cache


def tiny_config(tiny, out, **kw) -> TrainConfig:
    config, _, cache = tiny
    base = dict(out=str(out), model_config=str(config), cache=str(cache), shapes_per_category=2,
                grid_resolution=16, image_size=16, views=2, steps=6, batch=8, warmup=2, checkpoint_every=3)
    return TrainConfig(**{**base, **kw})


# ---- captions -------------------------------------------------------------------------------------

def _params(category, **wanted):
    """The first seed whose drawn parameters have the wanted values, and the shape's attributes."""
    for seed in range(1, 400):
        params = library_shape(category, seed).params
        if all(params.get(k) == v for k, v in wanted.items()):
            return seed, cap.visible_attributes(category, params)
    raise AssertionError(f"no {category} with {wanted}")


@pytest.mark.parametrize("category, params, attribute, value", [
    ("table", {"top": "round", "base": "three_legs"}, "top", "round"),
    ("table", {"top": "round", "base": "three_legs"}, "base", "three_legs"),
    ("table", {"top": "rectangular"}, "top", "rectangular"),
    ("sofa", {"arms": "none"}, "armrests", "without"),
    ("sofa", {"arms": "rolled"}, "armrests", "with"),
    ("chair", {"legs": "rocker"}, "legs", "rocking"),
    ("chair", {"armrests": True}, "armrests", "with"),
    ("bench", {"backrest": False}, "backrest", "without"),
    ("airplane", {"style": "airliner", "engines": 4}, "engines", "four"),
    ("watercraft", {"style": "sailboat"}, "kind", "sailboat"),
])
def test_attributes_follow_the_drawn_parameters(category, params, attribute, value):
    _, attrs = _params(category, **params)
    assert attrs[attribute] == value


def test_captions_name_the_attributes_they_claim():
    rng = random.Random(0)
    seed, attrs = _params("table", top="round", base="three_legs")
    texts = set()
    for _ in range(200):
        c = cap.random_caption("table", attrs, "train", rng)
        assert cap.applies(c, "table", attrs) and c.category == "table"
        if c.mentioned.get("top") == "round":
            assert "round" in c.text or "circular" in c.text, c.text
        if c.mentioned.get("base") == "three_legs":
            assert "three" in c.text, c.text
        assert "square" not in c.text and "four" not in c.text and "pedestal" not in c.text, c.text
        texts.add(c.text)
    assert len(texts) > 40  # several phrasings
    assert "a round table with three legs" in texts
    _, rect = _params("table", top="rectangular", base="four_legs")
    assert not cap.applies(cap.Caption("a round table", "table", {"top": "round"}), "table", rect)
    assert cap.describe("sofa", ["{n} without armrests"]) == "a sofa without armrests"
    assert cap.describe("airplane", ["swept-wing {n}"]) == "a swept-wing airplane"
    assert cap.describe("chair", ["office {n}", "{n} with armrests"]) == "an office chair with armrests"


def test_every_caption_names_its_category_for_the_rest_of_the_project():
    """Each phrasing in each template resolves to its category through category_from_prompt (the rule
    dream3d-run uses), so a library caption given as a prompt gets the right library shape."""
    for category, table in cap.PHRASES.items():
        for attribute, values in table.items():
            for value in values:
                for split in cap.SPLITS:
                    for text in cap.attribute_queries(category, attribute, value, split):
                        assert category_from_prompt(text) == category, text
        for split in cap.SPLITS:
            for text in cap.category_queries(category, split):
                assert category_from_prompt(text) == category, text


def test_splits_are_disjoint():
    assert not set(cap.TEMPLATES["train"]) & set(cap.TEMPLATES["heldout"])
    for table in cap.PHRASES.values():
        for values in table.values():
            for train_phrases, heldout_phrases in values.values():
                assert not set(train_phrases) & set(heldout_phrases)
    held = heldout_items()
    assert not set(held) & set(train_items(500))
    assert all(seed >= HELDOUT_START for _, seed in held)
    assert {c for c, _ in held} == set(CATEGORIES)
    # every attribute value of a category is among the held-out shapes (the picker looks for rare ones)
    seen = {(c, k, v) for c, s in held for k, v in cap.visible_attributes(c, library_shape(c, s).params).items()}
    assert ("chair", "legs", "sled") in seen and ("sofa", "armrests", "without") in seen
    assert ("table", "base", "three_legs") in seen


def test_bad_caption_input():
    with pytest.raises(ValueError, match="split must be one of"):
        cap.category_queries("chair", "test")
    with pytest.raises(ValueError, match="unknown library category 'cat'"):
        cap.visible_attributes("cat", {})
    with pytest.raises(ValueError, match="cannot follow"):
        cap.describe("table", ["round {n}", "circular {n}"])


# ---- data -----------------------------------------------------------------------------------------

def test_composed_images_have_the_drawn_colours(tiny):
    _, views, _ = tiny
    shading, coverage = views.shading[:4, 0], views.coverage[:4, 0]
    objects, backgrounds = random_colours(4, torch.Generator().manual_seed(0))
    images = compose(shading, coverage, objects, backgrounds)
    empty = coverage == 0
    assert empty.any() and (~empty).any()
    for i in range(4):  # misses show the background exactly
        torch.testing.assert_close(images[i][:, empty[i]], backgrounds[i][:, None].expand(3, int(empty[i].sum())))
    assert images.min() >= 0 and images.max() <= 1


# ---- training -------------------------------------------------------------------------------------

def test_loss_falls_on_a_fixed_batch(tiny):
    config, views, _ = tiny
    torch.manual_seed(0)
    model, name = create_model(config)
    batch = Batcher(views, open_clip.get_tokenizer(name), seed=0)(16)
    assert batch.match.diagonal().all() and batch.match.sum() > 16  # every caption is true of its image, some of others
    rows, cols, target = batch.groups[0]  # the category group: every image among all categories
    assert len(rows) == 16 and len(cols) == len(CATEGORIES) and int(target.max()) < len(CATEGORIES)
    optimizer = make_optimizer(model, TrainConfig(lr=3e-3, model_config=str(config)))
    with torch.no_grad():
        before = float(batch_loss(model, batch))
    for _ in range(25):
        loss = batch_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = float(batch_loss(model, batch))
    assert after < 0.6 * before, (before, after)


@pytest.fixture(scope="module")
def whole_run(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    result = train(tiny_config(tiny, out), progress=False)
    return out, result


def test_the_run_writes_a_model_that_loads_exactly_through_guidance(tiny, whole_run):
    out, result = whole_run
    assert result["step"] == 6
    cfg = tiny_config(tiny, out)
    config_out, weights_out = export_paths(cfg)
    assert config_out.is_file() and weights_out.is_file()
    assert [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()] == [3, 6]
    guide = load_clip(ClipSpec(model=str(config_out), checkpoint=str(weights_out)))
    saved = torch.load(weights_out, weights_only=True)
    for key, value in guide.model.state_dict().items():
        assert torch.equal(value, saved[key].float()), key
    state = torch.load(out / "train_state.pt", weights_only=False)["model"]
    for key, value in state.items():  # the export is the trained model, rounded to float16
        assert torch.equal(saved[key], value.half()), key
    assert guide.image_size == 16
    emb = guide.embed_text(["a round table", "a chair"])
    assert emb.shape == (2, 16) and torch.allclose(emb.norm(dim=1), torch.ones(2))


def test_resume_continues_bit_for_bit(tiny, whole_run, tmp_path):
    out, _ = whole_run
    first = train(tiny_config(tiny, tmp_path, stop_after=3), progress=False)
    assert first["step"] == 3
    with pytest.raises(TrainError, match="pass --resume"):
        train(tiny_config(tiny, tmp_path), progress=False)
    train(tiny_config(tiny, tmp_path), resume=True, progress=False)
    a = torch.load(out / "train_state.pt", weights_only=False)
    b = torch.load(tmp_path / "train_state.pt", weights_only=False)
    assert a["step"] == b["step"] == 6
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["batcher"]["rng"] == b["batcher"]["rng"] and torch.equal(a["batcher"]["gen"], b["batcher"]["gen"])


def test_bad_training_input(tiny, tmp_path, capsys):
    with pytest.raises(TrainError, match="no such file"):
        train(tiny_config(tiny, tmp_path, model_config=str(tmp_path / "missing.json")), progress=False)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"embed_dim": 8}))
    with pytest.raises(TrainError, match="needs embed_dim, vision_cfg and text_cfg"):
        train(tiny_config(tiny, tmp_path, model_config=str(bad)), progress=False)
    with pytest.raises(TrainError, match="batch must be >= 2"):
        train(tiny_config(tiny, tmp_path, batch=1), progress=False)
    with pytest.raises(TrainError, match="no training state"):
        train(tiny_config(tiny, tmp_path / "empty"), resume=True, progress=False)
    assert main(["--out", str(tmp_path), "--model-config", str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_resume_with_another_architecture_and_loading_foreign_weights_fail_clearly(tiny, whole_run, tmp_path):
    out, _ = whole_run
    other = tmp_path / "other-library-clip.json"
    other.write_text(json.dumps({**TINY, "embed_dim": 24}))
    cfg = tiny_config(tiny, out, model_config=str(other))
    with pytest.raises(TrainError, match="another model config"):
        train(cfg, resume=True, progress=False)
    _, weights = export_paths(tiny_config(tiny, out))
    with pytest.raises(GuidanceError, match="cannot load CLIP other-library-clip weights"):
        load_clip(ClipSpec(model=str(other), checkpoint=str(weights)))


def test_evaluation_gives_fractions(tiny, whole_run):
    out, _ = whole_run
    config_out, weights_out = export_paths(tiny_config(tiny, out))
    _, views, _ = tiny
    result = evaluate(load_clip(ClipSpec(model=str(config_out), checkpoint=str(weights_out))), views)
    assert result["images"] == 26 * 2 and result["shapes"] == 26
    for key in ("category_top1", "pair_top1", "attribute_top1", "zero_shot_category_accuracy"):
        assert 0 <= result[key] <= 1
    assert set(result["per_category_top1"]) == set(CATEGORIES)
