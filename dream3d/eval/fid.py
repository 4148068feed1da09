"""Fréchet Inception Distance: feature statistics of two image sets and the Fréchet distance of the
Gaussians they define,

    FID = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)

(the trace term written with the symmetric product, whose eigenvalues are real and >= 0, instead of
scipy's sqrtm of the non-symmetric S_a S_b). Any feature network that maps (N, 3, H, W) images in
[0, 1] to (N, D) features goes through the same code; ``load_inception`` builds the usual one, torchvision's
Inception-v3 pool features, from a local weights file (never downloaded unless asked).

Numbers are comparable only under one feature network: torchvision's ImageNet weights give FIDs that
differ from the TF-Inception weights of pytorch-fid / torch-fidelity, which published tables use.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

ENV_INCEPTION = "DREAM3D_INCEPTION"
INCEPTION_FILE = "inception_v3_google-0cc3c7bd.pth"  # torchvision's IMAGENET1K_V1 weights


class FIDError(ValueError):
    """FID cannot be computed: missing weights, too few images, mismatched features."""


@dataclass(frozen=True)
class FeatureStats:
    mu: np.ndarray      # (D,) float64
    sigma: np.ndarray   # (D, D) float64, unbiased
    count: int


def feature_stats(features: torch.Tensor | np.ndarray) -> FeatureStats:
    x = np.asarray(torch.as_tensor(features).double().cpu())
    if x.ndim != 2 or len(x) < 2:
        raise FIDError(f"FID needs at least 2 feature vectors (N, D), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise FIDError("the features hold NaN or inf")
    return FeatureStats(x.mean(0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1]), len(x))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu_a, sigma_a, mu_b, sigma_b) -> float:
    """The squared Fréchet (2-Wasserstein) distance of N(mu_a, sigma_a) and N(mu_b, sigma_b), float64."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    sigma_a, sigma_b = np.asarray(sigma_a, np.float64), np.asarray(sigma_b, np.float64)
    if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape or sigma_a.shape != mu_a.shape * 2:
        raise FIDError(f"mismatched statistics: mu {mu_a.shape} / {mu_b.shape}, sigma {sigma_a.shape} / "
                       f"{sigma_b.shape}")
    root_a = _psd_sqrt(sigma_a)
    cross = np.linalg.eigvalsh(root_a @ sigma_b @ root_a)
    trace_cross = np.sqrt(np.clip(cross, 0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(sigma_a) + np.trace(sigma_b) - 2 * trace_cross)
    return max(value, 0.0)  # rounding can leave -1e-12 for identical sets


@torch.no_grad()
def image_features(net: torch.nn.Module, images: torch.Tensor, batch_size: int = 50,
                   progress: str | None = None) -> torch.Tensor:
    """(N, D) float64 features of (N, 3, H, W) images in [0, 1], in batches on the net's device."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise FIDError(f"images must be (N, 3, H, W), got {tuple(images.shape)}")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise FIDError("images must lie in [0, 1]")
    device = next(net.parameters()).device
    out = []
    for start in tqdm(range(0, len(images), batch_size), desc=progress, disable=progress is None):
        features = net(images[start:start + batch_size].to(device, torch.float32))
        out.append(features.reshape(len(features), -1).double().cpu())
    return torch.cat(out)


def fid(net: torch.nn.Module, images_a: torch.Tensor, images_b: torch.Tensor, batch_size: int = 50) -> float:
    """FID between two image sets under one feature network."""
    a = feature_stats(image_features(net, images_a, batch_size))
    b = feature_stats(image_features(net, images_b, batch_size))
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma)


class InceptionFeatures(torch.nn.Module):
    """torchvision's Inception-v3 up to the 2048-dim average pool. Images in [0, 1] are resized to 299^2
    and scaled to [-1, 1], the input those (Google-trained) weights expect."""

    def __init__(self):
        super().__init__()
        from torchvision.models import inception_v3

        self.net = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)
        self.net.fc = torch.nn.Identity()
        self.net.eval().requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False,
                          antialias=images.shape[-1] > 299)
        return self.net(x * 2 - 1)

    def train(self, mode: bool = True):
        return super().train(False)  # eval-mode batch norm always (aux logits off)


def locate_inception(path: str | os.PathLike | None = None) -> Path:
    """The weights file: ``path``, else $DREAM3D_INCEPTION, else torch hub's cache; else FIDError."""
    looked = []
    for value, source in ((path, "--inception"), (os.environ.get(ENV_INCEPTION), f"${ENV_INCEPTION}")):
        if value:
            candidate = Path(value).expanduser()
            if candidate.is_dir():
                candidate = candidate / INCEPTION_FILE
            if not candidate.is_file():
                raise FIDError(f"{source} {value}: no such weights file")
            return candidate
        looked.append(f"{source} (not given)")
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if cached.is_file():
        return cached
    looked.append(f"torch hub's cache {cached}")
    raise FIDError("Inception-v3 weights for FID were not found offline. Looked in: " + "; ".join(looked)
                   + f". Supply torchvision's {INCEPTION_FILE} with --inception FILE or ${ENV_INCEPTION}, or "
                   "pass --download-inception to fetch it into torch hub's cache when online.")


def load_inception(path=None, device="cpu", download: bool = False) -> InceptionFeatures:
    if download and path is None and not os.environ.get(ENV_INCEPTION):
        from torchvision.models import Inception_V3_Weights

        Inception_V3_Weights.IMAGENET1K_V1.get_state_dict(progress=True)  # into torch hub's cache
    weights = locate_inception(path)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or "Mixed_7c.branch_pool.conv.weight" not in state:
            raise KeyError("not an Inception-v3 state dict (no Mixed_7c.branch_pool.conv.weight)")
        model = InceptionFeatures()
        model.net.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, strict=True)
    except Exception as err:  # a damaged file or another network's weights
        raise FIDError(f"cannot load Inception-v3 weights from {weights}: {type(err).__name__}: {err}") from err
    return model.to(device)
