"""Official SDF-StyleGAN weights in G_S: a state dict with the official names and shapes (a Lightning
checkpoint with S/G/M, their EMA copies SE/GE/ME, the blur buffers and the critics) converts, and the
converted generator computes what the official forward computes, written out here step by step."""
import math

import pytest
import torch
import torch.nn.functional as F

from dream3d.shape.generator import ShapeGenerator, load_generator
from dream3d.shape.generator.convert import convert_official, official_config

LATENT, DEPTH, CHANNELS, FEATURES, HIDDEN, MLP_DEPTH, LR_MLP = 6, 3, (8, 5), 3, 7, 2, 0.1


def official_generator_state(prefixes=("S.", "G.", "M.")) -> dict:
    """Random tensors under the official module names, with the official shapes."""
    s, g, m = prefixes
    # float32 values in float64 tensors: the converted generator stores float32, the reference runs in float64
    r = lambda *shape: (torch.randn(*shape) * 0.5).double()  # noqa: E731
    state = {}
    for i in range(DEPTH):
        state[f"{s}net.{i}.weight"], state[f"{s}net.{i}.bias"] = r(LATENT, LATENT) * 8, r(LATENT)  # ~ 1 / lr_mlp
    state[f"{g}initial_block"] = r(1, CHANNELS[0], 4, 4, 4)
    state[f"{g}initial_conv.weight"], state[f"{g}initial_conv.bias"] = r(CHANNELS[0], CHANNELS[0], 3, 3, 3), r(CHANNELS[0])
    for b, out in enumerate(CHANNELS):
        inp = CHANNELS[max(b - 1, 0)]
        p = f"{g}blocks.{b}."
        state.update({p + "to_style1.weight": r(inp, LATENT), p + "to_style1.bias": r(inp),
                      p + "to_noise1.weight": r(out, 1), p + "to_noise1.bias": r(out),
                      p + "conv1.weight": r(out, inp, 3, 3, 3),
                      p + "to_style2.weight": r(out, LATENT), p + "to_style2.bias": r(out),
                      p + "to_noise2.weight": r(out, 1), p + "to_noise2.bias": r(out),
                      p + "conv2.weight": r(out, out, 3, 3, 3),
                      p + "to_feature.to_style.weight": r(out, LATENT), p + "to_feature.to_style.bias": r(out),
                      p + "to_feature.conv.weight": r(FEATURES, out, 1, 1, 1)})
        if b < len(CHANNELS) - 1:
            state[p + "to_feature.upsample.1.f"] = torch.tensor([1.0, 2.0, 1.0])
    dims = [FEATURES] + [HIDDEN] * (MLP_DEPTH + 1)
    for j, (a, c) in enumerate(zip(dims, dims[1:])):
        state[f"{m}mapping.{2 * j}.weight"], state[f"{m}mapping.{2 * j}.bias"] = r(c, a), r(c)
    n = len(dims) - 1
    state[f"{m}mapping.{2 * n}.weight"], state[f"{m}mapping.{2 * n}.bias"] = r(1, HIDDEN), r(1)
    return state


