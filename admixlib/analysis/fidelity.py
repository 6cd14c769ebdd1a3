"""Sample quality: Frechet distance in the oracle's features, and the real FID where weights exist.

The oracle feature distance is the Frechet distance between Gaussians fitted to the oracle's pooled
trunk features of real and generated images. It uses the same formula as FID but not Inception's
features, so its values are not comparable with published FIDs; it is named for what it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from torch import Tensor

from admixlib.analysis.oracle import FactorOracle
from admixlib.runtime import torch_generator

BATCH_SIZE = 256  # images per forward pass


def generator_samples(G, n: int, *, seed: int) -> Tensor:
    """``n`` samples of ``G`` (unmixed latents drawn on its device from ``seed``), rendered in batches
    with constant noise and clamped: ``[n, 3, H, W]`` in ``[-1, 1]`` on the CPU."""
    with torch.no_grad():
        ws = G.sample_ws(n, generator=torch_generator(seed, G.w_avg.device))
        return torch.cat([G.synthesis(chunk).clamp(-1, 1).cpu() for chunk in ws.split(BATCH_SIZE)])


def oracle_features(
    oracle: FactorOracle, images: Tensor, *, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Pooled trunk features of ``images [N, 3, H, W]`` in ``[-1, 1]``: float64 ``[N, C]``."""
    device = torch.device(device)
    was_training = oracle.training
    oracle.eval().to(device)
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(images), BATCH_SIZE):
            x = images[start : start + BATCH_SIZE].to(device, torch.float32)
            chunks.append(oracle.features(x).mean(dim=(2, 3)).double().cpu())
    oracle.train(was_training)
    return torch.cat(chunks).numpy()


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to ``feats_a [N, C]`` and ``feats_b [M, C]``."""
    if feats_a.ndim != 2 or feats_b.ndim != 2 or feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"features must be [N, C] and [M, C], got {feats_a.shape} and {feats_b.shape}")
    if min(len(feats_a), len(feats_b)) < 2:
        raise ValueError("the Frechet distance needs at least two images on each side")
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    # a small ridge keeps sqrtm stable when some features never fire (singular covariances)
    ridge = 1e-6 * np.eye(feats_a.shape[1])
    cov_a, cov_b = np.cov(feats_a, rowvar=False) + ridge, np.cov(feats_b, rowvar=False) + ridge
    covmean = linalg.sqrtm(cov_a @ cov_b)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    value = np.square(mu_a - mu_b).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def oracle_feature_distance(
    oracle: FactorOracle, real: Tensor, fake: Tensor, *, device: str | torch.device = "cpu"
) -> float:
    """Frechet distance between the oracle features of ``real`` and ``fake`` (both ``[N, 3, H, W]``
    in ``[-1, 1]``). Lower is better; 0 for identical distributions."""
    feats = [oracle_features(oracle, x, device=device) for x in (real, fake)]
    return frechet_distance(*feats)


def inception_fid(real: Tensor, fake: Tensor, *, weights_path: str | os.PathLike, device="cpu") -> float:
    """FID with torch-fidelity's Inception v3, loading its weights from ``weights_path`` (no download).

    ``real`` and ``fake`` are ``[N, 3, H, W]`` in ``[-1, 1]``. Raises FileNotFoundError naming the path
    when the weights are missing, ImportError when torch-fidelity is not installed.
    """
    weights_path = Path(weights_path)
    if not weights_path.is_file():
        raise FileNotFoundError(
            f"Inception weights {weights_path} do not exist; set analysis.inception_weights to the "
            "torch-fidelity file (weights-inception-2015-12-05-6726825d.pth) or to null"
        )
    try:
        import torch_fidelity
    except ImportError as error:  # an optional extra
        raise ImportError("the real FID needs torch-fidelity: pip install 'admixlib[fid]'") from error

    def as_dataset(x: Tensor):
        uint8 = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
        return _UInt8Images(uint8)

    metrics = torch_fidelity.calculate_metrics(
        input1=as_dataset(fake),
        input2=as_dataset(real),
        fid=True,
        cuda=torch.device(device).type == "cuda",
        feature_extractor_weights_path=str(weights_path),
        verbose=False,
    )
    return float(metrics["frechet_inception_distance"])


class _UInt8Images(torch.utils.data.Dataset):
    """torch-fidelity input: a dataset of uint8 ``[3, H, W]`` images."""

    def __init__(self, images: Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tensor:
        return self.images[index]
