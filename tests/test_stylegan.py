"""Generator/discriminator shapes, the run_until/run_from split, checkpoints and grids."""

import pytest
import torch
import torch.nn.functional as F

from admixlib.stylegan import (
    Discriminator,
    Generator,
    load_discriminator,
    load_generator,
    mixing_grid,
    sample_grid,
    save_discriminator,
    save_generator,
)
from admixlib.stylegan.layers import bilinear_by_shifts, upsample_bilinear

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


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (1, 2, 1, 5)])
def test_bilinear_by_shifts_is_torch_bilinear_forward_and_backward(factor, shape):
    """The deterministic CUDA path (shifts and sums) computes torch's bilinear upsampling and its
    gradient: only the kernel differs."""
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    ours, theirs = bilinear_by_shifts(x, factor), F.interpolate(x, scale_factor=factor, mode="bilinear")
    grad = torch.randn_like(theirs)
    assert torch.allclose(ours, theirs, atol=1e-12)
    assert torch.allclose(*(torch.autograd.grad(y, x, grad)[0] for y in (ours, theirs)), atol=1e-12)
    assert torch.equal(upsample_bilinear(x, factor), theirs)  # off CUDA, torch's own kernel
