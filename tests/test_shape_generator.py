"""G_S: shapes of every stage, the math of its layers, gradients through ops.trilinear, style mixing,
synthesis in chunks, discriminator inputs and patches, save/load and refusals."""
import dataclasses

import pytest
import torch

from dream3d import ops
from dream3d.shape import SDFGrid
from dream3d.shape.generator import (ShapeGenerator, VolumeDiscriminator, crop_patches, get_config, load_generator,
                                     patch_points, patch_starts, r1_penalty, sdf_with_normals)
from dream3d.shape.generator.layers import ModulatedConv3d
from dream3d.shape.generator.mapping import normalize_second_moment

TINY = get_config("tiny")


def test_named_configs_have_the_documented_sizes():
    paper, small = get_config("paper"), get_config("small")
    assert (paper.z_dim, paper.w_dim, paper.mapping_layers, paper.feature_channels) == (512, 512, 8, 16)
    assert paper.feature_resolution == 32 and paper.channels == (256, 256, 128, 64)
    assert small.feature_resolution == 16
    with pytest.raises(ValueError, match="unknown generator config"):
        get_config("huge")
    with pytest.raises(ValueError, match="feature_extent"):
        get_config("tiny", feature_extent=0.9)


def test_second_moment_normalisation():
    z = torch.randn(3, 8, dtype=torch.float64) * torch.tensor([[0.1], [1.0], [30.0]], dtype=torch.float64)
    n = normalize_second_moment(z)
    torch.testing.assert_close(n.square().mean(1), torch.ones(3, dtype=torch.float64), atol=1e-5, rtol=0)  # eps 1e-8
    torch.testing.assert_close(n[2] / n[2].norm(), z[2] / z[2].norm())


def test_modulated_conv_demodulates_to_unit_output_weights():
    conv = ModulatedConv3d(3, 5, 3, w_dim=4).double()
    x = torch.zeros(2, 3, 5, 5, 5, dtype=torch.float64)
    x[:, :, 2, 2, 2] = torch.randn(2, 3, dtype=torch.float64)
    out = conv(x, torch.randn(2, 4, dtype=torch.float64))
    # an impulse in channel c reads back the kernel's weights; with demodulation each output channel's
    # weights have unit norm, so impulses in all channels at once give sum_c x_c w'_c.
    s = conv.affine(torch.randn(2, 4, dtype=torch.float64))
    w = conv.weight[None] * conv.scale * s[:, None, :, None, None, None]
    w = w / w.square().sum(dim=(2, 3, 4, 5), keepdim=True).sqrt()
    torch.testing.assert_close(w.square().sum(dim=(2, 3, 4, 5)), torch.ones(2, 5, dtype=torch.float64))
    assert out.shape == (2, 5, 5, 5, 5)
    # scaling the input of one sample scales its output (the style is per sample, the conv is linear)
    out2 = conv(torch.cat([2 * x[:1], x[1:]]), torch.zeros(2, 4, dtype=torch.float64))
    out1 = conv(x, torch.zeros(2, 4, dtype=torch.float64))
    torch.testing.assert_close(out2[0], 2 * out1[0])
    torch.testing.assert_close(out2[1], out1[1])


