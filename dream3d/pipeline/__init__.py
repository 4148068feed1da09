"""Runs: options (config), shape priors, stage 2 optimisation with checkpoints, output files."""
from .config import PRESETS, ConfigError, RunConfig, build_config, load_config_file, save_config
from .priors import Prior, PriorError, resolve_prior
from .run import run

__all__ = ["PRESETS", "ConfigError", "Prior", "PriorError", "RunConfig", "build_config", "load_config_file",
           "resolve_prior", "run", "save_config"]
