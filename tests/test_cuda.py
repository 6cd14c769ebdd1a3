"""The GPU paths: GAN, encoder and classifier training with resume, inversion and evaluation on CUDA,
each against the same computation on the CPU. Skipped on a machine without CUDA."""

import copy
import shutil

import pandas as pd
import pytest
import torch

from admixlib.classify import ClassifierRecipe, evaluate_classifier, train_classifier
from admixlib.inversion import EncoderRecipe, invert_images, train_encoder
from admixlib.perturb import LinfBall, StyleMixSet
from admixlib.runtime import RunFiles, TrainingState
from admixlib.stylegan import GanRecipe, train_generator
from admixlib.stylegan.layers import upsample_bilinear

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

TINY = dict(z_dim=16, w_dim=16, mapping_layers=2, resolution=16, channels={4: 32, 8: 16, 16: 16})
PALETTE = dict(torgb="palette", palette_size=3, palette_bank=2, palette_supersample=2)


def _images(n: int = 32) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _gan(tmp_path, name: str, steps: int, device: str):
    return train_generator(
        _images(), generator_kwargs={**TINY, **PALETTE}, steps=steps, recipe=GanRecipe(batch_size=8),
        device=device, seed=0,
        files=RunFiles(tmp_path / name, tmp_path / f"{name}.jsonl", checkpoint_every=2, progress=False),
    )  # fmt: skip


def test_gan_trains_resumes_and_loads_on_cuda(tmp_path):
    whole = _gan(tmp_path, "whole", 4, "cuda")
    _gan(tmp_path, "cut", 2, "cuda")
    resumed = _gan(tmp_path, "cut", 4, "cuda")  # from the checkpoint of step 2, CUDA RNG state included
    assert next(resumed.parameters()).is_cuda
    ws = resumed.mix_ws(torch.randn(4, TINY["z_dim"], device="cuda"), update_w_avg=False)
    with torch.no_grad():
        torch.testing.assert_close(resumed.synthesis(ws), whole.synthesis(ws), atol=1e-4, rtol=0)
        on_cpu = copy.deepcopy(whole).cpu()  # the same weights draw the same images on the CPU
        torch.testing.assert_close(on_cpu.synthesis(ws.cpu()), whole.synthesis(ws).cpu(), atol=1e-3, rtol=0)


def test_encoder_and_inversion_on_cuda(tmp_path):
    G = _gan(tmp_path, "g", 2, "cuda")
    recipe = EncoderRecipe(batch_size=8, mixing_weight=1.0, real_weight=1.0)
    E = train_encoder(
        G, steps=3, recipe=recipe, real_images=_images(), device="cuda",
        files=RunFiles(tmp_path / "e", tmp_path / "e.jsonl", progress=False),
    )  # fmt: skip
    ws, recon = invert_images(G, E, _images(6), refine_steps=2, batch_size=4, device="cuda", progress=False)
    assert ws.shape == (6, G.num_ws, TINY["w_dim"]) and recon.shape == (6, 3, 16, 16)
    assert torch.isfinite(ws).all() and torch.isfinite(recon).all()


def test_advmix_training_and_evaluation_on_cuda_match_the_cpu(G, tmp_path):
    n = 16
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(n, G.num_ws, G.w_dim, generator=gen)
    labels = torch.arange(n) % 2
    with torch.no_grad():
        images = G.synthesis(codes).clamp(-1, 1)
    factors = pd.DataFrame({"smiling": labels.numpy(), "skin": ((torch.arange(n) // 2) % 2).numpy()})
    results = {}
    for device in ("cpu", "cuda"):
        advmix = StyleMixSet(
            copy.deepcopy(G).to(device),
            split_index=3,
            donor_codes=codes.to(device),
            steps=1,
            add_residual=False,
        )
        model = train_classifier(
            images=images, labels=labels, codes=codes, num_classes=2, pset=advmix, lam=0.5, steps=3,
            recipe=ClassifierRecipe(batch_size=8, width=4), device=device,
            files=RunFiles(tmp_path / device, progress=False),
        )  # fmt: skip
        results[device] = evaluate_classifier(
            model, images=images, labels=labels, factors=factors, label_name="smiling", spurious_factor="skin",
            advmix_set=advmix, linf_set=LinfBall(eps=2 / 255, step_size=1 / 255, steps=2), codes=codes,
            device=device,
        )  # fmt: skip
    assert next(model.parameters()).is_cuda
    for key in ("clean_acc", "advmix_attack_acc", "linf_attack_acc"):  # a prediction may flip at a tie
        assert abs(results["cuda"][key] - results["cpu"][key]) <= 2 / n, key


def test_classifier_resumes_in_the_middle_of_an_epoch_on_cuda(tmp_path, monkeypatch):
    """The resumed data order indexes the CPU images (a checkpoint loaded onto the GPU moved it there)."""

    def train(name):
        return train_classifier(
            images=_images(), labels=torch.arange(32) % 2, num_classes=2, pset=LinfBall(eps=0.01, step_size=0.01, steps=1),
            lam=0.5, steps=4, recipe=ClassifierRecipe(batch_size=8, width=4), device="cuda", seed=0,
            files=RunFiles(tmp_path / name, checkpoint_every=2, progress=False),
        )  # fmt: skip

    save = TrainingState.save

    def save_and_keep_step_2(
        state,
    ):  # the checkpoint a job killed at step 3 leaves, half way through the epoch
        save(state)
        if state.step == 2:
            shutil.copytree(state.path.parent, tmp_path / "cut")

    monkeypatch.setattr(TrainingState, "save", save_and_keep_step_2)
    whole = train("whole")
    monkeypatch.undo()
    resumed = train("cut")
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_upsampling_is_deterministic_on_cuda():
    """torch's bilinear backward has no deterministic CUDA kernel: with deterministic algorithms on,
    the generator's upsampling must neither raise nor vary, and must still be bilinear."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)  # not warn_only: a nondeterministic kernel raises
    try:
        x = torch.randn(4, 8, 8, 8, device="cuda", requires_grad=True)
        grads = [torch.autograd.grad(upsample_bilinear(x, 2).square().sum(), x)[0] for _ in range(2)]
        assert torch.equal(*grads)
        expected = torch.nn.functional.interpolate(x.detach(), scale_factor=2, mode="bilinear")
        torch.testing.assert_close(upsample_bilinear(x.detach(), 2), expected)
    finally:
        torch.use_deterministic_algorithms(before)
