"""G_I: Stable Diffusion fine-tuned on shape renders (textual inversion of the style token + the UNet,
with DreamBooth's prior preservation). One process per GPU through accelerate (``accelerate launch``
or torchrun); every random draw of step s on rank r comes from a generator seeded by (seed, s, r),
so a resumed run repeats the steps it would have taken.

OUT/ holds run.json (the options), data/ and class_images/ (unless placed elsewhere), checkpoints/step-N
(accelerate's state, renamed into place when complete) and, at the end, model/: a diffusers folder
with the fine-tuned UNet and the text encoder and tokenizer that know the token, plus the token's
embedding as learned_embeds.safetensors and dream3d_gi.json."""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .class_data import build_class_data, class_spec
from .config import FinetuneConfig
from .image_folder import read_image
from .render_data import build_render_data, shape_items
from .sd_folder import EMBEDDING_FILE, GI_META, Text2ImgError, check_sd_folder, import_diffusers, load_parts
from .token import add_placeholder, check_placeholder, restore_other_rows, save_embedding

RUN_FILE = "run.json"
PROMPT_TEMPLATE = "{prompt} in the style of {token}"


def step_generator(seed: int, step: int, rank: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0]))


def epoch_index(n: int, position: int, seed: int) -> int:
    """Item at ``position`` of an endless sequence of per-epoch permutations of range(n)."""
    epoch, offset = divmod(position, n)
    return int(np.random.default_rng([seed, epoch]).permutation(n)[offset])


def checkpoints(out: Path) -> list[Path]:
    folder = out / "checkpoints"
    found = [p for p in folder.glob("step-*") if p.is_dir() and p.name[5:].isdigit()] if folder.is_dir() else []
    return sorted(found, key=lambda p: int(p.name[5:]))


def check_run_folder(cfg: FinetuneConfig) -> Path | None:
    """The checkpoint to resume from (None: a fresh run); refuses a used folder without --resume and a
    resumption with other options."""
    out = Path(cfg.out)
    found = checkpoints(out)
    saved = out / RUN_FILE
    if not cfg.resume:
        if found or saved.is_file():
            raise Text2ImgError(f"--out {out} holds an earlier run; pass --resume to continue it or give another "
                                "folder")
        return None
    if not saved.is_file():
        raise Text2ImgError(f"--resume: {out} holds no run ({RUN_FILE} is missing)")
    changed = cfg.changed_from(json.loads(saved.read_text()))
    if changed:
        raise Text2ImgError(f"--resume: options differ from the run in {out}: {', '.join(changed)}")
    return found[-1] if found else None


def _precision(cfg: FinetuneConfig, cuda: bool) -> str:
    if cfg.mixed_precision != "auto":
        return cfg.mixed_precision if cuda else "no"
    if not cuda:
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def _optimizer(cfg: FinetuneConfig, unet, embedding: torch.nn.Parameter, cuda: bool):
    groups = [{"params": [p for p in unet.parameters() if p.requires_grad], "lr": cfg.lr_unet,
               "weight_decay": cfg.weight_decay},
              {"params": [embedding], "lr": cfg.lr_embedding, "weight_decay": 0.0}]
    use_8bit = cfg.adam_8bit if cfg.adam_8bit is not None else cuda
    if use_8bit:
        try:
            import bitsandbytes as bnb
            return bnb.optim.AdamW8bit(groups), "AdamW8bit"
        except ImportError:
            if cfg.adam_8bit:
                raise Text2ImgError("--adam-8bit needs bitsandbytes: pip install bitsandbytes") from None
    return torch.optim.AdamW(groups), "AdamW"


class Batches:
    """Step -> (pixels in [-1, 1], captions) for one rank: instance images, then as many class images."""

    def __init__(self, cfg: FinetuneConfig, records: list[dict], class_records: list[dict] | None):
        self.cfg, self.records, self.class_records = cfg, records, class_records

    def _load(self, folder: Path, records, seed: int, step: int, rank: int, world: int):
        images, texts = [], []
        for j in range(self.cfg.batch_size):
            record = records[epoch_index(len(records), (step * world + rank) * self.cfg.batch_size + j, seed)]
            images.append(read_image(folder / record["file_name"], self.cfg.size))
            texts.append(record["text"])
        return torch.stack(images) * 2 - 1, texts

    def __call__(self, step: int, rank: int, world: int):
        pixels, texts = self._load(self.cfg.data_path, self.records, self.cfg.seed, step, rank, world)
        if self.class_records is not None:
            more, more_texts = self._load(self.cfg.class_path, self.class_records, self.cfg.seed + 1, step, rank, world)
            pixels, texts = torch.cat([pixels, more]), texts + more_texts
        return pixels, texts


