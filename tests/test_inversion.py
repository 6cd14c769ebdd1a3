"""Encoder shapes/checkpoints, encoder training and resume, inversion with refinement, PSNR."""

import copy
import json
import math

import pytest
import torch

from admixlib.inversion import (
    Encoder,
    EncoderRecipe,
    invert_images,
    load_encoder,
    optimise_to_psnr,
    psnr,
    refine,
    refine_psnr_curve,
    save_encoder,
    train_encoder,
)
from admixlib.inversion.train import feature_loss, mix_at_random_layers
from admixlib.runtime import RunFiles, training_module
from admixlib.stylegan import Discriminator, Generator

TINY = dict(z_dim=16, w_dim=16, mapping_layers=2, resolution=16, channels={4: 32, 8: 16, 16: 16})
ENC = dict(channels={16: 16, 8: 32, 4: 32}, hidden=64)


@pytest.fixture(scope="module")
def tiny_g():
    torch.manual_seed(0)
    G = Generator(**TINY)
    G.train()
    with torch.no_grad():
        for _ in range(20):  # settle w_avg near the mean of w
            G.sample_ws(64)
    return G.eval().requires_grad_(False)


def samples(G, n, seed):
    with torch.no_grad():
        ws = G.sample_ws(n, mixing_prob=0.9, generator=torch.Generator().manual_seed(seed))
        return G.synthesis(ws)


def test_encoder_shapes_and_round_trip(tmp_path, tiny_g):
    E = Encoder(resolution=16, num_ws=tiny_g.num_ws, w_dim=16, w_avg=tiny_g.w_avg, **ENC)
    x = torch.rand(5, 3, 16, 16) * 2 - 1
    ws = E(x)
    assert ws.shape == (5, tiny_g.num_ws, 16)
    torch.testing.assert_close(ws, tiny_g.w_avg.expand_as(ws))  # starts at the mean code
    with torch.no_grad():
        E.head[-1].weight.normal_()
    save_encoder(E, tmp_path / "e.pt")
    F = load_encoder(tmp_path / "e.pt")
    assert not F.training and torch.equal(F(x), E(x).detach())
    (tmp_path / "bad.pt").write_bytes(b"\x00" * 10)
    with pytest.raises(RuntimeError, match="corrupt"):
        load_encoder(tmp_path / "bad.pt")


def test_train_encoder_loss_decreases_and_resumes(tmp_path, tiny_g):
    kw = dict(
        recipe=EncoderRecipe(batch_size=16, lr=2e-3, latent_weight=1.0, pixel_weight=1.0, mixing_prob=0.9),
        encoder_kwargs=ENC,
        device="cpu",
        seed=0,
        files=RunFiles(
            tmp_path / "ckpt", tmp_path / "stats.jsonl", checkpoint_every=25, stats_every=5, progress=False
        ),
    )
    E = train_encoder(tiny_g, steps=50, **kw)
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(5, 55, 5))
    first, last = sum(r["loss"] for r in rows[:2]), sum(r["loss"] for r in rows[-2:])
    assert last < 0.8 * first
    assert isinstance(E, Encoder) and not E.training
    ckpt = training_module(torch.load(tmp_path / "ckpt" / "latest.pt", weights_only=True), "E")
    assert ckpt["kwargs"]["num_ws"] == tiny_g.num_ws

    E60 = train_encoder(tiny_g, steps=60, **kw)  # resumes at 50
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 60 and len(rows) == 12
    assert torch.load(tmp_path / "ckpt" / "latest.pt", weights_only=True)["step"] == 60
    assert not torch.equal(E60.head[-1].weight, E.head[-1].weight)

    other = copy.deepcopy(tiny_g)
    other.w_avg += 1.0
    train_encoder(other, steps=5, **kw)  # a checkpoint of another generator is not resumed
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5]


def test_invert_shapes_and_refinement_improves(tiny_g):
    torch.manual_seed(1)
    E = Encoder(resolution=16, num_ws=tiny_g.num_ws, w_dim=16, w_avg=tiny_g.w_avg, **ENC).eval()
    x = samples(tiny_g, 6, seed=5)
    ws0, rec0 = invert_images(tiny_g, E, x, batch_size=4, device="cpu", progress=False)
    assert ws0.shape == (6, tiny_g.num_ws, 16) and ws0.dtype == torch.float32
    assert rec0.shape == x.shape
    ws1, rec1 = invert_images(tiny_g, E, x, refine_steps=30, batch_size=4, device="cpu", progress=False)
    assert psnr(rec1, x).mean() > psnr(rec0, x).mean() + 1.0
    torch.testing.assert_close(tiny_g.synthesis(ws1), rec1)
    assert not any(p.grad is not None for p in tiny_g.parameters())
    ws2, rec2 = invert_images(tiny_g, None, x, refine_steps=30, init="mean", device="cpu", progress=False)
    assert psnr(rec2, x).mean() > psnr(tiny_g.synthesis(tiny_g.w_avg.expand_as(ws2)), x).mean()
    with pytest.raises(ValueError, match="needs refine_steps > 0"):
        invert_images(tiny_g, None, x, init="mean", progress=False)


def test_refine_psnr_curve_starts_at_the_codes_and_records_every_n_steps(tiny_g):
    x = samples(tiny_g, 4, seed=7)
    start = tiny_g.w_avg.expand(4, tiny_g.num_ws, 16).clone()
    curve = refine_psnr_curve(tiny_g, start, x, steps=20, lr=0.1, beta1=0.7, every=5)
    assert [step for step, _ in curve] == [0, 5, 10, 15, 20]
    assert curve[0][1] == pytest.approx(float(psnr(tiny_g.synthesis(start), x).mean()))
    final = refine(tiny_g, start, x, steps=20, lr=0.1, beta1=0.7)
    assert curve[-1][1] == pytest.approx(float(psnr(tiny_g.synthesis(final), x).mean()))
    assert curve[-1][1] > curve[0][1]


