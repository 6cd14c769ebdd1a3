"""Tests of evaluation: clean, group and attack accuracies, consistency under fine-style variations."""

import pandas as pd
import pytest
import torch
from conftest import N
from torch import nn

from admixlib.classify import (
    bias_groups,
    build_classifier,
    evaluate_classifier,
    robust_correct,
    variation_metrics,
    worst_group,
)
from admixlib.perturb import Batch, LinfBall, Perturbation, StyleMixSet, find_worst_case
from admixlib.runtime import torch_generator


def test_evaluate_classifier(G, data):
    torch.manual_seed(0)
    model = build_classifier(num_classes=2, width=4)
    model.train()
    advmix = StyleMixSet(G, split_index=2, donor_codes=data["codes"], donors=2, steps=2, step_size=0.3)
    variations = data["images"][:, None].repeat(1, 2, 1, 1, 1)
    variations[:, 1] = -variations[:, 1]
    inputs = dict(images=data["images"], labels=data["labels"], factors=data["factors"], label_name="smiling")
    result = evaluate_classifier(
        model,
        **inputs,
        spurious_factor="skin",
        advmix_set=advmix,
        advmix_restarts=2,
        linf_set=LinfBall(eps=8 / 255, step_size=2 / 255, steps=2),
        codes=data["codes"],
        residuals=data["residuals"],
        variations=variations,
        batch_size=10,
        device="cpu",
        seed=0,
    )
    assert model.training  # mode restored
    assert 0.0 <= result["consistency"] <= 1.0
    # on the same images, no accuracy exceeds the clean one
    for key in ("worst_group_acc", "advmix_attack_acc", "linf_attack_acc", "consistent_acc"):
        assert 0.0 <= result[key] <= result["clean_acc"] <= 1.0
    assert set(result["group_acc"]) == {f"label={a}|factor={b}" for a in (0, 1) for b in (0, 1)}
    assert set(result["bias_group_acc"]) == {
        f"label={a}|{k}" for a in (0, 1) for k in ("aligned", "conflicting")
    }
    assert sum(result["group_count"].values()) == result["n_test"] == N
    assert result["worst_group_acc"] == min(result["bias_group_acc"].values())
    # the attack accuracies are robust_correct's, with the seeds evaluate_classifier documents
    model.eval()
    common = dict(images=data["images"], labels=data["labels"], batch_size=10, device=torch.device("cpu"))
    advmix_robust = robust_correct(
        model, advmix, codes=data["codes"], residuals=data["residuals"], restarts=2,
        generator=torch_generator(0), **common,
    )  # fmt: skip
    linf_robust = robust_correct(
        model, LinfBall(eps=8 / 255, step_size=2 / 255, steps=2), codes=None, residuals=None, restarts=1,
        generator=torch_generator(1), **common,
    )  # fmt: skip
    model.train()
    assert result["advmix_attack_acc"] == float(advmix_robust.float().mean())
    assert result["linf_attack_acc"] == float(linf_robust.float().mean())
    no_attack = evaluate_classifier(model, **inputs, spurious_factor=None, batch_size=7, device="cpu", seed=0)
    assert no_attack["advmix_attack_acc"] is None and no_attack["consistency"] is None
    assert no_attack["clean_acc"] == result["clean_acc"]
    assert set(no_attack["group_acc"]) == {"label=0", "label=1"}


class _ByMeanColour(nn.Module):
    """Predicts class 1 where an image's mean red channel is positive."""

    def forward(self, x):
        red = x[:, 0].mean(dim=(1, 2))
        return torch.stack([-red, red], dim=1)


class _Constant(nn.Module):
    """Predicts ``cls`` for every image."""

    def __init__(self, cls: int):
        super().__init__()
        self.cls = cls

    def forward(self, x):
        return nn.functional.one_hot(torch.full((len(x),), self.cls), 2).float()


