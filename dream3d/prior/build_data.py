"""dream3d-build-prior-data: G_M's training pairs. For each shape: z -> w (G_S's mapping), the SDF grid
(G_S's synthesis), K renders by the SDF renderer (azimuth in [-90, 90], elevation in [20, 30], a random
solid background each), their CLIP image embeddings. Written as shards (data.py); a rerun skips the
complete ones, and under torchrun rank r builds shards r, r + W, ... Each shard draws from its own seed,
so the data do not depend on the number of ranks."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..cameras import orbit_cameras
from ..guidance import GuidanceError
from ..guidance.clip import ClipSpec, ClipWeights, load_clip, locate_weights
from ..models_dir import GENERATOR, ModelsError, model_file, models_folder
from ..shape.generator.distributed import rank_device, world_from_env
from ..shape.render import render_grids
from .config import PriorError
from .data import DataPlan, missing_shards, write_manifest, write_shard


def file_digest(path: str | os.PathLike | None) -> str | None:
    """The first 16 hex digits of the file's sha256: identifies the weights a data set was built with."""
    if path is None:
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def shard_seed(seed: int, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"dream3d-prior-data:{seed}:{index}".encode()).digest()[:8], "little") >> 1


def load_shape_generator(path: Path, device):
    """G_S from its checkpoint, in eval mode; any failure is a PriorError naming the file."""
    try:
        from ..shape.generator import load_generator
    except ImportError as err:
        raise PriorError(f"G_S (dream3d.shape.generator) is not importable: {err}") from err
    try:
        generator = load_generator(path)
    except Exception as err:
        raise PriorError(f"cannot load G_S from {path}: {type(err).__name__}: {err}") from err
    return generator.eval().requires_grad_(False).to(device)


def clip_embed_dim(clip) -> int:
    dim = getattr(clip.model.visual, "output_dim", None)
    if dim is None:
        with torch.no_grad():
            dim = clip.embed_images(torch.zeros(1, 3, clip.image_size, clip.image_size, device=clip.mean.device)).shape[-1]
    return int(dim)


def clip_facts(spec: ClipSpec, weights: ClipWeights, embed_dim: int) -> dict:
    """What identifies the CLIP: the text-to-shape route must embed prompts with the same one. A JSON
    architecture rides along whole, so that the route can rebuild it without the file."""
    facts = {"model": weights.model_name, "pretrained": spec.pretrained, "embed_dim": embed_dim,
             "weights_sha256": file_digest(weights.path)}
    if spec.model.endswith(".json"):
        facts["config"] = json.loads(Path(spec.model).expanduser().read_text())
    return facts


def random_cameras(n_views: int, radius: float, azimuth, elevation, gen: torch.Generator) -> torch.Tensor:
    az = azimuth[0] + torch.rand(n_views, generator=gen, dtype=torch.float64) * (azimuth[1] - azimuth[0])
    el = elevation[0] + torch.rand(n_views, generator=gen, dtype=torch.float64) * (elevation[1] - elevation[0])
    return orbit_cameras(radius, az.tolist(), el.tolist())


class Timer:
    """Seconds per part, with the device synchronised so that GPU work is charged to its part."""

    def __init__(self, device: torch.device):
        self.device, self.seconds = device, {"render": 0.0, "clip": 0.0, "rest": 0.0}
        self._t = time.perf_counter()

    def lap(self, part: str) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.seconds[part] += now - self._t
        self._t = now


@torch.no_grad()
def build_shard(plan: DataPlan, index: int, generator, clip, batch: int, device, timer: Timer) -> dict:
    """(embedding (n, K, D), w (n, w_dim), z (n, z_dim)) of shard ``index``."""
    seed = shard_seed(plan.seed, index)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # G_S's synthesis may draw noise from the global generator
    n = plan.shard_count(index)
    z = torch.randn(n, generator.z_dim, generator=gen)
    ws, embeddings = [], []
    for start in range(0, n, batch):
        zb = z[start:start + batch]
        w = generator.mapping(zb.to(device))
        grids = generator.synthesize(w, plan.resolution)
        cams = torch.stack([random_cameras(plan.views, plan.radius, plan.azimuth, plan.elevation, gen)
                            for _ in range(len(zb))])
        backgrounds = torch.rand(len(zb), plan.views, 3, generator=gen).to(device)
        timer.lap("rest")
        rgb = render_grids(grids, cams, size=plan.image_size, fov=plan.fov, background=backgrounds,
                           device=device).rgb
        images = rgb.reshape(-1, *rgb.shape[-3:]).permute(0, 3, 1, 2)
        timer.lap("render")
        embeddings.append(clip.embed_images(images).float().view(len(zb), plan.views, -1).cpu())
        timer.lap("clip")
        ws.append(w.float().cpu())
    return {"embedding": torch.cat(embeddings), "w": torch.cat(ws), "z": z}


