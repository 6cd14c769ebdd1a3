"""StyleGAN2-style generator with a coarse/fine split point, discriminator and GAN training."""

from admixlib.stylegan.networks import (
    Discriminator,
    Generator,
    MappingNetwork,
    SynthesisNetwork,
    load_discriminator,
    load_generator,
    save_discriminator,
    save_generator,
)
from admixlib.stylegan.train import mixing_grid, sample_grid, train_generator

__all__ = [
    "Discriminator",
    "Generator",
    "MappingNetwork",
    "SynthesisNetwork",
    "load_discriminator",
    "load_generator",
    "mixing_grid",
    "sample_grid",
    "save_discriminator",
    "save_generator",
    "train_generator",
]
