"""The library prior reads the prompt beyond its noun: attribute words the library has parameters for
pick the variant ("a round table" -> a round-topped table), and the run says which words it used and
which it did not."""
from __future__ import annotations

import pytest

from dream3d.library_clip.captions import visible_attributes
from dream3d.pipeline import build_config
from dream3d.pipeline.priors import resolve_prior
from dream3d.shape import library_shape
from dream3d.shape.library.attributes import named_attributes


def _prior(prompt: str, **options):
    lines: list[str] = []
    prior = resolve_prior(build_config({"prompt": prompt, "out": "unused", "resolution": 12, **options}),
                          lines.append)
    seed = int(prior.description.split("shape seed ")[1].split(",")[0].rstrip(")"))
    category = prior.description.split()[1]
    return prior, visible_attributes(category, library_shape(category, seed).params), lines


@pytest.mark.parametrize("prompt, attribute, value", [
    ("a round table", "top", "round"), ("a square table", "top", "rectangular"),
    ("a table with three legs", "base", "three_legs"), ("a four-legged table with a round top", "base", "four_legs"),
    ("a chair without armrests", "armrests", "without"), ("a rocking chair with armrests", "armrests", "with"),
    ("a rocking chair with armrests", "legs", "rocking"), ("a sofa with rolled arms", "arms", "rolled"),
    ("a backless bench", "backrest", "without"), ("a hunting rifle with a scope", "scope", "with"),
    ("a sailboat", "kind", "sailboat"), ("a pickup truck", "kind", "pickup"),
])
def test_attribute_words_pick_the_variant_that_has_them(prompt, attribute, value):
    prior, attributes, _ = _prior(prompt)
    assert attributes[attribute] == value, (prompt, prior.description, attributes)
    assert prior.words["attributes"][attribute] == value


def test_round_and_rectangular_tables_differ_and_a_bare_noun_keeps_the_canonical_shape():
    round_table, round_attributes, _ = _prior("a round table")
    plain, plain_attributes, _ = _prior("a table")
    assert (round_attributes["top"], plain_attributes["top"]) == ("round", "rectangular")
    assert plain.description == "library table (shape seed 0)" and plain.words["attributes"] == {}
    assert not round_table.grid.values.equal(plain.grid.values)


def test_the_search_starts_at_the_shape_seed():
    prior, attributes, _ = _prior("a round table", shape_seed=20)
    seed = int(prior.description.split("shape seed ")[1].split(",")[0])
    assert seed >= 20 and attributes["top"] == "round"


def test_without_is_not_read_as_with():
    assert named_attributes("a chair without armrests", "chair")["armrests"][0] == "without"
    assert "armrests" not in named_attributes("a wooden chair", "chair")


def test_the_run_says_which_words_it_used_and_which_not():
    prior, _, lines = _prior("an old wooden round table")
    assert prior.words["used"] == ["round", "table"] and prior.words["unused"] == ["old", "wooden"]
    log = "\n".join(lines)
    assert "used: round, table -> table with top=round" in log
    assert "no parameter for: old, wooden" in log and "not used at all" in log


def test_attributes_no_variant_has_together_are_said_to_be_missing():
    prior, attributes, lines = _prior("a round table with trestle legs")  # the library has no round trestle table
    assert set(prior.words["unmatched_attributes"].items()) | set(prior.words["attributes"].items()) == \
        {("top", "round"), ("base", "trestle")}
    assert any("the prior lacks it" in line for line in lines)