def test_shapes_and_gradients_reach_every_generator_parameter():
    G = ShapeGenerator(TINY)
    z = torch.randn(2, G.z_dim)
    w = G.mapping(z)
    assert w.shape == (2, G.w_dim)
    feats = G.features(w)
    assert feats.shape == (2, TINY.feature_channels, 8, 8, 8)
    for block in G.synthesis.blocks:  # noise weights start at 0; make them matter for the check
        block.conv0.noise.weight.data.fill_(0.1)
        block.conv1.noise.weight.data.fill_(0.1)
    points = torch.rand(2, 50, 3) * 2 - 1
    sdf = G.sdf(G.features(G.mix_styles(z, 0.5)), points)
    assert sdf.shape == (2, 50)
    sdf.square().sum().backward()
    no_grad = [n for n, p in G.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not no_grad, no_grad


def test_decoder_gathers_with_ops_trilinear_and_its_gradient_reaches_the_features():
    G = ShapeGenerator(TINY).double()
    feats = torch.randn(1, TINY.feature_channels, 8, 8, 8, dtype=torch.float64, requires_grad=True)
    points = (torch.rand(1, 6, 3, dtype=torch.float64) * 2 - 1)
    e = TINY.feature_extent
    gathered = G.decoder.gather(feats, points)
    torch.testing.assert_close(gathered[0], ops.trilinear(feats[0], points[0], (-e,) * 3, (e,) * 3, backend="torch"))
    torch.autograd.gradcheck(lambda f: G.decoder(f, points), (feats,), fast_mode=True)


def test_style_mixing_switches_styles_at_a_cutoff():
    G = ShapeGenerator(TINY)
    z = torch.randn(64, G.z_dim)
    ws = G.mix_styles(z, 1.0)
    w = G.mapping(z)
    first = (ws - w[:, None]).abs().amax(-1) < 1e-6  # (B, num_ws): layers still on the sample's own w
    assert first[:, 0].all()  # the cutoff is >= 1
    # own w up to the cutoff, then the other one: no layer switches back
    assert (first[:, 1:] <= first[:, :-1]).all()
    assert (~first).any()
    torch.testing.assert_close(G.mix_styles(z, 0.0), w[:, None].expand(-1, G.num_ws, -1))


def test_synthesize_is_chunk_independent_deterministic_and_matches_the_decoder():
    G = ShapeGenerator(TINY).eval()
    w = G.mapping(torch.randn(2, G.z_dim))
    a = G.synthesize(w, 9, chunk=7)
    b = G.synthesize(w, 9, chunk=100000)
    assert len(a) == 2 and isinstance(a[0], SDFGrid) and a[0].resolution == (9, 9, 9)
    for x, y in zip(a, b):
        torch.testing.assert_close(x.values, y.values)
    p = a[1].coordinates().reshape(-1, 3)
    direct = G.sdf(G.features(w[1:], "const"), p)[0].reshape(9, 9, 9)
    torch.testing.assert_close(a[1].values, direct.detach())
    assert not a[0].values.requires_grad
    with pytest.raises(ValueError, match="w must be"):
        G.synthesize(torch.randn(2, G.w_dim + 1), 8)


def test_sdf_with_normals_of_a_sphere():
    axis = torch.linspace(-1, 1, 21, dtype=torch.float64)
    p = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1)
    sdf = p.norm(dim=-1) - 0.5
    x = sdf_with_normals(sdf[None], 0.1)
    assert x.shape == (1, 4, 21, 21, 21)
    torch.testing.assert_close(x[0, 0], sdf)
    n = x[0, 1:, 15, 10, 10]  # at (0.5, 0, 0) the normal is +x
    torch.testing.assert_close(n, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-6, rtol=0)


def test_patches_sit_near_the_surface_and_points_match_the_crop():
    res, patch = 17, 4
    axis = torch.linspace(-1, 1, res)
    p = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1)
    sdf = (p.norm(dim=-1) - 0.6)[None].repeat(2, 1, 1, 1)
    starts = patch_starts(sdf, 0.07, 5, patch, res)
    assert starts.shape == (2, 5, 3) and starts.min() >= 0 and starts.max() <= res - patch
    crops = crop_patches(sdf, starts, patch)
    pts = patch_points(starts, patch, res)
    torch.testing.assert_close(crops, pts.norm(dim=-1) - 0.6)  # the crop is the SDF at the patch points
    centre = crops[:, :, patch // 2, patch // 2, patch // 2]
    assert centre.abs().max() < 0.07 + 1e-6
    # a grid without a surface still yields patches (at its least |sdf|)
    idx = torch.stack(torch.meshgrid(*[torch.arange(res)] * 3, indexing="ij"), -1).float()
    far = 3.0 + (idx - torch.tensor([3.0, 4.0, 5.0])).norm(dim=-1)[None]
    starts = patch_starts(far, 0.07, 20, patch, res)
    offset = starts[0] + patch // 2 - torch.tensor([3, 4, 5])
    assert offset.abs().max() <= 1 and offset.abs().sum(-1).max() <= 2  # among the 8 least |sdf|


def test_discriminator_and_r1():
    cfg = TINY
    D = VolumeDiscriminator(cfg.grid_resolution, cfg.disc_channels)
    x = torch.randn(3, 4, 8, 8, 8, requires_grad=True)
    logits = D(x)
    assert logits.shape == (3,)
    r1 = r1_penalty(logits, x)
    (grad,) = torch.autograd.grad(D(x).sum(), x)
    torch.testing.assert_close(r1, grad.square().flatten(1).sum(1).mean())
    with pytest.raises(ValueError, match="discriminator takes"):
        D(torch.randn(1, 4, 9, 9, 9))


def test_save_and_load_roundtrip_and_refusals(tmp_path):
    G = ShapeGenerator(TINY)
    path = tmp_path / "g.pt"
    G.save(path)
    H = load_generator(path)
    assert not H.training and not any(p.requires_grad for p in H.parameters())
    for (k, a), (_, b) in zip(G.state_dict().items(), H.state_dict().items()):
        assert torch.equal(a, b), k
    w = G.mapping(torch.randn(1, G.z_dim))
    torch.testing.assert_close(G.synthesize(w, 6)[0].values, H.synthesize(w, 6)[0].values)
    other = dataclasses.replace(TINY, feature_channels=5)
    with pytest.raises(ValueError, match=r"feature_channels \(5 -> 4\)"):
        load_generator(path, config=other)
    with pytest.raises(ValueError, match="does not fit this generator"):
        ShapeGenerator(other).load_weights(G.state_dict())
    torch.save({"model": {}}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not an SDF-StyleGAN generator checkpoint"):
        load_generator(tmp_path / "foreign.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_generator(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        load_generator(tmp_path / "none.pt")
