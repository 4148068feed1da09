"""The augmentations and losses of CLIP guidance (no CLIP model needed)."""
from __future__ import annotations

import pytest
import torch

from dream3d.guidance import (BACKGROUNDS, annealed_target, augment, clip_loss, composite_over,
                              random_backgrounds, random_resized_crops, transmittance_loss)
from dream3d.guidance.augment import checkerboard_background, fft_background, noise_background


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_backgrounds_are_images_in_unit_range_and_seeded(kind):
    a = random_backgrounds(3, 24, _gen(1), kinds=(kind,))
    b = random_backgrounds(3, 24, _gen(1), kinds=(kind,))
    c = random_backgrounds(3, 24, _gen(2), kinds=(kind,))
    assert a.shape == (3, 3, 24, 24) and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 1 and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_background_kinds_look_like_their_names():
    checker = checkerboard_background(32, _gen())
    assert len(torch.unique(checker.reshape(3, -1), dim=1).T) == 2  # two colours
    # blurred FFT noise is smooth: neighbouring pixels differ far less than in white noise
    fft, noise = fft_background(64, _gen()), noise_background(64, _gen())
    roughness = lambda img: (img[:, 1:] - img[:, :-1]).abs().mean()
    assert roughness(fft) < 0.3 * roughness(noise)
    assert fft.amin() == 0 and fft.amax() == 1  # scaled into the full range per channel
    # a mix draws every kind: solid images are constant, the others are not
    mixed = random_backgrounds(40, 16, _gen(3))
    constant = (mixed.amax(dim=(2, 3)) == mixed.amin(dim=(2, 3))).all(dim=1)
    assert 0 < int(constant.sum()) < 40


def test_unknown_background_kind_is_an_error():
    with pytest.raises(ValueError, match="background kinds"):
        random_backgrounds(1, 8, _gen(), kinds=("plaid",))


def test_composite_over_is_premultiplied_alpha():
    fg = torch.rand(2, 3, 5, 5) * 0.5
    t = torch.rand(2, 1, 5, 5)
    bg = torch.rand(2, 3, 5, 5)
    torch.testing.assert_close(composite_over(fg, t, bg), fg + t * bg)
    torch.testing.assert_close(composite_over(fg, torch.zeros_like(t), bg), fg)  # opaque: no background


def test_full_crop_at_full_size_is_the_identity():
    images = torch.rand(2, 3, 16, 16)
    out = random_resized_crops(images, 3, 16, _gen(), scale=(1.0, 1.0))
    assert out.shape == (6, 3, 16, 16)
    torch.testing.assert_close(out, images.repeat_interleave(3, dim=0))


def test_crops_are_resized_and_come_from_the_image():
    images = torch.arange(3 * 20 * 20, dtype=torch.float32).reshape(1, 3, 20, 20)
    out = random_resized_crops(images, 4, 7, _gen(), scale=(0.25, 0.25))  # 10x10 crops
    assert out.shape == (4, 3, 7, 7)
    assert out.min() >= images.min() and out.max() <= images.max()
    with pytest.raises(ValueError, match="crop scale"):
        random_resized_crops(images, 1, 7, _gen(), scale=(0.0, 1.0))


def test_augment_shapes_gradients_and_determinism():
    fg = torch.rand(2, 3, 32, 32, requires_grad=True)
    t = torch.rand(2, 1, 32, 32, requires_grad=True)
    a = augment(fg, t, 3, 16, _gen(5))
    b = augment(fg, t, 3, 16, _gen(5))
    assert a.shape == (6, 3, 16, 16) and torch.equal(a, b)
    a.sum().backward()
    assert fg.grad.abs().sum() > 0 and t.grad.abs().sum() > 0  # T carries the background's gradient
    with pytest.raises(ValueError, match="square"):
        augment(torch.rand(1, 3, 8, 9), torch.rand(1, 1, 8, 9), 1, 8, _gen())


def test_annealed_target_runs_from_start_to_target_then_holds():
    assert annealed_target(0, 0.5, 0.88, 100) == 0.5
    assert annealed_target(50, 0.5, 0.88, 100) == pytest.approx(0.69)
    assert annealed_target(100, 0.5, 0.88, 100) == annealed_target(10**6, 0.5, 0.88, 100) == 0.88
    assert annealed_target(0, 0.5, 0.88, 0) == 0.88


def test_transmittance_loss_rewards_transparency_only_up_to_the_target():
    t = torch.full((4, 1, 2, 2), 0.3, requires_grad=True)
    loss = transmittance_loss(t, 0.8)
    loss.backward()
    assert loss.item() == pytest.approx(-0.3) and (t.grad < 0).all()  # more transparency lowers the loss
    t = torch.full((4, 1, 2, 2), 0.9, requires_grad=True)
    loss = transmittance_loss(t, 0.8)
    loss.backward()
    assert loss.item() == pytest.approx(-0.8) and (t.grad == 0).all()  # past the target: no push


def test_clip_loss_is_the_negative_mean_cosine():
    assert clip_loss(torch.tensor([0.2, 0.4])).item() == pytest.approx(-0.3)
