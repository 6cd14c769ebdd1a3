"""How strongly nominal training takes the shortcut on procedural faces, per smile size, bias and factor.

    python benchmarks/tuning/shortcut.py [--config config/config.yaml] [--bias 0.95 0.98] [--seeds 0 1 2]

For each smile size (mouth-corner heights in 32-px units), bias and spurious factor, trains the
configured classifier nominally on ``n_train`` biased faces and scores it on 1,000 unbiased faces.
Writes results/benchmarks/shortcut.csv with columns smile, frown, bias, spurious_factor, seed,
clean_acc, worst_group_acc. It is the measurement behind the faces' default smile size and bias
(docs/science.md): a shortcut exists only where nominal accuracy falls well below 1.
"""

import argparse
from pathlib import Path

import pandas as pd
import torch
import yaml

from admixlib.classify import ClassifierRecipe, factor_groups, group_accuracy, predict_proba, train_classifier
from admixlib.data import FACE_FACTORS, faces
from admixlib.perturb.augment import from_uint8
from admixlib.runtime import configure_cpu

# (smile, frown): the old default, the current default, and a smaller smile
SMILE_SIZES = [((4.5, 5.5), (-3.5, -2.5)), ((1.0, 2.5), (-2.0, -0.5)), ((0.5, 1.5), (-1.0, 0.0))]


def nominal_scores(*, smile, frown, bias, factor, seed, data_cfg, classifier_cfg) -> dict:
    """Train one nominal classifier on biased faces drawn with the given smile; score it unbiased."""
    faces.SMILE_DEPTH, faces.FROWN_DEPTH = smile, frown
    res = data_cfg["resolution"]
    x_train, f_train = faces.make_faces(
        n=data_cfg["n_train"], bias=bias, spurious_factor=factor, seed=data_cfg["seed"] + 1, resolution=res
    )
    x_test, f_test = faces.make_faces(
        n=1000, bias=None, spurious_factor=None, seed=data_cfg["seed"] + 2, resolution=res
    )
    model = train_classifier(
        images=from_uint8(x_train),
        labels=torch.from_numpy(f_train["smiling"].to_numpy()),
        num_classes=2,
        steps=classifier_cfg["steps"],
        recipe=ClassifierRecipe.from_config(classifier_cfg),
        seed=seed,
    )
    pred = predict_proba(model, from_uint8(x_test)).argmax(1)
    correct = pred == torch.from_numpy(f_test["smiling"].to_numpy())
    groups, _ = group_accuracy(correct, factor_groups(f_test, label_name="smiling", spurious_factor=factor))
    return {"clean_acc": float(correct.float().mean()), "worst_group_acc": min(groups.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--bias", type=float, nargs="+", default=[0.95, 0.98])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="results/benchmarks/shortcut.csv")
    args = parser.parse_args()
    configure_cpu(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    data_cfg, classifier_cfg = config["datasets"]["faces"]["data"], config["classifier"]
    rows = []
    for smile, frown in SMILE_SIZES:
        for bias in args.bias:
            for factor in FACE_FACTORS:
                for seed in args.seeds:
                    scores = nominal_scores(
                        smile=smile, frown=frown, bias=bias, factor=factor, seed=seed,
                        data_cfg=data_cfg, classifier_cfg=classifier_cfg,
                    )  # fmt: skip
                    rows.append({"smile": smile, "frown": frown, "bias": bias, "spurious_factor": factor,
                                 "seed": seed, **scores})  # fmt: skip
                    print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False, float_format="%.4f")
    summary = frame.groupby(["smile", "bias", "spurious_factor"])[["clean_acc", "worst_group_acc"]].mean()
    print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
