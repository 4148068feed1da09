"""Stage 1's text-to-shape route: prompt (or picture) -> CLIP embedding -> G_M -> w -> G_S -> SDF grid."""
from .models import ModelPaths, Models, Text2ShapeError, load_models, resolve_paths
from .outputs import write_shape
from .route import Shape, shape_from_embedding, text_to_shape

__all__ = ["ModelPaths", "Models", "Shape", "Text2ShapeError", "generate_prior", "load_models", "resolve_paths",
           "shape_from_embedding", "text_to_shape", "write_shape"]


def generate_prior(prompt: str, resolution: int, seed: int = 0, device="cpu", models=None, **options) -> Shape:
    """dream3d-run's --prior text2shape: the models from ``models`` or $DREAM3D_MODELS; the prompt goes
    through G_I when the folder holds sd/, as in dream3d-shape."""
    from ..models_dir import models_folder
    from ..text2img.generate import load_gi
    from ..text2img.route import find_gi, gi_embedding
    from ..text2img.sd_folder import Text2ImgError

    loaded = load_models(resolve_paths(models), device)
    try:
        gi_folder = find_gi(models_folder(models))
        if gi_folder is None:
            return text_to_shape(loaded, prompt=prompt, resolution=resolution, seed=seed, **options)
        step = gi_embedding(load_gi(gi_folder, device), loaded.clip, prompt, seed=seed)
    except Text2ImgError as err:
        raise Text2ShapeError(str(err)) from err
    return shape_from_embedding(loaded, step.embedding, resolution=resolution, seed=seed, source="gi", **options)
