"""Rendering SDF grids as the data sets need them: the paper's view set, random solid backgrounds."""
from __future__ import annotations

import pytest
import torch

from dream3d.shape import box, render_grids, sphere, to_grid


def test_random_backgrounds_fill_the_misses():
    grids = [to_grid(sphere(0.5), 24), to_grid(box((0.8, 0.6, 0.8)), 24)]
    seed = int(torch.randint(0, 2**31, (1,)))
    out = render_grids(grids, size=16, background="random", seed=seed)
    assert out.rgb.shape == (2, 24, 16, 16, 3) and out.mask.shape == (2, 24, 16, 16)
    corners = out.rgb[:, :, 0, 0]  # every view's corner pixel misses both shapes
    assert torch.all(out.mask[:, :, 0, 0] == 0)
    assert corners.reshape(-1, 3).unique(dim=0).shape[0] == 48  # one colour per image
    assert torch.all(out.mask[:, :, 8, 8] == 1)  # both shapes cover the centre of every view
    again = render_grids(grids, size=16, background="random", seed=seed)
    torch.testing.assert_close(again.rgb, out.rgb)  # the seed decides


def test_white_background_and_bad_input():
    grid = to_grid(sphere(0.5), 16)
    out = render_grids(grid, size=8, background="white")
    torch.testing.assert_close(out.rgb[0, :, 0, 0], torch.ones(24, 3))
    with pytest.raises(ValueError, match="background"):
        render_grids(grid, size=8, background="plaid")
    with pytest.raises(ValueError, match="resolution"):
        render_grids([grid, to_grid(sphere(0.5), 12)], size=8)
