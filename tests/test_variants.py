"""Variant datasets (GAN seeds, the generic generator) and the tables built over them."""

import json
import re

import pandas as pd
import pytest
import torch

from admixlib.data.build import build_dataset, resampled_train
from admixlib.data.store import load_split
from admixlib.perturb import Batch, ResampleSet
from admixlib.stages.gan_seeds import gan_seeds_tables
from admixlib.variants import (
    base_name,
    bias_of,
    gan_owner,
    gan_seed,
    gan_seed_name,
    split_owner,
    sweep_name,
    train_owner,
    variant_block,
    wildcard_pattern,
)

CONFIG = {
    "datasets": {
        "faces": {
            "data": {"seed": 7},
            "stylegan": {"torgb": "palette", "steps": 10},
            "mixing": {"split_index": 5},
        }
    },
    "ablation": {
        "generator": {"name": "generic", "stylegan": {"torgb": "skip"}, "mixing": {"split_index": 3}}
    },
}


def test_variant_names_map_to_their_base_and_gan_seed():
    assert [base_name(n) for n in ("faces", "faces-gan2", "faces-generic")] == ["faces"] * 3
    assert [gan_seed(CONFIG, n) for n in ("faces", "faces-gan2")] == [7, 9]
    assert gan_seed_name("faces", 0) == "faces" and gan_seed_name("faces", 2) == "faces-gan2"
    with pytest.raises(ValueError, match="faces-gan"):
        base_name("faces-gan")
    pattern = re.compile(wildcard_pattern(["faces", "colored_digits"]))
    assert pattern.fullmatch("colored_digits-gan1") and not pattern.fullmatch("faces-other")


def test_the_generic_variant_lays_its_keys_over_a_copy():
    block = variant_block(CONFIG, "faces-generic")
    assert block["stylegan"] == {"torgb": "skip", "steps": 10} and block["mixing"] == {"split_index": 3}
    assert CONFIG["datasets"]["faces"]["stylegan"]["torgb"] == "palette"  # the base is untouched
    assert variant_block(CONFIG, "faces-gan1") is CONFIG["datasets"]["faces"]


def test_the_ablation_generator_goes_by_its_configured_name():
    config = {**CONFIG, "ablation": {"generator": {**CONFIG["ablation"]["generator"], "name": "palette"}}}
    assert variant_block(config, "faces-palette")["stylegan"]["torgb"] == "skip"
    with pytest.raises(ValueError, match="named 'palette'"):
        variant_block(config, "faces-generic")
    pattern = re.compile(wildcard_pattern(["faces"], "gan", ablation="palette"))
    assert pattern.fullmatch("faces-palette") and not pattern.fullmatch("faces-generic")


def run(gan, method, seed, clean):
    return {"gan_seed": gan, "method": method, "seed": seed, "metrics": {"clean_acc": clean}}


def test_gan_seed_table_pools_every_gan_and_classifier_pair():
    runs = [
        run(g, m, s, 0.5 + 0.1 * g + 0.01 * s + (0.3 if m == "advmix" else 0))
        for g in (0, 1)
        for m in ("nominal", "advmix")
        for s in (0, 1)
    ]
    tidy = gan_seeds_tables(runs, dataset="d", methods=["nominal", "advmix"])
    clean = tidy[tidy["metric"] == "clean_acc"].set_index(["gan_seed", "method"])
    assert clean.loc[("all", "advmix"), "n_seeds"] == 4 and clean.loc[("0", "advmix"), "n_seeds"] == 2
    assert clean.loc[("all", "advmix"), "mean"] == pytest.approx(0.855)
    assert clean.loc[("1", "nominal"), "mean"] == pytest.approx(0.605)
    reduction = tidy[(tidy["metric"] == "rel_error_reduction") & (tidy["gan_seed"] == "all")]
    assert reduction.set_index("method").loc["advmix", "n_seeds"] == 4  # paired by (GAN, classifier)


def test_gan_seed_table_does_not_count_a_shared_model_twice():
    """Nominal does not use the GAN: its pooled interval is that of its own classifier seeds."""
    runs = [run(g, "nominal", s, 0.7 + 0.02 * s) for g in (0, 1, 2) for s in (0, 1, 2)]
    tidy = gan_seeds_tables(runs, dataset="d", methods=["nominal"]).set_index(["gan_seed", "metric"])
    pooled, one = tidy.loc[("all", "clean_acc")], tidy.loc[("0", "clean_acc")]
    assert pooled["n_seeds"] == 9 and pooled["ci95_low"] == pytest.approx(one["ci95_low"])


