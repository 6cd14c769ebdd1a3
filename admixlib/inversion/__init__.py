"""Image -> W+ inversion: encoder, its training on generator samples, refinement and PSNR."""

from admixlib.inversion.encoder import Encoder, load_encoder, save_encoder
from admixlib.inversion.invert import invert_images, optimise_to_psnr, psnr, refine, refine_psnr_curve
from admixlib.inversion.train import EncoderRecipe, train_encoder

__all__ = [
    "EncoderRecipe",
    "Encoder",
    "invert_images",
    "load_encoder",
    "optimise_to_psnr",
    "psnr",
    "refine",
    "refine_psnr_curve",
    "save_encoder",
    "train_encoder",
]
