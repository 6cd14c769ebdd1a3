"""Tests of the classifier and the one training loop (every method, checkpoint/resume)."""

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from admixlib.classify import (
    ClassifierRecipe,
    build_classifier,
    load_classifier,
    predict_proba,
    save_classifier,
    train_classifier,
)
from admixlib.configcheck import METHODS
from admixlib.perturb import (
    LinfBall,
    StyleMixSet,
    autoaugment_set,
    colorjitter_set,
)
from admixlib.runtime import RunFiles
from admixlib.stages.classifier import build_pset
from admixlib.stylegan import save_generator


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


@pytest.mark.parametrize("method", METHODS)
def test_build_pset_builds_every_known_method_from_its_config_block(G, data, tmp_path, method):
    """A name in METHODS without a branch in build_pset (or whose block lacks a key it reads) fails."""
    config = yaml.safe_load((Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    save_generator(G, tmp_path / "G.pt")
    torch.save({"images": data["images"][None]}, tmp_path / "resampled.pt")
    pset = build_pset(
        method, config["methods"][method], generator_path=tmp_path / "G.pt", donor_codes=data["codes"],
        mixing={"split_index": 2, "add_residual": True}, device="cpu", resampled_path=tmp_path / "resampled.pt",
    )  # fmt: skip
    assert (pset is None) == method.startswith("nominal")
    assert "lam" in config["methods"][method]  # the training loop reads it for every method


def test_build_pset_names_the_method_it_has_no_branch_for():
    with pytest.raises(ValueError, match="no branch for method 'mixup'"):
        build_pset("mixup", {}, generator_path=None, donor_codes=None, mixing={}, device="cpu")