@pytest.mark.parametrize(
    ("kind", "factor", "values"), [("faces", "skin_tone", 2), ("colored_digits", "color", 10)]
)
def test_the_redraw_at_an_images_own_value_is_the_image(tmp_path, kind, factor, values):
    sizes = {"n_train": 40, "n_val": 300, "n_test": 400}
    build_dataset(
        kind, outputs={"train": (tmp_path / "train.pt", tmp_path / "train_factors.csv")}, sizes=sizes, bias=0.9,
        spurious_factor=factor, seed=3, resolution=16,
    )  # fmt: skip
    train = load_split(tmp_path / "train.pt")
    redrawn, got = resampled_train(kind, sizes=sizes, bias=0.9, spurious_factor=factor, seed=3, resolution=16)
    assert redrawn.shape == (values, 40, 3, 16, 16) and got == list(range(values))
    own = redrawn[torch.tensor(train.factors[factor].to_numpy()), torch.arange(40)]
    assert torch.equal(own.float() / 127.5 - 1.0, train.images)
    other = redrawn[1 - torch.tensor(train.factors[factor].to_numpy()).clamp(max=1), torch.arange(40)]
    assert not torch.equal(other.float() / 127.5 - 1.0, train.images)


def test_resample_set_takes_each_images_own_row():
    alternatives = torch.arange(3 * 5, dtype=torch.uint8).reshape(3, 5, 1, 1, 1).expand(3, 5, 3, 2, 2).clone()
    pset = ResampleSet(alternatives)
    batch = Batch(
        images=torch.zeros(4, 3, 2, 2),
        labels=torch.zeros(4, dtype=torch.long),
        index=torch.tensor([4, 0, 2, 2]),
    )
    images = pset.to_image(pset.random_init(batch, generator=torch.Generator().manual_seed(0)), batch)
    rows = ((images[:, 0, 0, 0] + 1) * 127.5).round().long()
    assert ((rows % 5) == batch.index).all() and set((rows // 5).tolist()) <= {0, 1, 2}
    with pytest.raises(ValueError, match="batch.index"):
        pset.random_init(Batch(images=batch.images, labels=batch.labels), generator=torch.Generator())


def test_ablation_stage_names_rows_and_writes_both_generators(tmp_path):
    from admixlib.stages.ablation import ablation_stage

    inputs = {"label_kept": 0.9, "nuisance_moved": {"color": 1.0}}
    generator = {
        **inputs,
        "marginal_gap_max": 0.01,
        "oracle_feature_distance": 3.0,
        "training_inputs": inputs,
    }
    generators = {}
    for name in ("own", "generic"):
        generators[name] = tmp_path / f"{name}.json"
        generators[name].write_text(json.dumps(generator))
    runs = []
    for row, clean in (("nominal", 0.8), ("advmix", 0.9), ("advmix_generic", 0.85)):
        for seed in (0, 1):
            path = tmp_path / f"{row}{seed}.json"
            path.write_text(
                json.dumps({"method": row.split("_")[0], "seed": seed, "metrics": {"clean_acc": clean}})
            )
            runs.append({"row": row, "path": path})
    paths = {key: tmp_path / f"t.{key}" for key in ("csv", "md", "generators")}
    ablation_stage(
        dataset="d", runs=runs, generators=generators, csv_path=paths["csv"], md_path=paths["md"],
        generators_path=paths["generators"],
    )  # fmt: skip
    tidy = pd.read_csv(paths["csv"])
    clean = tidy[tidy["metric"] == "clean_acc"].set_index("method")["mean"]
    assert clean.to_dict() == pytest.approx({"nominal": 0.8, "advmix": 0.9, "advmix_generic": 0.85})
    reduction = tidy[tidy["metric"] == "rel_error_reduction"].set_index("method")["mean"]
    assert reduction["advmix_generic"] == pytest.approx(0.25)  # paired with the own nominal
    assert pd.read_csv(paths["generators"])["generator"].tolist() == ["own", "generic"]
    assert "| advmix_generic |" in paths["md"].read_text()


def test_sweep_variants_train_on_their_own_set_with_the_base_gan():
    assert (
        sweep_name("faces", "bias", "0.9") == "faces-bias0.9"
        and sweep_name("faces", "split_index", 3) == "faces-k3"
    )
    assert [gan_owner(n) for n in ("faces-bias0.9", "faces-k3", "faces-gan1", "faces-generic")] == [
        "faces", "faces", "faces-gan1", "faces-generic",
    ]  # fmt: skip
    assert train_owner("faces-bias0.9") == "faces-bias0.9" and train_owner("faces-k3") == "faces"
    assert (
        split_owner("faces-bias0.9", "train") == "faces-bias0.9"
        and split_owner("faces-bias0.9", "test") == "faces"
    )
    assert split_owner("faces-gan1", "train") == "faces" and bias_of("faces-bias0.9") == 0.9
    assert variant_block(CONFIG, "faces-k3")["mixing"] == {"split_index": 3}
    assert CONFIG["datasets"]["faces"]["mixing"] == {"split_index": 5}
    assert gan_seed(CONFIG, "faces-k3") == 7
    gan_names = re.compile(wildcard_pattern(["faces"], "gan"))
    assert gan_names.fullmatch("faces-gan2") and not gan_names.fullmatch("faces-bias0.9")
    assert re.compile(wildcard_pattern(["faces"], "bias")).fullmatch("faces-bias0.95")
    with pytest.raises(ValueError, match="not a bias variant"):
        bias_of("faces-k3")