def test_consistency_counts_images_that_never_flip_and_consistent_acc_needs_them_right():
    images = torch.full((3, 3, 4, 4), 0.5)
    variations = images[:, None].repeat(1, 4, 1, 1, 1)
    variations[1, 2] = -0.5  # one variation of image 1 flips its prediction
    labels = torch.tensor([1, 1, 0])  # image 2 is predicted 1 everywhere, wrongly
    scores = variation_metrics(_ByMeanColour(), images, labels, variations)
    assert scores["consistency"] == pytest.approx(2 / 3) and scores["consistent_acc"] == pytest.approx(1 / 3)
    assert variation_metrics(_ByMeanColour(), images, labels, images[:, None])["consistency"] == 1.0
    with pytest.raises(ValueError, match="variations"):
        variation_metrics(_ByMeanColour(), images[:2], labels[:2], variations)


def test_a_constant_classifier_is_consistent_but_only_as_accurate_as_its_class_share():
    images = torch.rand(10, 3, 4, 4) * 2 - 1
    variations = torch.rand(10, 5, 3, 4, 4) * 2 - 1
    labels = torch.tensor([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    scores = variation_metrics(_Constant(1), images, labels, variations)
    assert scores["consistency"] == 1.0
    assert scores["consistent_acc"] == pytest.approx(0.3)  # its accuracy: the share of class 1


def test_attack_accuracy_never_exceeds_clean_accuracy_on_the_same_images(G, data):
    torch.manual_seed(1)
    model = build_classifier(num_classes=2, width=4).eval()
    clean = model(data["images"]).argmax(1) == data["labels"]
    sets = {
        "advmix": StyleMixSet(G, split_index=2, donor_codes=data["codes"], donors=2, steps=2, step_size=0.3),
        "randmix": StyleMixSet(G, split_index=2, donor_codes=data["codes"], steps=0),
        "linf": LinfBall(eps=8 / 255, step_size=2 / 255, steps=2),
    }
    for name, pset in sets.items():
        robust = robust_correct(
            model, pset, images=data["images"], labels=data["labels"], codes=data["codes"],
            residuals=data["residuals"], restarts=2, batch_size=10, device=torch.device("cpu"),
            generator=torch.Generator().manual_seed(0),
        )  # fmt: skip
        assert robust.shape == clean.shape
        assert not (robust & ~clean).any(), name  # an image wrong when clean never counts as robust


def _attack_candidates(pset, model, batch, *, restarts, seed) -> list:
    """Every image the attack renders exactly, in order."""
    candidates = []
    find_worst_case(
        pset, model, batch, restarts=restarts, generator=torch.Generator().manual_seed(seed),
        observe=lambda images, _logits: candidates.append(images),
    )  # fmt: skip
    return candidates


def test_robust_correct_judges_each_candidate_as_a_second_model_pass_would(G, data):
    """The attack hands over the logits it computed on each candidate; judging the candidates by a
    fresh pass of the model over the same images gives the same answer, image by image."""
    model = _ByMeanColour()
    sets = {  # the set, its restarts, and the candidates they render
        "advmix": (
            StyleMixSet(G, split_index=2, donor_codes=data["codes"], donors=2, steps=2, step_size=0.3),
            2,
            6,
        ),
        "linf": (LinfBall(eps=0.5, step_size=0.25, steps=2), 2, 6),  # large enough to flip mean colours
        "randmix": (StyleMixSet(G, split_index=2, donor_codes=data["codes"], donors=2, steps=0), 1, 1),
    }
    for name, (pset, restarts, n_candidates) in sets.items():
        batch = Batch(
            images=data["images"], labels=data["labels"], codes=data["codes"], residuals=data["residuals"]
        )
        candidates = _attack_candidates(pset, model, batch, restarts=restarts, seed=0)
        with torch.no_grad():
            expected = torch.stack(
                [model(x).argmax(1) == data["labels"] for x in [data["images"], *candidates]]
            )
        robust = robust_correct(
            model, pset, images=data["images"], labels=data["labels"], codes=data["codes"],
            residuals=data["residuals"], restarts=restarts, batch_size=len(data["images"]),
            device=torch.device("cpu"), generator=torch.Generator().manual_seed(0),
        )  # fmt: skip
        assert len(candidates) == n_candidates, name  # per restart: the start, each ascent iterate, the last
        assert (expected != expected[0]).any(), name  # the attack flips some predictions
        assert torch.equal(robust, expected.all(dim=0)), name


def test_an_image_wrong_when_clean_is_not_robust_even_if_every_candidate_is_right(data):
    """A set whose every candidate is the image negated: the model reads the red channel's sign, and
    the labels are what it predicts on the negated images, so every candidate is right and every clean
    image wrong. None counts as robust."""

    class Negated:
        steps = 1

        def random_init(self, batch, *, generator):
            return Perturbation(delta=torch.zeros(len(batch), 1), context={})

        def project(self, p):
            return p

        def to_image(self, p, batch):
            return -batch.images * (1 + p.delta[:, :, None, None])

        def step(self, p, grad):
            return p

    images = data["images"].clone()
    images[:, 0] = torch.where(images[:, 0].mean(dim=(1, 2), keepdim=True) > 0, 0.5, -0.5)
    labels = _ByMeanColour()(-images).argmax(1)
    robust = robust_correct(
        _ByMeanColour(), Negated(), images=images, labels=labels, codes=None, residuals=None,
        restarts=2, batch_size=8, device=torch.device("cpu"), generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert not robust.any()


def test_worst_group_skips_groups_below_the_minimum_size():
    acc = {"label=0|aligned": 0.0, "label=0|conflicting": 0.8, "label=1|conflicting": 0.6}
    count = {"label=0|aligned": 3, "label=0|conflicting": 40, "label=1|conflicting": 25}
    assert worst_group(acc, count, min_size=20) == (0.6, "label=1|conflicting")
    assert worst_group(acc, count, min_size=1) == (0.0, "label=0|aligned")
    assert worst_group(acc, count, min_size=50) == (None, None)


def test_bias_groups_split_each_label_by_agreement_with_the_spurious_factor():
    factors = pd.DataFrame({"digit": [3, 3, 7, 7], "color": [3, 5, 7, 0]})
    groups = bias_groups(factors, label_name="digit", spurious_factor="color")
    assert groups.tolist() == [
        "label=3|aligned",
        "label=3|conflicting",
        "label=7|aligned",
        "label=7|conflicting",
    ]


def test_consistency_variations_do_not_depend_on_the_chunk_size_and_check_their_settings(G, data, tmp_path):
    from admixlib.runtime import save_atomic
    from admixlib.stages.classifier import load_consistency_variations, render_consistency_variations
    from admixlib.stages.codes import SplitCodes

    with torch.no_grad():
        recon = G.synthesis(data["codes"])
    codes = SplitCodes(ws=data["codes"], recon=recon, psnr=torch.zeros(len(recon)))
    images = data["images"]
    cfg, mixing = {"n_images": len(images) - 1, "variations": 3}, {"split_index": 2, "add_residual": True}
    rendered = [
        render_consistency_variations(
            G,
            images=images,
            codes=codes,
            donor_bank=data["codes"],
            cfg=cfg,
            mixing=mixing,
            batch_size=batch_size,
        )  # fmt: skip
        for batch_size in (3, 7, 1000)
    ]
    assert rendered[0].shape == (len(images) - 1, 3, *images.shape[1:])
    assert rendered[0].abs().max() <= 1
    # the same donors whatever the chunk; only float rounding of the batched convolutions differs
    assert torch.allclose(rendered[0], rendered[1], atol=1e-5)
    assert torch.allclose(rendered[0], rendered[2], atol=1e-5)
    # the residual is added: where the render without it is not clamped, the two differ by it exactly
    plain = render_consistency_variations(
        G, images=images, codes=codes, donor_bank=data["codes"], cfg=cfg,
        mixing={**mixing, "add_residual": False}, batch_size=1000,
    )  # fmt: skip
    residual = (images - recon)[: len(images) - 1, None].expand_as(plain)
    inside = plain.abs() < 0.999
    assert inside.float().mean() > 0.5 and residual.abs().max() > 0.01
    expected = (plain + residual).clamp(-1, 1)
    torch.testing.assert_close(rendered[2][inside], expected[inside], atol=1e-5, rtol=0)

    path = tmp_path / "variations.pt"
    meta = {**cfg, **mixing, "seed": 0}
    save_atomic({"variations": rendered[0], "meta": meta}, path)
    assert torch.equal(load_consistency_variations(path, cfg=cfg, mixing=mixing), rendered[0])
    with pytest.raises(RuntimeError, match="re-run rule consistency_variations"):
        load_consistency_variations(path, cfg=cfg, mixing={**mixing, "split_index": 3})
