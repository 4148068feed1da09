"""G_I on a tiny Stable Diffusion saved in diffusers' layout and loaded back through the code a real model
takes: the render data set and regularisation set, the fine-tuning (only the token's embedding row and
the UNet change), the outputs (a diffusers folder, an embedding load_textual_inversion reads), a resumed
run equal to an uninterrupted one, refusals before any work, and generation with its seeds."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from dream3d.text2img.sd_folder import Text2ImgError, import_diffusers  # noqa: E402

try:  # skipped only where the sd group (diffusers, transformers, accelerate) is not installed
    import_diffusers()
except Text2ImgError as err:
    pytest.skip(str(err), allow_module_level=True)
pytest.importorskip("accelerate")

from safetensors.torch import load_file  # noqa: E402

from dream3d.text2img import EMBEDDING_FILE, GI_META  # noqa: E402
from dream3d.text2img.config import FinetuneConfig  # noqa: E402
from dream3d.text2img.finetune import finetune  # noqa: E402
from dream3d.text2img.finetune_cli import main as finetune_main  # noqa: E402
from dream3d.text2img.generate import generate, load_gi  # noqa: E402
from dream3d.text2img.image_folder import read_image, read_records  # noqa: E402
from dream3d.text2img.sd_folder import load_parts  # noqa: E402
from text2img_helpers import IMAGE_SIZE, write_tiny_sd  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add contention
    yield
    torch.set_num_threads(threads)


def config(root, out, steps=4, **kw) -> FinetuneConfig:
    options = dict(base_model=str(root / "base"), out=str(out), categories=["chair", "table"], per_category=1,
                   views=2, grid_resolution=24, size=IMAGE_SIZE, data_dir=str(root / "data"),
                   class_dir=str(root / "class"), class_images=2, class_steps=2, steps=steps, checkpoint_every=2,
                   log_every=1, lr_unet=1e-3, lr_embedding=1e-2, warmup=1, seed=3, device="cpu")
    options.update(kw)
    return FinetuneConfig(**options)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("gi")
    write_tiny_sd(root / "base")
    model = finetune(config(root, root / "run"), log=lambda *a: None)
    torch.set_num_threads(threads)
    return root, model


def test_data_sets_are_captioned_renders_on_solid_backgrounds(trained):
    root, _ = trained
    records = read_records(root / "data")
    assert len(records) == 2 * 1 * 2
    assert sorted({r["text"] for r in records}) == ["a chair in the style of <*>", "a table in the style of <*>"]
    corners = []
    for record in records:
        image = read_image(root / "data" / record["file_name"])
        assert image.shape == (3, IMAGE_SIZE, IMAGE_SIZE)
        frame = torch.cat([image[:, 0], image[:, -1], image[:, :, 0], image[:, :, -1]], dim=1)
        assert (frame - frame[:, :1]).abs().max() < 2 / 255  # one solid colour around the shape
        assert (image - frame[:, :1, None]).abs().amax(0).gt(0.05).float().mean() > 0.05  # and a shape on it
        corners.append(frame[:, 0])
    assert torch.cdist(torch.stack(corners), torch.stack(corners)).triu(1).max() > 0.1  # colours vary
    classes = read_records(root / "class")
    assert sorted(r["text"] for r in classes) == ["a chair", "a chair", "a table", "a table"]


def test_only_the_token_row_and_the_unet_change(trained):
    root, model = trained
    tok0, enc0, _, unet0, _ = load_parts(root / "base")
    tok1, enc1, _, unet1, _ = load_parts(model)
    token_id = tok1.convert_tokens_to_ids("<*>")
    assert len(tok1) == len(tok0) + 1 and token_id == len(tok0)
    rows0, rows1 = enc0.get_input_embeddings().weight, enc1.get_input_embeddings().weight
    torch.testing.assert_close(rows1[:token_id], rows0, rtol=0, atol=0)  # restored after every step
    initial = rows0[tok0.convert_tokens_to_ids("style</w>")]
    assert (rows1[token_id] - initial).abs().max() > 1e-3  # the token learned (lr 1e-2, 4 steps)
    for (name, a), (_, b) in zip(enc0.named_parameters(), enc1.named_parameters()):
        if "token_embedding" not in name:
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    changed = [n for (n, a), (_, b) in zip(unet0.named_parameters(), unet1.named_parameters()) if not torch.equal(a, b)]
    assert len(changed) > 0.9 * len(list(unet0.parameters()))
    log = [json.loads(line) for line in (root / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4] and all(np.isfinite(r["loss"]) and r["prior"] > 0 for r in log)
    # the embedding file is diffusers' textual-inversion format: the base model loads it as the token
    saved = load_file(model / EMBEDDING_FILE)
    assert list(saved) == ["<*>"] and saved["<*>"].shape == (1, 16)
    torch.testing.assert_close(saved["<*>"][0], rows1[token_id], rtol=0, atol=0)
    base = load_gi(root / "base").pipe
    base.load_textual_inversion(str(model / EMBEDDING_FILE))
    loaded = base.text_encoder.get_input_embeddings().weight[base.tokenizer.convert_tokens_to_ids("<*>")]
    torch.testing.assert_close(loaded, rows1[token_id], rtol=0, atol=0)
    assert json.loads((model / GI_META).read_text())["token"] == "<*>"


def test_resumed_run_equals_the_uninterrupted_one(trained, tmp_path):
    root, model = trained
    out = tmp_path / "run"
    finetune(config(root, out, steps=2), log=lambda *a: None)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-2"]
    finetune(config(root, out, steps=4, resume=True), log=lambda *a: None)
    _, enc_a, _, unet_a, _ = load_parts(model)
    _, enc_b, _, unet_b, _ = load_parts(out / "model")
    for (name, a), (_, b) in zip(unet_a.named_parameters(), unet_b.named_parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)  # bit for bit on the CPU
    torch.testing.assert_close(enc_a.get_input_embeddings().weight, enc_b.get_input_embeddings().weight,
                               rtol=0, atol=0)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-2", "step-4"]
    # a run killed after logging step 3 but before checkpointing it: the resumption logs each step once
    log = out / "log.jsonl"
    lines = log.read_text().splitlines()
    shutil.rmtree(out / "checkpoints" / "step-4")
    log.write_text("\n".join(lines[:3]) + "\n")
    finetune(config(root, out, steps=4, resume=True), log=lambda *a: None)
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [1, 2, 3, 4]
    with pytest.raises(Text2ImgError, match="differ.*lr_unet"):
        finetune(config(root, out, steps=6, resume=True, lr_unet=1.0), log=lambda *a: None)
    with pytest.raises(Text2ImgError, match="earlier run; pass --resume"):
        finetune(config(root, out, steps=6), log=lambda *a: None)


def test_refusals_come_before_any_work(trained, tmp_path):
    root, _ = trained
    base = root / "base"
    not_sd = tmp_path / "not-sd"
    not_sd.mkdir()
    (not_sd / "unet").mkdir()
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    (no_tokenizer / "model_index.json").write_text((base / "model_index.json").read_text())
    for part in ("unet", "vae", "text_encoder", "scheduler"):
        (no_tokenizer / part).symlink_to(base / part)
    cases = [(dict(base_model=str(not_sd)), "not a diffusers model folder: no model_index.json"),
             (dict(base_model=str(tmp_path / "nowhere")), "no such folder"),
             (dict(base_model=str(no_tokenizer)), "no tokenizer/ folder"),
             (dict(token="*"), "'\\*' is already in the tokenizer's vocabulary"),
             (dict(token="style"), "'style' is already in the tokenizer's vocabulary"),
             (dict(initializer="chair table"), "is 2 tokens"),
             (dict(categories=["spoon"]), "unknown categories spoon"),
             (dict(shapes=str(tmp_path / "grids")), "no such folder"),
             (dict(size=30), "multiple of 8"),
             (dict(steps=0), "steps = 0")]
    for options, message in cases:
        out = tmp_path / "out"
        with pytest.raises(Text2ImgError, match=message):
            finetune(config(root, out, data_dir=None, class_dir=None, **options), log=lambda *a: None)
        assert not out.exists()  # nothing written
    assert finetune_main(["--base-model", str(not_sd), "--out", str(tmp_path / "out")]) == 2
    # a data folder built with other settings is refused, not mixed
    with pytest.raises(Text2ImgError, match=r"built with other settings \(views differ\)"):
        finetune(config(root, tmp_path / "out", views=3), log=lambda *a: None)


def test_generation_repeats_by_seed_and_uses_the_style_prompt(trained):
    root, model = trained
    gi = load_gi(model)
    assert gi.prompt("a swivel chair") == "a swivel chair in the style of <*>"
    a = generate(gi, ["a chair", "a table"], [1, 2], steps=2, guidance_scale=3.0)
    assert a.shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE) and 0 <= a.min() and a.max() <= 1
    b = generate(gi, ["a table"], [2], steps=2, guidance_scale=3.0)
    torch.testing.assert_close(a[1], b[0], rtol=0, atol=2e-6)  # an image depends on its own seed only
    c = generate(gi, ["a table"], [5], steps=2, guidance_scale=3.0)
    assert (c - b).abs().max() > 1e-3
    d = generate(gi, ["a table"], [2], steps=2, guidance_scale=3.0, scheduler="euler")
    assert (d - b).abs().max() > 1e-4
    with pytest.raises(Text2ImgError, match="unknown scheduler"):
        generate(gi, ["a table"], [2], scheduler="nope")
    plain = load_gi(root / "base")  # no fine-tuning: the prompt as it is
    assert plain.meta is None and plain.prompt("a chair") == "a chair"


def test_every_option_has_a_flag():
    from dataclasses import fields

    from dream3d.text2img.finetune_cli import parser

    args = vars(parser().parse_args(["--base-model", "b", "--out", "o"]))
    assert {f.name for f in fields(FinetuneConfig)} <= set(args)
    defaults = FinetuneConfig(base_model="b", out="o")
    assert all(args[f.name] == getattr(defaults, f.name) for f in fields(FinetuneConfig))


def test_training_lowers_the_loss_of_fixed_draws(trained, tmp_path):
    """Steps 0..3 again and again (the same batches, noise and timesteps): their denoising loss falls,
    training the UNet, and training the token's embedding alone (UNet learning rate 0), which moves the
    loss less: in the tiny model the prompt has little say."""
    from dream3d.text2img.finetune import prepare

    root, _ = trained

    def held_out_loss(trainer):
        with torch.no_grad():
            return sum(trainer.losses(k)[1].item() for k in range(4)) / 4

    drops = {}
    for lr_unet, lr_embedding in ((3e-3, 0.0), (0.0, 5e-2)):
        cfg = config(root, tmp_path / f"run-{lr_unet}", steps=10**6, categories=["chair"], data_dir=str(tmp_path / "d"),
                     prior_weight=0, lr_unet=lr_unet, lr_embedding=lr_embedding, max_grad_norm=0, batch_size=2)
        trainer = prepare(cfg, log=lambda *a: None)
        unet_before = [p.detach().clone() for p in trainer.unet.parameters()]
        before = held_out_loss(trainer)
        for step in range(24):
            trainer.step(step % 4)
        drops["unet" if lr_unet else "token"] = (before, held_out_loss(trainer))
        unet_moved = any(not torch.equal(a, b) for a, b in zip(unet_before, trainer.unet.parameters()))
        assert unet_moved == (lr_unet > 0)
    before, after = drops["unet"]
    assert after < 0.5 * before, drops
    before, after = drops["token"]
    assert after < before - 2e-4, drops  # measured: 1.0902 -> 1.0895 (and 1.0902 -> 0.363 with the UNet)
