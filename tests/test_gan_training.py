"""GAN training: statistics, checkpoints and resume, learning-rate schedule, conditional and bf16 runs."""

import json
import math

import pytest
import torch
from test_stylegan import TINY, random_ws

from admixlib.runtime import RunFiles
from admixlib.stylegan import (
    Discriminator,
    GanLoss,
    GanRecipe,
    Generator,
    load_discriminator,
    load_generator,
    save_discriminator,
    save_generator,
    train_generator,
)
from admixlib.stylegan import train as stylegan_train
from admixlib.stylegan.train import lr_scale


def _files(tmp_path, name: str, **every) -> RunFiles:
    """A quiet run's files: checkpoint folder ``name``, stats ``name.jsonl``."""
    return RunFiles(tmp_path / name, tmp_path / f"{name}.jsonl", progress=False, **every)


def test_minibatch_stddev_groups_and_train_passes_the_group_size(tmp_path):
    x = torch.randn(8, 4, 2, 2)
    x[0::2] = x[0]  # groups of 4 interleave (images i, i + 2, ...): the even images show no spread
    small = Discriminator(resolution=16, channels=TINY["channels"], mbstd_group=4).minibatch_stddev(x)
    whole = Discriminator(resolution=16, channels=TINY["channels"], mbstd_group=8).minibatch_stddev(x)
    assert small[0::2, -1].max() < 1e-3 < 0.1 < small[1::2, -1].min()
    assert torch.unique(whole[:, -1]).numel() == 1 and whole[0, -1, 0, 0] > 0.1
    train_generator(
        torch.rand(16, 3, 16, 16) * 2 - 1, generator_kwargs=TINY, steps=1, recipe=GanRecipe(batch_size=8, mbstd_group=8),
        files=RunFiles(tmp_path / "c", tmp_path / "s.jsonl", progress=False),
    )  # fmt: skip
    assert (
        torch.load(tmp_path / "c" / "latest.pt", weights_only=True)["identity"]["D_kwargs"]["mbstd_group"]
        == 8
    )


def test_train_writes_stats_checkpoint_and_resumes(tmp_path):
    images = torch.rand(64, 3, 16, 16) * 2 - 1
    kw = dict(
        generator_kwargs=TINY,
        recipe=GanRecipe(batch_size=8, loss=GanLoss(r1_every=2)),
        device="cpu",
        seed=3,
        files=RunFiles(
            tmp_path / "ckpt", tmp_path / "stats.jsonl", checkpoint_every=3, stats_every=1, progress=False
        ),
        sample_every=3,
        samples_path=tmp_path / "samples_{step}.png",
        mixing_split_index=2,
    )
    G = train_generator(images, steps=3, **kw)
    assert isinstance(G, Generator) and not G.training
    ckpt = torch.load(tmp_path / "ckpt" / "latest.pt", weights_only=True)
    assert ckpt["step"] == 3
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert {"loss_g", "loss_d", "r1", "seconds", "images_seen"} <= set(rows[0])
    assert (tmp_path / "samples_000003.png").is_file() and (tmp_path / "mixing_000003.png").is_file()

    G5 = train_generator(images, steps=5, **kw)  # resumes at step 3
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert torch.load(tmp_path / "ckpt" / "latest.pt", weights_only=True)["step"] == 5

    # the resumed run equals an uninterrupted one
    uncut = RunFiles(tmp_path / "ckpt2", tmp_path / "stats2.jsonl", checkpoint_every=100, progress=False)
    G5b = train_generator(images, steps=5, **dict(kw, files=uncut))
    ws = random_ws(G5)
    with torch.no_grad():
        torch.testing.assert_close(G5.synthesis(ws), G5b.synthesis(ws), atol=1e-4, rtol=0)


def test_path_length_penalty_trains_and_resumes_with_its_running_mean(tmp_path):
    images = torch.rand(32, 3, 16, 16) * 2 - 1
    recipe = GanRecipe(batch_size=8, loss=GanLoss(r1_every=2, pl_weight=2.0, pl_every=2))
    kw = dict(generator_kwargs=TINY, recipe=recipe, seed=4)
    run = dict(files=_files(tmp_path, "a", checkpoint_every=2))
    train_generator(images, steps=2, **kw, **run)
    assert float(torch.load(tmp_path / "a" / "latest.pt", weights_only=True)["state"]["pl_mean"]["value"]) > 0
    resumed = train_generator(images, steps=4, **kw, **run)
    whole = train_generator(images, steps=4, **kw, files=_files(tmp_path, "b"))
    plain = GanRecipe(batch_size=8, loss=GanLoss(r1_every=2))
    off = train_generator(images, steps=4, **dict(kw, recipe=plain), files=_files(tmp_path, "c"))
    ws = random_ws(whole)
    with torch.no_grad():
        torch.testing.assert_close(resumed.synthesis(ws), whole.synthesis(ws), atol=1e-4, rtol=0)
        assert not torch.allclose(off.synthesis(ws), whole.synthesis(ws), atol=1e-4)


