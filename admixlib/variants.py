"""Variant datasets: the same data with another GAN, for the GAN-seed and ablation targets.

A variant's name is its base dataset's, a hyphen, and the variant: ``faces-gan1`` is ``faces`` with
the GAN trained from seed ``data.seed + 1`` (and its own encoder, inversion, classifiers and
evaluation); ``faces-generic`` is ``faces`` with the plain StyleGAN2 generator of the ``ablation``
config block. A variant reads its base's data splits and oracle, so the data are identical.
"""

import copy
import re

_NAME = re.compile(r"^(?P<base>[A-Za-z0-9_]+)(?:-(?P<variant>gan(?P<offset>[0-9]+)|generic))?$")


def _match(name: str) -> re.Match:
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"{name!r} is neither a dataset name nor '<dataset>-gan<N>' / '<dataset>-generic'")
    return match


def base_name(name: str) -> str:
    """The dataset a (variant) name builds on: ``"faces-gan1"`` -> ``"faces"``."""
    return _match(name)["base"]


def gan_seed_name(base: str, offset: int) -> str:
    """The variant of ``base`` whose GAN is trained from seed ``data.seed + offset`` (0: ``base``)."""
    return base if offset == 0 else f"{base}-gan{offset}"


def gan_seed(config: dict, name: str) -> int:
    """Seed of the GAN of dataset or variant ``name``: ``data.seed`` plus the ``ganN`` offset."""
    match = _match(name)
    return config["datasets"][match["base"]]["data"]["seed"] + int(match["offset"] or 0)


def variant_block(config: dict, name: str) -> dict:
    """The ``datasets`` block of dataset or variant ``name``: the base's, and for ``generic`` with
    ``ablation.generic``'s ``stylegan`` and ``mixing`` keys laid over it."""
    match = _match(name)
    block = config["datasets"][match["base"]]
    if match["variant"] != "generic":
        return block
    block = copy.deepcopy(block)
    generic = config["ablation"]["generic"]
    block["stylegan"].update(generic["stylegan"])
    block["mixing"].update(generic["mixing"])
    return block


def wildcard_pattern(datasets: list[str]) -> str:
    """Regex of every dataset or variant name of ``datasets`` (a Snakemake wildcard constraint)."""
    names = "|".join(re.escape(d) for d in datasets)
    return f"(?:{names})(?:-gan[0-9]+|-generic)?"
