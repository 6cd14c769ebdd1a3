"""Generator/discriminator shapes, the run_until/run_from split, checkpoints and GAN training/resume."""

import copy
import json
import math

import pytest
import torch

from admixlib.runtime import RunFiles
from admixlib.stylegan import (
    ChannelMix,
    Discriminator,
    GanLoss,
    GanRecipe,
    Generator,
    load_discriminator,
    load_generator,
    mixing_grid,
    sample_grid,
    save_discriminator,
    save_generator,
    train_generator,
)
from admixlib.stylegan import train as stylegan_train
from admixlib.stylegan.layers import ModulatedConv2d
from admixlib.stylegan.train import lr_scale

TINY = dict(z_dim=16, w_dim=16, mapping_layers=2, resolution=16, channels={4: 32, 8: 16, 16: 16})


def tiny_generator(torgb="skip", seed=0):
    torch.manual_seed(seed)
    G = Generator(**TINY, torgb=torgb).eval()
    # give the noise strengths a non-zero value so noise handling is exercised
    with torch.no_grad():
        for conv in G.synthesis.convs:
            conv.noise.strength.fill_(0.3)
    return G


def random_ws(G, n=3, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, G.num_ws, G.w_dim, generator=gen)


def _files(tmp_path, name: str, **every) -> RunFiles:
    """A quiet run's files: checkpoint folder ``name``, stats ``name.jsonl``."""
    return RunFiles(tmp_path / name, tmp_path / f"{name}.jsonl", progress=False, **every)


@pytest.mark.parametrize("torgb", ["skip", "final", "palette"])
def test_networks_are_channels_last_with_the_values_of_contiguous_ones(torgb):
    G, D = tiny_generator(torgb), Discriminator(resolution=16, channels=TINY["channels"])
    for net in (G, D):
        weights = [p for p in net.parameters() if p.ndim == 4]
        assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    ws = random_ws(G)
    images = G.synthesis(ws)
    plain = [net.to(memory_format=torch.contiguous_format) for net in (G, D)]
    assert not plain[0].synthesis.convs[0].conv.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(images, plain[0].synthesis(ws), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(D(images), plain[1](images), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("torgb", ["skip", "final", "palette"])
def test_shapes_and_num_ws(torgb):
    G = tiny_generator(torgb)
    assert G.num_ws == 6  # convs 4, 8, 8, 16, 16 plus the final to-RGB
    assert Generator(torgb=torgb).num_ws == 8  # the 32x32 default
    w = G.mapping(torch.randn(5, 16))
    assert w.shape == (5, 16)
    img = G.synthesis(random_ws(G, 5))
    assert img.shape == (5, 3, 16, 16)
    assert G(4, mixing_prob=0.9).shape == (4, 3, 16, 16)
    img_z, ws_z = G(torch.randn(4, 16), mixing_prob=1.0, return_ws=True)
    assert img_z.shape == (4, 3, 16, 16) and ws_z.shape == (4, G.num_ws, 16)
    assert Discriminator(resolution=16, channels=TINY["channels"])(img).shape == (5,)


@pytest.mark.parametrize("torgb", ["skip", "final", "palette"])
@pytest.mark.parametrize("noise_mode", ["const", "none"])
def test_run_until_run_from_matches_synthesis(torgb, noise_mode):
    G = tiny_generator(torgb)
    ws = random_ws(G)
    with torch.no_grad():
        full = G.synthesis(ws, noise_mode=noise_mode)
        for k in range(G.num_ws + 1):
            state = G.synthesis.run_until(ws, k, noise_mode=noise_mode)
            assert isinstance(state, tuple) and all(s.shape[0] == 3 for s in state)
            out = G.synthesis.run_from(state, ws, k, noise_mode=noise_mode)
            torch.testing.assert_close(out, full, atol=1e-5, rtol=0)


def test_run_from_reads_only_fine_styles():
    G = tiny_generator()
    ws = random_ws(G)
    with torch.no_grad():
        for k in range(G.num_ws + 1):
            state = G.synthesis.run_until(ws, k)
            other = ws.clone()
            other[:, :k] = torch.randn_like(other[:, :k])
            assert torch.equal(G.synthesis.run_from(state, ws, k), G.synthesis.run_from(state, other, k))
        # the state can be indexed and concatenated along the batch
        state = G.synthesis.run_until(ws, 2)
        sub = tuple(torch.cat([s[2:], s[:1]]) for s in state)
        out = G.synthesis.run_from(sub, torch.cat([ws[2:], ws[:1]]), 2)
        torch.testing.assert_close(out, G.synthesis(ws)[[2, 0]], atol=1e-5, rtol=0)


def test_channel_mix_takes_masked_channels_from_the_other_code():
    G = tiny_generator("palette")  # every conv style drives its conv only
    ws, other = random_ws(G, seed=1), random_ws(G, seed=2)
    layer = 3
    channels = G.synthesis.convs[layer].conv.weight.shape[1]
    with torch.no_grad():
        plain = G.synthesis(ws)
        none = G.synthesis(ws, channel_mix=ChannelMix(layer, torch.zeros(channels), other[:, layer]))
        swapped = ws.clone()
        swapped[:, layer] = other[:, layer]
        every = G.synthesis(ws, channel_mix=ChannelMix(layer, torch.ones(channels), other[:, layer]))
        half = torch.zeros(channels)
        half[: channels // 2] = 1.0
        some = G.synthesis(ws, channel_mix=ChannelMix(layer, half, other[:, layer]))
        state = G.synthesis.run_until(ws, layer)
        resumed = G.synthesis.run_from(state, ws, layer, channel_mix=ChannelMix(layer, half, other[:, layer]))
    torch.testing.assert_close(none, plain, atol=1e-6, rtol=0)
    torch.testing.assert_close(every, G.synthesis(swapped), atol=1e-5, rtol=0)
    assert not torch.allclose(some, plain, atol=1e-3) and not torch.allclose(some, every, atol=1e-3)
    torch.testing.assert_close(resumed, some, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="channel_mix"):
        G.synthesis(ws, channel_mix=ChannelMix(layer, torch.ones(channels + 1), other[:, layer]))
    with pytest.raises(ValueError, match="channel_mix.layer"):
        G.synthesis.run_from(state, ws, layer, channel_mix=ChannelMix(layer - 1, half, other[:, layer]))


def test_channel_mix_moves_exactly_the_masked_channels_scales():
    """A modulated conv under a 0/1 mask is the same conv whose per-channel scales are the other
    code's where the mask is 1 and its own code's elsewhere, channel by channel."""
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 4, 3, w_dim=8)
    x, w, other = torch.randn(2, 6, 5, 5), torch.randn(2, 8), torch.randn(2, 8)
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 1.0])

    class Spliced(torch.nn.Module):  # the affine layer's scales, spliced by hand
        def forward(self, _w):
            return torch.where(mask.bool(), conv.affine(other), conv.affine(w))

    by_hand = copy.deepcopy(conv)
    by_hand.affine = Spliced()
    with torch.no_grad():
        torch.testing.assert_close(conv(x, w, channel_mix=(mask, other)), by_hand(x, w), atol=1e-6, rtol=0)


