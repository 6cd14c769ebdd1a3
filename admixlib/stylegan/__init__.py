"""StyleGAN2-style generator with a coarse/fine split point, discriminator and GAN training."""

from admixlib.stylegan.discriminator import Discriminator, load_discriminator, save_discriminator
from admixlib.stylegan.mapping import MappingNetwork
from admixlib.stylegan.networks import ChannelMix, Generator, SynthesisNetwork, load_generator, save_generator
from admixlib.stylegan.train import mixing_grid, sample_grid, split_mix, train_generator

__all__ = [
    "ChannelMix",
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
    "split_mix",
    "train_generator",
]
