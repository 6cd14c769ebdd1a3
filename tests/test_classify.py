"""Tests of the classifier, the one training loop (every method, checkpoint/resume) and evaluation."""

import copy
import json
from dataclasses import replace

import pandas as pd
import pytest
import torch
from torch import nn

from admixlib.classify import (
    ClassifierRecipe,
    bias_groups,
    build_classifier,
    evaluate_classifier,
    load_classifier,
    predict_proba,
    robust_correct,
    save_classifier,
    train_classifier,
    variation_metrics,
    worst_group,
)
from admixlib.perturb import (
    Batch,
    LinfBall,
    Perturbation,
    StyleMixSet,
    autoaugment_set,
    colorjitter_set,
    find_worst_case,
)
from admixlib.runtime import RunFiles, torch_generator

N, RES = 24, 16


@pytest.fixture(scope="module")
def data(G):
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(N, G.num_ws, G.w_dim, generator=gen)
    labels = torch.arange(N) % 2
    nuisance = (torch.arange(N) // 2) % 2
    images = (torch.rand(N, 3, RES, RES, generator=gen) * 2 - 1) * 0.5
    images[:, 0] += 0.4 * (2 * labels[:, None, None].float() - 1)
    with torch.no_grad():
        residuals = images - G.synthesis(codes)
    factors = pd.DataFrame({"smiling": labels.numpy(), "skin": nuisance.numpy()})
    return dict(images=images, labels=labels, codes=codes, residuals=residuals, factors=factors)


def common(data, tmp_path, name, steps=3):
    return dict(
        images=data["images"],
        labels=data["labels"],
        codes=data["codes"],
        residuals=data["residuals"],
        num_classes=2,
        steps=steps,
        recipe=ClassifierRecipe(batch_size=8, lr=1e-3, weight_decay=1e-4, width=4),
        device="cpu",
        seed=0,
        files=RunFiles(tmp_path / name, tmp_path / f"{name}.jsonl", checkpoint_every=2, progress=False),
    )


def psets(G, codes):
    return {
        "nominal": None,
        "linf": LinfBall(eps=8 / 255, step_size=2 / 255, steps=2),
        "autoaugment": autoaugment_set(policy="autoaugment"),
        "colorjitter": colorjitter_set(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
        "randmix": StyleMixSet(G, split_index=2, donor_codes=codes, steps=0),
        "advmix": StyleMixSet(G, split_index=2, donor_codes=codes, donors=2, steps=2, step_size=0.3),
    }


@pytest.mark.parametrize("method", ["nominal", "linf", "autoaugment", "colorjitter", "randmix", "advmix"])
def test_train_every_method(G, data, tmp_path, method):
    model = train_classifier(pset=psets(G, data["codes"])[method], lam=0.5, **common(data, tmp_path, method))
    assert not model.training
    ckpt = torch.load(tmp_path / method / "latest.pt", weights_only=True)
    assert ckpt["step"] == 3
    lines = [json.loads(line) for line in (tmp_path / f"{method}.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3]
    assert all(set(r) >= {"loss", "clean_acc", "pert_acc", "seconds"} for r in lines)
    assert (lines[0]["pert_acc"] is None) == (method == "nominal")


def test_lam_zero_trains_on_perturbed_only(G, data, tmp_path):
    train_classifier(pset=psets(G, data["codes"])["linf"], lam=0.0, **common(data, tmp_path, "l0", steps=1))
    (line,) = [json.loads(x) for x in (tmp_path / "l0.jsonl").read_text().splitlines()]
    assert line["clean_acc"] is None and line["pert_acc"] is not None


class Interrupt(Exception):
    pass


class FailingLinf(LinfBall):
    """A LinfBall that raises on its n-th random start, to simulate a killed job."""

    def __init__(self, fail_at, **kwargs):
        super().__init__(**kwargs)
        self.calls, self.fail_at = 0, fail_at

    def __repr__(self):
        return LinfBall.__repr__(self)

    def random_init(self, batch, *, generator):
        self.calls += 1
        if self.calls == self.fail_at:
            raise Interrupt
        return super().random_init(batch, generator=generator)


def test_resume_continues_exactly(data, tmp_path):
    kwargs = dict(eps=8 / 255, step_size=2 / 255, steps=1)
    full = train_classifier(pset=LinfBall(**kwargs), **common(data, tmp_path, "full", steps=5))
    with pytest.raises(Interrupt):
        train_classifier(pset=FailingLinf(4, **kwargs), **common(data, tmp_path, "cut", steps=5))
    assert torch.load(tmp_path / "cut" / "latest.pt", weights_only=True)["step"] == 2
    lines = (tmp_path / "cut.jsonl").read_text().splitlines()
    assert len(lines) == 3  # step 3 was done but not checkpointed
    resumed = train_classifier(pset=LinfBall(**kwargs), **common(data, tmp_path, "cut", steps=5))
    steps = [json.loads(x)["step"] for x in (tmp_path / "cut.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    # a finished checkpoint returns at once with the same weights
    again = train_classifier(pset=LinfBall(**kwargs), **common(data, tmp_path, "cut", steps=5))
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), resumed.state_dict().values()))


def test_save_load_roundtrip(tmp_path):
    model = build_classifier(num_classes=3, width=4)
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    save_classifier(model, tmp_path / "m.pt")
    loaded = load_classifier(tmp_path / "m.pt")
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))
    assert predict_proba(loaded, x, batch_size=2).shape == (5, 3)
    torch.testing.assert_close(predict_proba(loaded, x, batch_size=2).sum(1), torch.ones(5))


def test_evaluate_classifier(G, data):
    torch.manual_seed(0)
    model = build_classifier(num_classes=2, width=4)
    model.train()
    advmix = StyleMixSet(G, split_index=2, donor_codes=data["codes"], donors=2, steps=2, step_size=0.3)
    variations = data["images"][:, None].repeat(1, 2, 1, 1, 1)
    variations[:, 1] = -variations[:, 1]
    result = evaluate_classifier(
        model,
        images=data["images"],
        labels=data["labels"],
        factors=data["factors"],
        label_name="smiling",
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
    no_attack = evaluate_classifier(
        model,
        images=data["images"],
        labels=data["labels"],
        factors=data["factors"],
        label_name="smiling",
        spurious_factor=None,
        batch_size=7,
        device="cpu",
        seed=0,
    )
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


def test_bf16_autocast_trains_in_float32_parameters(G, data, tmp_path):
    advmix = StyleMixSet(G, split_index=3, donor_codes=data["codes"], steps=1, step_size=0.3)
    plain = train_classifier(pset=advmix, lam=0.5, **common(data, tmp_path, "fp32"))
    kw = common(data, tmp_path, "bf16")
    bf16 = train_classifier(pset=advmix, lam=0.5, **kw | {"recipe": replace(kw["recipe"], bf16=True)})
    losses = [json.loads(line)["loss"] for line in (tmp_path / "bf16.jsonl").open()]
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    assert all(p.dtype == torch.float32 for p in bf16.parameters())
    # bf16 rounding changes the arithmetic, so the runs differ (the switch is not a no-op)
    assert any(not torch.equal(a, b) for a, b in zip(plain.parameters(), bf16.parameters(), strict=True))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_compiled_bf16_training_on_cuda(G, data, tmp_path):
    kw = common(data, tmp_path, "cuda") | {"device": "cuda"}
    advmix = StyleMixSet(
        copy.deepcopy(G).cuda(), split_index=3, donor_codes=data["codes"].cuda(), steps=1, step_size=0.3
    )
    kw["recipe"] = replace(kw["recipe"], bf16=True, compile=True)
    model = train_classifier(pset=advmix, lam=0.5, **kw)
    assert next(model.parameters()).is_cuda
    assert all(
        torch.isfinite(torch.tensor(json.loads(line)["loss"])) for line in (tmp_path / "cuda.jsonl").open()
    )
