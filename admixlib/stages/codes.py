"""Reading the inversion outputs (W+ codes and reconstructions) that later stages consume."""

from dataclasses import dataclass
from pathlib import Path

import torch

from admixlib.runtime import load_checkpoint


@dataclass
class SplitCodes:
    """W+ codes of one split: ``ws`` [N, L, w_dim], ``recon`` [N, 3, H, W] in [-1, 1], ``psnr`` [N]."""

    ws: torch.Tensor
    recon: torch.Tensor
    psnr: torch.Tensor

    def residuals(self, images: torch.Tensor) -> torch.Tensor:
        """``x - G(w(x))`` [N, 3, H, W]: what the generator could not reproduce of ``images``."""
        if images.shape != self.recon.shape:
            raise ValueError(f"images {tuple(images.shape)} do not match codes {tuple(self.recon.shape)}")
        return images - self.recon


def load_codes(path) -> SplitCodes:
    """Load a ``results/{dataset}/codes/{split}.pt`` file written by the gather_codes rule."""
    blob = load_checkpoint(path, writer="gather_codes")
    missing = {"ws", "recon", "psnr"} - set(blob)
    if missing:
        raise RuntimeError(f"{Path(path)} lacks {sorted(missing)}; delete it and re-run gather_codes")
    return SplitCodes(ws=blob["ws"].float(), recon=blob["recon"].float(), psnr=blob["psnr"].float())