def test_interrupted_run_resumes_its_learning_rate_schedule(tmp_path, monkeypatch):
    images = torch.rand(32, 3, 16, 16) * 2 - 1
    recipe = GanRecipe(batch_size=8, lr_decay_start=0.4)
    kw = dict(generator_kwargs=TINY, steps=5, recipe=recipe, seed=1)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    run = dict(files=_files(tmp_path, "a", checkpoint_every=2))
    monkeypatch.setattr(stylegan_train, "sample_grid", interrupt)
    with pytest.raises(KeyboardInterrupt):  # killed at step 3, after the checkpoint of step 2
        train_generator(images, **kw, **run, sample_every=3, samples_path=tmp_path / "s.png")
    monkeypatch.undo()
    resumed = train_generator(images, **kw, **run)
    whole = train_generator(images, **kw, files=_files(tmp_path, "b"))
    ws = random_ws(whole)
    with torch.no_grad():
        torch.testing.assert_close(resumed.synthesis(ws), whole.synthesis(ws), atol=1e-4, rtol=0)


def test_lr_scale_is_constant_then_linear_to_zero():
    assert [lr_scale(s, steps=10, decay_start=0.6) for s in (0, 5, 6, 8, 10)] == [1.0, 1.0, 1.0, 0.5, 0.0]
    assert lr_scale(9, steps=10, decay_start=1.0) == 1.0
    with pytest.raises(ValueError, match="lr_decay_start"):
        lr_scale(0, steps=10, decay_start=0.0)


def test_conditional_generator_and_discriminator_train_and_round_trip(tmp_path):
    images, labels = torch.rand(32, 3, 16, 16) * 2 - 1, torch.randint(0, 2, (32,))
    arch = {**TINY, "num_classes": 2, "class_probs": [0.25, 0.75]}
    kw = dict(
        generator_kwargs=arch,
        steps=2,
        recipe=GanRecipe(batch_size=8),
    )
    with pytest.raises(ValueError, match="one label per image"):
        train_generator(images, labels=labels[:5], files=_files(tmp_path, "a"), **kw)
    with pytest.raises(ValueError, match="num_classes > 0"):
        train_generator(
            images, labels=labels, files=_files(tmp_path, "a"), **{**kw, "generator_kwargs": TINY}
        )
    G = train_generator(images, labels=labels, files=_files(tmp_path, "b"), **kw)
    save_generator(G, tmp_path / "g.pt")
    H = load_generator(tmp_path / "g.pt")
    z = torch.randn(4, TINY["z_dim"])
    assert torch.equal(H.mapping(z), G.mapping(z))

    ckpt = torch.load(tmp_path / "b" / "latest.pt", weights_only=True)
    D = Discriminator(**ckpt["identity"]["D_kwargs"]).eval()
    D.load_state_dict(ckpt["state"]["D"])
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="labels"):
        D(x)
    save_discriminator(D, tmp_path / "d.pt")
    E = load_discriminator(tmp_path / "d.pt")
    assert E.num_classes == 2 and torch.equal(E(x, torch.tensor([0, 1])), D(x, torch.tensor([0, 1])).detach())
    assert not torch.equal(D(x, torch.tensor([0, 0])), D(x, torch.tensor([1, 1])))


def test_latent_modes_train_with_an_unconditional_discriminator(tmp_path):
    """A generator with classes but no labels: its modes come from z, the D never sees a label."""
    images = torch.rand(32, 3, 16, 16) * 2 - 1
    arch = {**TINY, "num_classes": 2, "class_probs": None}
    kw = dict(
        generator_kwargs=arch,
        steps=2,
        recipe=GanRecipe(batch_size=8),
    )
    G = train_generator(images, files=_files(tmp_path, "m"), **kw)
    ckpt = torch.load(tmp_path / "m" / "latest.pt", weights_only=True)
    assert "num_classes" not in ckpt["identity"]["D_kwargs"]
    z = torch.randn(4000, TINY["z_dim"])
    assert abs(G.mapping.labels_of(z).float().mean().item() - 0.5) < 0.05
    with torch.no_grad():  # the mode is an input: flipping it changes w
        assert not torch.allclose(
            G.mapping(z[:4], torch.zeros(4, dtype=torch.long)),
            G.mapping(z[:4], torch.ones(4, dtype=torch.long)),
        )


def test_bf16_and_flips_are_options_of_gan_training(tmp_path):
    """bfloat16 autocast (a GPU option, runnable on CPU) trains to finite losses and other weights;
    flips change what D sees; both reach the recipe from a config block."""
    images = torch.rand(16, 3, 16, 16) * 2 - 1
    kw = dict(generator_kwargs=TINY, steps=2, seed=0)
    runs = {}
    for name, recipe in {
        "fp32": GanRecipe(batch_size=8, loss=GanLoss(r1_every=1)),
        "bf16": GanRecipe(batch_size=8, bf16=True, loss=GanLoss(r1_every=1)),
        "flip": GanRecipe(batch_size=8, flip=True, loss=GanLoss(r1_every=1)),
    }.items():
        runs[name] = train_generator(images, recipe=recipe, **kw, files=_files(tmp_path, name, stats_every=1))
        rows = [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
        assert all(math.isfinite(r["loss_g"]) and math.isfinite(r["r1"]) for r in rows), name
    ws = random_ws(runs["fp32"])
    with torch.no_grad():
        reference = runs["fp32"].synthesis(ws)
        for name in ("bf16", "flip"):
            assert not torch.allclose(runs[name].synthesis(ws), reference, atol=1e-5), name
    recipe = GanRecipe.from_config({"bf16": True, "flip": True, "batch_size": 4})
    assert recipe.bf16 and recipe.flip and recipe.batch_size == 4
