"""StyleGAN2-style generator with a coarse/fine split point, discriminator and GAN training."""

from admixlib.stylegan.discriminator import Discriminator, load_discriminator, save_discriminator
from admixlib.stylegan.grids import mixing_grid, sample_grid
from admixlib.stylegan.loss import GanLoss
from admixlib.stylegan.networks import ARCH_KEYS, Generator, load_generator, save_generator
from admixlib.stylegan.train import GanRecipe, train_generator

__all__ = [
    "ARCH_KEYS",
    "Discriminator",
    "GanLoss",
    "GanRecipe",
    "Generator",
    "load_discriminator",
    "load_generator",
    "mixing_grid",
    "sample_grid",
    "save_discriminator",
    "save_generator",
    "train_generator",
]
