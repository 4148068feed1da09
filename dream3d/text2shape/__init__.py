"""Stage 1's text-to-shape route: prompt (or picture) -> CLIP embedding -> G_M -> w -> G_S -> SDF grid."""
from .models import ModelPaths, Models, Text2ShapeError, load_models, resolve_paths
from .outputs import write_shape
from .route import Shape, shape_from_embedding, text_to_shape

__all__ = ["ModelPaths", "Models", "Shape", "Text2ShapeError", "generate_prior", "load_models", "resolve_paths",
           "shape_from_embedding", "text_to_shape", "write_shape"]


def generate_prior(prompt: str, resolution: int, seed: int = 0, device="cpu", models=None, **options) -> Shape:
    """dream3d-run's --prior text2shape: the models from ``models`` or $DREAM3D_MODELS."""
    loaded = load_models(resolve_paths(models), device)
    return text_to_shape(loaded, prompt=prompt, resolution=resolution, seed=seed, **options)