def test_refine_reports_every_step_and_uses_beta1(tiny_g):
    x = samples(tiny_g, 4, seed=6)
    start = tiny_g.w_avg.expand(4, tiny_g.num_ws, 16).clone()
    seen = []
    final = refine(tiny_g, start, x, steps=5, lr=0.1, callback=lambda step, ws: seen.append((step, ws)))
    assert [step for step, _ in seen] == [1, 2, 3, 4, 5]
    torch.testing.assert_close(seen[-1][1], final)
    assert not seen[0][1].requires_grad
    other = refine(tiny_g, start, x, steps=5, lr=0.1, beta1=0.5)
    assert not torch.allclose(other, final)  # beta1 reaches Adam


def test_psnr_known_values():
    x = torch.rand(3, 3, 8, 8) * 2 - 1
    assert torch.isinf(psnr(x, x)).all()
    y = x + 0.1  # MSE 0.01 -> 10 log10(4 / 0.01)
    torch.testing.assert_close(psnr(x, y), torch.full((3,), 10 * math.log10(400.0)), atol=1e-3, rtol=0)
    assert psnr(x, y).shape == (3,)


def test_mix_at_random_layers_keeps_first_style_and_takes_donor_last():
    ws = torch.arange(4.0)[:, None, None].expand(4, 5, 2).clone()  # code i is all i
    mixed = mix_at_random_layers(ws, generator=torch.Generator().manual_seed(0))
    assert mixed.shape == ws.shape
    torch.testing.assert_close(mixed[:, 0], ws[:, 0])
    torch.testing.assert_close(mixed[:, -1], ws.roll(1, 0)[:, -1])
    # each row switches from its own code to the donor's exactly once
    switches = (mixed[:, 1:, 0] != mixed[:, :-1, 0]).sum(1)
    assert torch.equal(switches, torch.ones(4, dtype=torch.long))


def test_feature_loss_zero_on_identical_and_positive_otherwise():
    torch.manual_seed(0)
    D = Discriminator(resolution=16, channels={4: 8, 8: 8, 16: 8}).eval().requires_grad_(False)
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    assert feature_loss(D, x, x).item() == 0.0
    y = (x + 0.3 * torch.randn_like(x)).requires_grad_(True)
    loss = feature_loss(D, y, x)
    loss.backward()
    assert loss.item() > 0 and y.grad is not None and y.grad.abs().sum() > 0


def test_train_encoder_with_feature_and_mixing_losses(tmp_path, tiny_g):
    D = Discriminator(resolution=16, channels=TINY["channels"])
    kw = dict(
        encoder_kwargs=ENC,
        files=RunFiles(tmp_path / "c", tmp_path / "s.jsonl", stats_every=2, progress=False),
    )
    recipe = EncoderRecipe(batch_size=8, feature_weight=1.0, mixing_weight=1.0)
    with pytest.raises(ValueError, match="discriminator"):
        train_encoder(tiny_g, steps=2, recipe=recipe, **kw)
    train_encoder(
        tiny_g,
        steps=4,
        recipe=recipe,
        discriminator=D,
        **kw,
    )
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert all(r["feature_mse"] > 0 and r["mixing_mse"] > 0 for r in rows)
    weights = {"latent_mse": recipe.latent_weight, "pixel_mse": recipe.pixel_weight, "feature_mse": 1.0}
    weights |= {"mixing_mse": 1.0, "real_loss": recipe.real_weight}
    for r in rows:  # each loss enters the training loss with its weight
        assert r["loss"] == pytest.approx(sum(w * r[key] for key, w in weights.items()), rel=1e-5)


def test_optimise_to_psnr_stops_at_the_target(tiny_g):
    with torch.no_grad():
        x = tiny_g.synthesis(tiny_g.sample_ws(4, generator=torch.Generator().manual_seed(5)))
        start = float(psnr(x, tiny_g.synthesis(tiny_g.w_avg.expand(4, tiny_g.num_ws, 16))).mean())
    easy = optimise_to_psnr(tiny_g, x, target_psnr=start - 1.0, max_steps=50, lr=0.05)
    assert easy["steps"] == 0 and easy["reached"]
    hard = optimise_to_psnr(tiny_g, x, target_psnr=start + 3.0, max_steps=200, lr=0.05)
    assert hard["reached"] and 0 < hard["steps"] < 200 and hard["psnr"] >= start + 3.0
    never = optimise_to_psnr(tiny_g, x, target_psnr=1e6, max_steps=3, lr=0.05)
    assert never["steps"] == 3 and not never["reached"] and never["seconds"] > 0


def test_train_encoder_in_bf16(tmp_path, tiny_g):
    """bfloat16 autocast (a GPU option, runnable on CPU) gives finite losses and other weights."""
    kw = dict(encoder_kwargs=ENC, steps=3)
    encoders = {}
    for bf16 in (False, True):
        stats = tmp_path / f"s{bf16}.jsonl"
        encoders[bf16] = train_encoder(
            tiny_g, recipe=EncoderRecipe(batch_size=8, bf16=bf16),
            files=RunFiles(tmp_path / str(bf16), stats, stats_every=1, progress=False), **kw,
        )  # fmt: skip
        assert all(math.isfinite(json.loads(line)["loss"]) for line in stats.read_text().splitlines())
    assert EncoderRecipe.from_config({"bf16": True}).bf16
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert not torch.allclose(encoders[True](x), encoders[False](x), atol=1e-6)