def test_mixing_changes_fine_styles_only():
    G = tiny_generator()
    ws = G.sample_ws(64, mixing_prob=1.0, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(ws[:, 0], ws[:, -1])  # every sample is mixed somewhere after style 0
    assert torch.allclose(ws[:, 0], G.sample_ws(64, generator=torch.Generator().manual_seed(0))[:, 0])


def test_noise_modes():
    G = tiny_generator()
    ws = random_ws(G)
    with torch.no_grad():
        assert torch.equal(G.synthesis(ws), G.synthesis(ws))
        assert not torch.equal(G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="random"))
        with pytest.raises(ValueError, match="noise_mode must be one of"):
            G.synthesis(ws, noise_mode="bogus")


def test_save_load_round_trip(tmp_path):
    G = tiny_generator("final")
    G.w_avg.normal_()
    path = tmp_path / "g.pt"
    save_generator(G, path)
    H = load_generator(path)
    assert not H.training and not any(p.requires_grad for p in H.parameters())
    assert H.kwargs == G.kwargs and torch.equal(H.w_avg, G.w_avg)
    ws = random_ws(G)
    with torch.no_grad():
        assert torch.equal(H.synthesis(ws), G.synthesis(ws))
    assert torch.load(path, weights_only=True)["kwargs"]["torgb"] == "final"


def test_load_corrupt_or_missing_gives_clear_error(tmp_path):
    path = tmp_path / "g.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="corrupt"):
        load_generator(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_generator(tmp_path / "missing.pt")


def test_discriminator_features_and_round_trip(tmp_path):
    torch.manual_seed(0)
    D = Discriminator(resolution=16, channels=TINY["channels"]).eval()
    feats = D.features(torch.rand(2, 3, 16, 16))
    assert [tuple(f.shape) for f in feats] == [(2, 16, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4)]
    save_discriminator(D, tmp_path / "d.pt")
    E = load_discriminator(tmp_path / "d.pt")
    x = torch.rand(3, 3, 16, 16)
    assert torch.equal(E(x), D(x).detach()) and not E.training
    (tmp_path / "bad.pt").write_bytes(b"\x00" * 10)
    with pytest.raises(RuntimeError, match="bad.pt"):
        load_discriminator(tmp_path / "bad.pt")


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


def test_grids(tmp_path):
    G = tiny_generator()
    img = sample_grid(G, n=4, seed=0, path=tmp_path / "s.png")
    assert img.shape == (4, 3, 16, 16) and (tmp_path / "s.png").is_file()
    grid = mixing_grid(G, split_index=2, n=3, seed=0, path=tmp_path / "m.png")
    assert grid.shape == (16, 3, 16, 16) and (tmp_path / "m.png").is_file()


def test_conditional_mapping_draws_classes_at_their_rates_from_the_latent():
    torch.manual_seed(0)
    G = Generator(**TINY, num_classes=3, class_probs=[0.2, 0.3, 0.5]).eval()
    z = torch.randn(20_000, TINY["z_dim"])
    labels = G.mapping.labels_of(z)
    shares = torch.bincount(labels, minlength=3) / len(z)
    torch.testing.assert_close(shares, torch.tensor([0.2, 0.3, 0.5]), atol=0.02, rtol=0)
    with torch.no_grad():
        w = G.mapping(z[:8])
        assert torch.equal(w, G.mapping(z[:8], labels[:8]))  # no label given = the latent's label
        assert not torch.allclose(w, G.mapping(z[:8], (labels[:8] + 1) % 3))
    assert Generator(**TINY).mapping.labels_of(z) is None
    with pytest.raises(ValueError, match="class_probs"):
        Generator(**TINY, num_classes=2, class_probs=[0.5, 0.6])


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