def official_forward(state: dict, z: torch.Tensor, points: torch.Tensor, p=("S.", "G.", "M.")) -> torch.Tensor:
    """The official code's forward for one sample with zero noise (use_noise=False), written out."""
    s, g, m = p
    lrelu = lambda x: F.leaky_relu(x, 0.2)  # noqa: E731
    x = z * (z.square().mean(dim=1, keepdim=True) + 1e-6).rsqrt()
    for i in range(DEPTH):  # EqualLinear with bias_act's lrelu (gain sqrt 2)
        w, b = state[f"{s}net.{i}.weight"], state[f"{s}net.{i}.bias"]
        x = lrelu(x @ (w * LR_MLP / math.sqrt(LATENT)).T + b * LR_MLP) * math.sqrt(2)
    style = x

    def modconv(v, weight, st, demod):
        wt = weight * (st[0][None, :, None, None, None] + 1)
        if demod:
            wt = wt / (wt.square().sum(dim=(1, 2, 3, 4), keepdim=True) + 1e-8).sqrt()
        return F.conv3d(v, wt, padding=weight.shape[-1] // 2)

    def blur(v):
        f = torch.tensor([1.0, 2.0, 1.0], dtype=v.dtype)
        k = torch.einsum("i,j,k->ijk", f, f, f) / 64
        v = F.pad(v, (1,) * 6, mode="replicate")
        return F.conv3d(v, k.expand(v.shape[1], 1, 3, 3, 3), groups=v.shape[1])

    v = F.conv3d(state[f"{g}initial_block"], state[f"{g}initial_conv.weight"], state[f"{g}initial_conv.bias"], padding=1)
    feature = None
    for b in range(len(CHANNELS)):
        q = f"{g}blocks.{b}."
        lin = lambda name: style @ state[q + name + ".weight"].T + state[q + name + ".bias"]  # noqa: E731
        if b > 0:
            v = F.interpolate(v, scale_factor=2, mode="trilinear", align_corners=False)
        v = lrelu(modconv(v, state[q + "conv1.weight"], lin("to_style1"), True) + state[q + "to_noise1.bias"].view(1, -1, 1, 1, 1))
        v = lrelu(modconv(v, state[q + "conv2.weight"], lin("to_style2"), True) + state[q + "to_noise2.bias"].view(1, -1, 1, 1, 1))
        f = modconv(v, state[q + "to_feature.conv.weight"], lin("to_feature.to_style"), False)
        f = f if feature is None else f + feature
        feature = blur(F.interpolate(f, scale_factor=2, mode="trilinear", align_corners=False)) if b < len(CHANNELS) - 1 else f
    # feature_interpolation_trilinear: replicate-padded by 2, box [-1.01, 1.01]
    vol = F.pad(feature, (2,) * 6, mode="replicate")[0]
    res = feature.shape[-1]
    index = (points + 1.01) / (2.02 / (res - 1)) + 2
    i0 = index.long()
    t = index - i0
    out = 0
    for corner in range(8):
        o = [(corner >> a) & 1 for a in range(3)]
        wgt = torch.ones(len(points), dtype=points.dtype)
        for a in range(3):
            wgt = wgt * (t[:, a] if o[a] else 1 - t[:, a])
        out = out + vol[:, i0[:, 0] + o[0], i0[:, 1] + o[1], i0[:, 2] + o[2]] * wgt
    h = out.T  # (N, C)
    layers = sorted({int(k.split(".")[2]) for k in state if k.startswith(f"{m}mapping.") and k.endswith("weight")})
    for j, idx in enumerate(layers):
        h = h @ state[f"{m}mapping.{idx}.weight"].T + state[f"{m}mapping.{idx}.bias"]
        if j < len(layers) - 1:
            h = lrelu(h)
    return h[:, 0]


def lightning_checkpoint():
    trained, ema = official_generator_state(), official_generator_state(("SE.", "GE.", "ME."))
    critics = {"global_D.blocks.0.conv_res.weight": torch.randn(4, 4, 1, 1, 1), "local_D.to_logit.weight": torch.randn(1, 8)}
    return {"state_dict": {**trained, **ema, **critics}, "hyper_parameters": {"lr_mlp": LR_MLP, "D_vol_size": 32}}


def test_config_is_read_from_the_shapes():
    cfg = official_config(official_generator_state(), {"lr_mlp": LR_MLP})
    assert (cfg.variant, cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.channels) == ("official", 6, 6, 3, (8, 5))
    assert (cfg.feature_channels, cfg.decoder_hidden, cfg.decoder_layers, cfg.feature_extent) == (3, 7, 3, 1.01)


@pytest.mark.parametrize("ema", [True, False])
def test_converted_generator_matches_the_official_forward(ema, tmp_path):
    ckpt = lightning_checkpoint()
    G = convert_official(ckpt, ema=ema).double()
    prefix = ("SE.", "GE.", "ME.") if ema else ("S.", "G.", "M.")
    z = torch.randn(1, LATENT, dtype=torch.float64)
    points = torch.rand(200, 3, dtype=torch.float64) * 2 - 1
    expected = official_forward(ckpt["state_dict"], z, points, prefix)
    got = G.sdf(G.features(G.mapping(z), noise_mode="none"), points)[0]
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)
    G.float().save(tmp_path / "official.pt")  # and it travels like any G_S
    H = load_generator(tmp_path / "official.pt")
    assert H.config.variant == "official" and H.synthesize(H.mapping(z.float()), 6)[0].resolution == (6, 6, 6)


def test_bad_official_state_dicts_are_refused():
    with pytest.raises(ValueError, match="not an official SDF-StyleGAN state dict"):
        convert_official({"state_dict": {"model.weight": torch.zeros(1)}})
    state = official_generator_state()
    state["M.extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="no place in G_S"):
        convert_official(state)
    state = official_generator_state()
    state["G.blocks.0.conv1.weight"] = torch.zeros(8, 9, 3, 3, 3)
    with pytest.raises(ValueError, match="does not fit"):
        convert_official(state)


def test_official_variant_trains_through_its_gradients():
    from dream3d.shape.generator import get_config

    G = ShapeGenerator(get_config("tiny", variant="official"))
    z = torch.randn(2, G.z_dim)
    G.sdf(G.features(G.mix_styles(z, 0.9)), torch.rand(2, 30, 3) * 2 - 1).square().sum().backward()
    assert all(p.grad is not None for p in G.parameters())