@dataclass
class Trainer:
    """Everything one training step touches, set up by ``prepare``."""
    cfg: FinetuneConfig
    accelerator: object
    tokenizer: object
    text_encoder: object    # prepared (DDP-wrapped on several processes)
    encoder: object         # the unwrapped text encoder
    vae: object
    unet: object            # prepared
    noise_scheduler: object
    optimizer: object
    lr_schedule: object
    batches: Batches
    token_id: int
    original_rows: torch.Tensor
    base: Path
    start: int

    def losses(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, instance loss, prior loss) of step's batch and draws, which depend on (seed, step, rank) only."""
        acc, cfg = self.accelerator, self.cfg
        device, rank, world = acc.device, acc.process_index, acc.num_processes
        gen = step_generator(cfg.seed, step, rank)
        pixels, texts = self.batches(step, rank, world)
        ids = self.tokenizer(texts, padding="max_length", max_length=self.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids.to(device)
        config = self.noise_scheduler.config
        with torch.no_grad():
            posterior = self.vae.encode(pixels.to(device, self.vae.dtype)).latent_dist
            latents = posterior.sample(generator=gen).float() * self.vae.config.scaling_factor
        noise = torch.randn(latents.shape, generator=gen).to(device)
        timesteps = torch.randint(0, config.num_train_timesteps, (len(latents),), generator=gen).to(device)
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        target = (noise if config.prediction_type == "epsilon"
                  else self.noise_scheduler.get_velocity(latents, noise, timesteps))
        with acc.autocast():
            states = self.text_encoder(ids)[0]
            predicted = self.unet(noisy, timesteps, states).sample
        errors = F.mse_loss(predicted.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
        instance_loss = errors[:cfg.batch_size].mean()
        with_prior = self.batches.class_records is not None
        prior_loss = errors[cfg.batch_size:].mean() if with_prior else torch.zeros((), device=device)
        return instance_loss + cfg.prior_weight * prior_loss, instance_loss, prior_loss

    def step(self, step: int) -> dict:
        """One optimisation step on ``losses(step)``; returns the losses."""
        acc, cfg = self.accelerator, self.cfg
        loss, instance_loss, prior_loss = self.losses(step)
        acc.backward(loss)
        if cfg.max_grad_norm > 0:
            embedding = self.encoder.get_input_embeddings().weight
            acc.clip_grad_norm_(list(self.unet.parameters()) + [embedding], cfg.max_grad_norm)
        self.optimizer.step()
        self.lr_schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        restore_other_rows(self.encoder, self.original_rows, self.token_id)
        return {"step": step + 1, "loss": loss.item(), "instance": instance_loss.item(), "prior": prior_loss.item()}


def _silent(*args, **kwargs) -> None:
    pass


def prepare(cfg: FinetuneConfig, log=print) -> Trainer:
    """Checks everything, builds (or reuses) the data sets, adds the token, sets up the optimiser and
    accelerate, and restores the last checkpoint with --resume."""
    cfg.check()
    diffusers = import_diffusers()
    from accelerate import Accelerator

    base = check_sd_folder(cfg.base_model)
    resume_from = check_run_folder(cfg)
    shape_items(cfg.shapes, cfg.per_category, cfg.categories)  # a bad --shapes fails before any work
    cuda = cfg.device != "cpu" and torch.cuda.is_available()
    precision = _precision(cfg, cuda)
    accelerator = Accelerator(mixed_precision=precision, cpu=not cuda)
    device, world = accelerator.device, accelerator.num_processes
    if not accelerator.is_main_process:
        log = _silent  # one voice for all ranks
    tokenizer, text_encoder, vae, unet, noise_scheduler = load_parts(base, device)
    check_placeholder(tokenizer, cfg.token, cfg.initializer)
    out = Path(cfg.out)

    with accelerator.main_process_first():  # rank 0 builds the data sets, the others then reuse them
        records = build_render_data(cfg.data_path, cfg.token, cfg.shapes, cfg.per_category, cfg.categories,
                                    cfg.views, cfg.size, cfg.grid_resolution, cfg.seed, device, log)
        class_records = None
        if cfg.prior_weight > 0:
            classes = sorted({r["class"] for r in records})
            spec = class_spec(base, classes, cfg.class_images, cfg.size, cfg.class_steps, cfg.class_guidance_scale,
                              cfg.seed)
            pipe = diffusers.StableDiffusionPipeline(
                vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                scheduler=diffusers.DDIMScheduler.from_config(noise_scheduler.config), safety_checker=None,
                feature_extractor=None, requires_safety_checker=False)
            pipe.set_progress_bar_config(disable=True)
            with accelerator.autocast():  # bf16/fp16 sampling on CUDA, as fast as inference gets here
                class_records = build_class_data(cfg.class_path, pipe, spec, log=log)
            del pipe

    if accelerator.is_main_process:  # from here on the folder holds a run that --resume continues
        out.mkdir(parents=True, exist_ok=True)
        (out / RUN_FILE).write_text(json.dumps(cfg.to_json(), indent=1))
    token_id = add_placeholder(tokenizer, text_encoder, cfg.token, cfg.initializer)
    original_rows = text_encoder.get_input_embeddings().weight.detach().clone()
    vae.requires_grad_(False).eval()
    text_encoder.requires_grad_(False)
    embedding = text_encoder.get_input_embeddings().weight
    embedding.requires_grad_(True)
    unet.train()
    if cfg.gradient_checkpointing if cfg.gradient_checkpointing is not None else cuda:
        unet.enable_gradient_checkpointing()
    if precision != "no":  # the frozen VAE runs in the low precision; trained weights stay float32
        vae.to(dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
    optimizer, optimizer_name = _optimizer(cfg, unet, embedding, cuda)
    warmup = max(cfg.warmup, 1)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    unet, text_encoder, optimizer = accelerator.prepare(unet, text_encoder, optimizer)
    accelerator.register_for_checkpointing(lr_schedule)
    start = 0
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        start = int(resume_from.name[5:])
        log(f"[finetune-sd] resumed from {resume_from}")
    log(f"[finetune-sd] {len(records)} renders, {len(class_records or [])} class images, {world} process(es) "
        f"on {device}, precision {precision}, {optimizer_name}, steps {start}..{cfg.steps}")
    return Trainer(cfg, accelerator, tokenizer, text_encoder, accelerator.unwrap_model(text_encoder), vae, unet,
                   noise_scheduler, optimizer, lr_schedule, Batches(cfg, records, class_records), token_id,
                   original_rows, base, start)


def finetune(cfg: FinetuneConfig, log=print) -> Path:
    """Runs (or resumes) the fine-tuning; returns OUT/model."""
    trainer = prepare(cfg, log)
    acc, out = trainer.accelerator, Path(cfg.out)
    log_file = out / "log.jsonl"
    if acc.is_main_process and log_file.is_file():  # drop what a killed run logged past its last checkpoint
        kept = [line for line in log_file.read_text().splitlines() if json.loads(line)["step"] <= trainer.start]
        log_file.write_text("".join(line + "\n" for line in kept))
    bar = tqdm(range(trainer.start, cfg.steps), desc="finetune-sd", disable=not acc.is_local_main_process)
    for step in bar:
        record = trainer.step(step)
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            bar.set_postfix(loss=f"{record['loss']:.4f}")
            if acc.is_main_process:
                with open(log_file, "a") as f:
                    f.write(json.dumps(record) + "\n")
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save_checkpoint(acc, out, done, cfg.keep_checkpoints)
    acc.wait_for_everyone()
    model = out / "model"
    if acc.is_main_process:
        write_model(trainer.base, model, acc.unwrap_model(trainer.unet), trainer.encoder, trainer.tokenizer, cfg,
                    trainer.token_id, log)
    acc.wait_for_everyone()
    return model


def save_checkpoint(accelerator, out: Path, step: int, keep: int) -> None:
    """accelerate's state in a hidden folder, renamed to checkpoints/step-N when complete."""
    folder = out / "checkpoints"
    staging = folder / f".step-{step}.partial"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        final = folder / f"step-{step}"
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        for old in checkpoints(out)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def write_model(base: Path, model: Path, unet, text_encoder, tokenizer, cfg: FinetuneConfig, token_id: int,
                log) -> None:
    """OUT/model: the base's scheduler and VAE with the trained UNet, text encoder and tokenizer, the
    token's embedding and dream3d_gi.json; written beside and renamed into place."""
    diffusers = import_diffusers()
    staging = model.parent / f".{model.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    pipe = diffusers.StableDiffusionPipeline.from_pretrained(
        base, unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, safety_checker=None,
        feature_extractor=None, requires_safety_checker=False, local_files_only=True)
    pipe.save_pretrained(staging, safe_serialization=True)
    vector = text_encoder.get_input_embeddings().weight[token_id]
    save_embedding(staging / EMBEDDING_FILE, cfg.token, vector)
    meta = {"token": cfg.token, "template": PROMPT_TEMPLATE, "base_model": str(base), "steps": cfg.steps,
            "size": cfg.size, "shapes": cfg.shapes, "prior_weight": cfg.prior_weight}
    (staging / GI_META).write_text(json.dumps(meta, indent=1))
    if model.exists():
        old = model.parent / f".{model.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(model, old)
        os.replace(staging, model)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, model)
    log(f"[finetune-sd] wrote {model} (copy it to MODELS/sd to use it in dream3d-shape)")
