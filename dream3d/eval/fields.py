"""A finished run's trained field (field.safetensors, written by pipeline/outputs.save_field) rebuilt
as a DVGOField, and its renders from the evaluation views: DreamFields' protocol of a fixed elevation
and radius, azimuths evenly spaced around the object, a white background."""
from __future__ import annotations

from pathlib import Path

import torch

from ..cameras import turntable
from ..field import ColorMLP, DensityGrid, DVGOField, FeatureGridColor
from ..pipeline.views import render_views

FIELD_FILE = "field.safetensors"


class FieldFileError(ValueError):
    """A field file is missing or not one save_field wrote."""


def load_field(path: str | Path, device="cpu") -> DVGOField:
    """The DVGOField saved in ``path`` (a field.safetensors or a run folder holding one); the colour
    model's options come from the file's metadata."""
    from safetensors import safe_open

    path = Path(path)
    if path.is_dir():
        path = path / FIELD_FILE
    if not path.is_file():
        raise FieldFileError(f"no trained field at {path} (a finished dream3d-run folder holds {FIELD_FILE})")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises several types on a damaged file
        raise FieldFileError(f"{path} is not a readable safetensors file: {err}") from err
    need = {"color_model", "color_frequencies", "color_width", "color_depth", "color_grid_channels"}
    if missing := sorted(need - set(meta)) or sorted({"density.values", "density.xyz_min", "density.xyz_max"} - set(tensors)):
        raise FieldFileError(f"{path} is not a dream3d field file: missing {', '.join(missing)}")
    values = tensors["density.values"]
    box = dict(xyz_min=tensors["density.xyz_min"].tolist(), xyz_max=tensors["density.xyz_max"].tolist())
    density = DensityGrid(values, **box)
    if meta["color_model"] == "grid":
        color = FeatureGridColor(values.shape[0], int(meta["color_grid_channels"]), int(meta["color_width"]), **box)
    elif meta["color_model"] == "mlp":
        color = ColorMLP(int(meta["color_frequencies"]), int(meta["color_width"]), int(meta["color_depth"]),
                         normals=meta.get("color_normals") == "True")  # absent from older files: no normals
    else:
        raise FieldFileError(f"{path}: unknown colour model {meta['color_model']!r}")
    field = DVGOField(density, color)
    try:
        field.load_state_dict(tensors)
    except RuntimeError as err:
        raise FieldFileError(f"{path}: tensors do not match the field its metadata describes: {err}") from err
    return field.to(device)


def eval_cameras(n_views: int, elevation: float, radius: float) -> torch.Tensor:
    """n_views cameras at one elevation and radius, azimuths 360 i / n_views from the front (+Z):
    (V, 4, 4)."""
    return turntable(n_views, radius, elevation)


# Rays per render call. On one CPU thread 4096 rays keep the colour MLP's activations (~15 samples a ray)
# in cache: on a 2-core CPU busy with other jobs, 8 views at 224 px of a preview run took 2.8 s this way
# and 6.0 s with 16384-ray chunks (on a quieter one the CPU time was about the same). With 2 threads the
# larger chunks were faster there (10.0 s against 12.5 s), so they stay the default.
RAY_CHUNK_ONE_THREAD, RAY_CHUNK = 4096, 16384


@torch.no_grad()
def render_eval_views(field: DVGOField, cameras: torch.Tensor, size: int, fov: float) -> torch.Tensor:
    """(V, 3, size, size) uint8 renders on white, as CLIP would see saved images."""
    one_thread = field.density.values.device.type == "cpu" and torch.get_num_threads() == 1
    rgb, _ = render_views(field, cameras, size, fov, bg=1.0, chunk=RAY_CHUNK_ONE_THREAD if one_thread else RAY_CHUNK)
    return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 3, 1, 2).cpu()
