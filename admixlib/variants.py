"""Variant datasets: the same data with another GAN, training set or split index.

A variant's name is its base dataset's, a hyphen, and the variant:

- ``faces-gan1``: the GAN trained from seed ``data.seed + 1``, with its own encoder and inversion;
- ``faces-generic``: the ablation's second generator, named by ``ablation.generator.name`` (by
  default the paper's plain StyleGAN2; its own GAN);
- ``faces-bias0.9``: the bias sweep's training set, drawn from the inverted pool with that bias; the
  base's GAN, encoder and codes;
- ``faces-k3``: the split-index sweep's classifiers, mixing from style 3 on; the base's GAN and codes.

Every variant reads its base's data splits and oracle, and its classifiers are scored as the table of
the GAN they use scores them (that GAN's split index, donors and variations).
"""

import copy
import re

_VARIANT = (
    r"gan(?P<offset>[0-9]+)|bias(?P<bias>[0-9.]+)|k(?P<k>[0-9]+)|(?P<ablation>(?!(?:gan|bias|k)$)[a-z]+)"
)
_NAME = re.compile(rf"^(?P<base>[A-Za-z0-9_]+)(?:-(?P<variant>{_VARIANT}))?$")
SWEEP_PREFIXES = {"bias": "bias", "split_index": "k"}


def _match(name: str) -> re.Match:
    match = _NAME.match(name)
    if match is None:
        raise ValueError(
            f"{name!r} is neither a dataset name nor '<dataset>-gan<N>', '-<ablation generator>', '-bias<b>' or '-k<k>'"
        )
    return match


def base_name(name: str) -> str:
    """The dataset a (variant) name builds on: ``"faces-gan1"`` -> ``"faces"``."""
    return _match(name)["base"]


def gan_owner(name: str) -> str:
    """The dataset or variant whose GAN, encoder and codes ``name`` uses: its own for the base and
    GAN variants (``ganN``, the ablation generator), the base's for a sweep variant (``bias``, ``k``)."""
    match = _match(name)
    return match["base"] if match["bias"] or match["k"] else name


def train_owner(name: str) -> str:
    """Whose training split and training codes ``name`` trains on: a bias variant's own subset of the
    pool, else those of its GAN (the base's split, inverted by that GAN)."""
    return name if _match(name)["bias"] else gan_owner(name)


def split_owner(name: str, split: str) -> str:
    """Whose data ``split`` ``name`` reads: a bias variant's own training split, else the base's."""
    return name if split == "train" and _match(name)["bias"] else base_name(name)


def bias_of(name: str) -> float:
    """The bias of a bias variant: ``"faces-bias0.9"`` -> ``0.9``."""
    bias = _match(name)["bias"]
    if bias is None:
        raise ValueError(f"{name!r} is not a bias variant")
    return float(bias)


def sweep_name(base: str, sweep: str, value) -> str:
    """The variant of ``base`` at one value of a sweep (``bias`` or ``split_index``)."""
    return f"{base}-{SWEEP_PREFIXES[sweep]}{value}"


def gan_seed_name(base: str, offset: int) -> str:
    """The variant of ``base`` whose GAN is trained from seed ``data.seed + offset`` (0: ``base``)."""
    return base if offset == 0 else f"{base}-gan{offset}"


def gan_seed(config: dict, name: str) -> int:
    """Seed of the GAN of dataset or variant ``name``: ``data.seed`` plus the ``ganN`` offset."""
    match = _match(gan_owner(name))
    return config["datasets"][match["base"]]["data"]["seed"] + int(match["offset"] or 0)


def variant_block(config: dict, name: str) -> dict:
    """The ``datasets`` block of dataset or variant ``name``: the base's; for the ablation generator
    (``ablation.generator.name``) with its ``stylegan`` and ``mixing`` keys laid over a copy, for
    ``kK`` with the split index K."""
    match = _match(name)
    block = config["datasets"][match["base"]]
    if match["ablation"]:
        generator = config["ablation"]["generator"]
        if match["ablation"] != generator["name"]:
            raise ValueError(f"{name!r}: the ablation generator is named {generator['name']!r}")
        block = copy.deepcopy(block)
        block["stylegan"].update(generator["stylegan"])
        block["mixing"].update(generator["mixing"])
    elif match["k"]:
        block = copy.deepcopy(block)
        block["mixing"]["split_index"] = int(match["k"])
    return block


def wildcard_pattern(datasets: list[str], variants: str = "all", *, ablation: str = "generic") -> str:
    """Regex of the names of ``datasets`` (a Snakemake wildcard constraint): with every variant
    (``"all"``), with those that train a GAN (``"gan"``: the base, ``ganN``, the ablation generator
    named ``ablation``), or with the bias variants alone (``"bias"``)."""
    names = "|".join(re.escape(d) for d in datasets)
    own = re.escape(ablation)
    suffix = {"all": rf"(?:-gan[0-9]+|-{own}|-bias[0-9.]+|-k[0-9]+)?", "gan": rf"(?:-gan[0-9]+|-{own})?",
              "bias": r"-bias[0-9.]+"}[variants]  # fmt: skip
    return f"(?:{names}){suffix}"
