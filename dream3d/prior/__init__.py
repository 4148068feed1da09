"""G_M, the diffusion prior of Dream3D's stage 1: CLIP embedding -> SDF-StyleGAN latent w."""
from .checkpoint import load_prior, save_prior
from .config import CONFIGS, PriorConfig, PriorError, TrainOptions, named_config
from .model import SAMPLERS, DiffusionPrior

__all__ = ["CONFIGS", "SAMPLERS", "DiffusionPrior", "PriorConfig", "PriorError", "TrainOptions", "load_prior",
           "named_config", "save_prior"]