def build(args: argparse.Namespace, log=print) -> dict:
    rank, local_rank, world = world_from_env()
    device = rank_device(args.device, local_rank, world)
    gen_path = model_file(GENERATOR, args.generator, models_folder(args.models), "--generator")
    spec = ClipSpec(model=args.clip_model, pretrained=args.clip_pretrained, checkpoint=args.clip_checkpoint,
                    cache_dir=args.clip_cache_dir)
    weights = locate_weights(spec)  # before any work: missing weights stop here
    out = Path(args.out)
    generator = load_shape_generator(gen_path, device)
    clip = load_clip(spec, device, weights)
    plan = DataPlan(shapes=args.shapes, shard_size=args.shard_size, views=args.views, image_size=args.size,
                    resolution=args.resolution, seed=args.seed, fov=args.fov, radius=args.radius,
                    clip=clip_facts(spec, weights, clip_embed_dim(clip)),
                    generator={"sha256": file_digest(gen_path), "z_dim": int(generator.z_dim),
                               "w_dim": int(generator.w_dim)})
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out, plan)
    todo = [i for i in missing_shards(out, plan) if i % world == rank]
    mine = len(range(rank, plan.num_shards, world))
    log(f"[prior-data] rank {rank}/{world}: {mine - len(todo)} of my {mine} shards done, {len(todo)} to build "
        f"({plan.shapes} shapes x {plan.views} views in {plan.num_shards} shards) on {device}")
    timer = Timer(device)
    images = 0
    bar = tqdm(todo, desc=f"shards (rank {rank})", unit="shard", disable=not args.progress)
    for index in bar:
        shard = build_shard(plan, index, generator, clip, args.batch, device, timer)
        write_shard(out, index, shard["embedding"], shard["w"], shard["z"])
        timer.lap("rest")
        images += plan.shard_count(index) * plan.views
        bar.set_postfix(images_per_s=f"{images / max(sum(timer.seconds.values()), 1e-9):.1f}")
    total = sum(timer.seconds.values())
    stats = {"rank": rank, "shards": len(todo), "images": images, "seconds": total,
             "images_per_s": images / total if total > 0 else 0.0,
             "split": {k: v / total if total > 0 else 0.0 for k, v in timer.seconds.items()}}
    if images:
        split = ", ".join(f"{k} {100 * v:.0f}%" for k, v in stats["split"].items())
        log(f"[prior-data] rank {rank}: {images} images in {total:.1f} s = {stats['images_per_s']:.1f} images/s "
            f"({split})")
    return stats


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dream3d-build-prior-data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="DIR", help="data folder (rerun with the same options to resume)")
    p.add_argument("--models", metavar="DIR", help="models folder holding generator.pt (default $DREAM3D_MODELS)")
    p.add_argument("--generator", metavar="FILE", help="G_S checkpoint (instead of MODELS/generator.pt)")
    p.add_argument("--shapes", type=int, default=64000, help="shapes to sample (paper: 64000)")
    p.add_argument("--views", type=int, default=24, help="renders per shape (paper: 24)")
    p.add_argument("--shard-size", type=int, default=500, help="shapes per shard")
    p.add_argument("--batch", type=int, default=8, help="shapes rendered and embedded together")
    p.add_argument("--size", type=int, default=224, help="render size in pixels (CLIP ViT-B/32's input: 224)")
    p.add_argument("--resolution", type=int, default=64, help="SDF grid size G_S synthesises for rendering")
    p.add_argument("--fov", type=float, default=40.0, help="vertical field of view, degrees")
    p.add_argument("--radius", type=float, default=3.2, help="camera distance from the origin")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clip-model", default="ViT-B-32", metavar="NAME|FILE.json",
                   help="open_clip architecture or JSON config (default ViT-B-32, the paper's)")
    p.add_argument("--clip-pretrained", default="openai", metavar="TAG")
    p.add_argument("--clip-checkpoint", metavar="PATH", help="CLIP weights file or folder (default: the caches)")
    p.add_argument("--clip-cache-dir", metavar="DIR")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cpu or cuda (under torchrun: cuda:LOCAL_RANK)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads (0: torch's default; small models run fastest on 1 on a busy CPU)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def check_args(args) -> None:
    for name in ("shapes", "views", "shard_size", "batch", "size"):
        if getattr(args, name) < 1:
            raise PriorError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.resolution < 8:
        raise PriorError(f"--resolution must be >= 8, got {args.resolution}")
    if not 0 < args.fov < 180 or args.radius <= 1.8:
        raise PriorError(f"--fov must lie in (0, 180) and --radius outside the bbox (> 1.8), got {args.fov}, {args.radius}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        check_args(args)
        if args.threads:
            torch.set_num_threads(args.threads)
        build(args)
    except (PriorError, ModelsError, GuidanceError) as err:
        print(f"dream3d-build-prior-data: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dream3d-build-prior-data: interrupted; rerun with the same options to build the missing shards",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
