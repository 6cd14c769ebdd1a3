"""Tests of the perturbation sets and the worst-case search (tiny sizes, CPU)."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from admixlib.perturb import (
    Batch,
    LinfBall,
    PerturbationSet,
    StyleMixSet,
    autoaugment_set,
    colorjitter_set,
    find_worst_case,
    fine_style_variations,
    mix_styles,
    project_capped_simplex,
    random_coefficients,
)
from admixlib.stylegan import Generator

N, RES = 6, 16


@pytest.fixture(scope="module")
def batch(G):
    gen = torch.Generator().manual_seed(1)
    codes = torch.randn(N, G.num_ws, G.w_dim, generator=gen)
    images = torch.rand(N, 3, RES, RES, generator=gen) * 2 - 1
    with torch.no_grad():
        residuals = images - G.synthesis(codes)
    labels = torch.arange(N) % 2
    return Batch(images=images, labels=labels, codes=codes, residuals=residuals)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 2)
    )


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_mix_styles_endpoints():
    codes, donors = torch.randn(4, 7, 5), torch.randn(4, 1, 7, 5)
    k = 3
    out0 = mix_styles(codes, donors, torch.zeros(4, 1, 7 - k), k)
    assert torch.equal(out0, codes)
    out1 = mix_styles(codes, donors, torch.ones(4, 1, 7 - k), k)
    assert torch.equal(out1[:, :k], codes[:, :k])
    torch.testing.assert_close(out1[:, k:], donors[:, 0, k:])
    # fine-only donor codes give the same result
    torch.testing.assert_close(mix_styles(codes, donors[:, :, k:], torch.ones(4, 1, 7 - k), k), out1)


def test_mix_styles_convex_combination():
    codes, donors = torch.randn(2, 4, 3), torch.randn(2, 2, 4, 3)
    a = torch.full((2, 2, 3), 0.5)  # all mass on the two donors, nothing left for the source
    out = mix_styles(codes, donors, a, 1)
    torch.testing.assert_close(out[:, 1:], donors[:, :, 1:].mean(1))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 5),
    st.integers(1, 4),
    st.floats(0.1, 5.0),
    st.integers(0, 2**31 - 1),
)
def test_projection_feasible_and_optimal(m, layers, scale, seed):
    g = gen(seed)
    v = torch.randn(3, m, layers, generator=g, dtype=torch.float64) * scale
    x = project_capped_simplex(v, dim=1)
    assert (x >= 0).all()
    assert (x.sum(1) <= 1 + 1e-9).all()
    # optimality: <v - x, y - x> <= 0 for every feasible y (variational inequality of a projection)
    y = random_coefficients(3 * layers * 50, m, 1, generator=g).to(torch.float64)
    y = y.reshape(3, layers, 50, m).permute(0, 3, 1, 2)  # [3, m, layers, 50]
    inner = ((v - x)[..., None] * (y - x[..., None])).sum(1)
    assert (inner <= 1e-9).all()
    # already-feasible points are left unchanged
    assert torch.allclose(project_capped_simplex(x, dim=1), x, atol=1e-12)


def test_random_coefficients_feasible():
    a = random_coefficients(500, 3, 4, generator=gen(0))
    assert a.shape == (500, 3, 4) and (a >= 0).all() and (a.sum(1) <= 1 + 1e-6).all()
    one = random_coefficients(4000, 1, 1, generator=gen(1))
    assert abs(float(one.mean()) - 0.5) < 0.03  # U[0, 1] for one donor


def test_linf_projection(batch):
    ball = LinfBall(eps=8 / 255, step_size=2 / 255, steps=3)
    p = ball.random_init(batch, generator=gen(0))
    p = ball.step(p, torch.randn_like(p.delta))
    p = ball.project(p.with_delta(p.delta * 10))  # far outside the ball and the image range
    assert p.delta.abs().max() <= ball.eps + 1e-6
    img = ball.to_image(p, batch)
    assert img.min() >= -1 and img.max() <= 1
    assert abs(ball.eps - 16 / 255) < 1e-9


def test_sets_follow_protocol(G, model, batch):
    """Each set goes through the search the training loop uses (one ascent step where it has any)
    and gives valid images that differ from the clean batch."""
    sets = [
        LinfBall(eps=0.1, step_size=0.1, steps=1),
        autoaugment_set(),
        colorjitter_set(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
        StyleMixSet(G, split_index=2, donor_codes=batch.codes, steps=1),
    ]
    for pset in sets:
        assert isinstance(pset, PerturbationSet)
        images = find_worst_case(pset, model, batch, generator=gen(0))
        assert images.shape == batch.images.shape and not images.requires_grad, pset
        assert images.min() >= -1 and images.max() <= 1, pset
        assert not torch.equal(images, batch.images), pset


def mean_loss(model, images, labels):
    with torch.no_grad():
        return float(F.cross_entropy(model(images), labels))


def test_pgd_linf_increases_loss(model, batch):
    ball = LinfBall(eps=8 / 255, step_size=2 / 255, steps=5)
    before = [p.grad for p in model.parameters()]
    worst = find_worst_case(ball, model, batch, generator=gen(0))
    assert all(p.grad is None for p in model.parameters()) and before == [None] * len(before)
    assert not worst.requires_grad
    assert mean_loss(model, worst, batch.labels) > mean_loss(model, batch.images, batch.labels) + 1e-4
    assert (worst - batch.images).abs().max() <= ball.eps + 1e-6


def test_pgd_stylemix_increases_loss(G, model, batch):
    advmix = StyleMixSet(
        G, split_index=2, donor_codes=batch.codes, donors=2, steps=5, step_size=0.2, add_residual=True
    )
    model.eval()
    start = advmix.to_image(advmix.project(advmix.random_init(batch, generator=gen(3))), batch)
    worst = find_worst_case(advmix, model, batch, restarts=2, generator=gen(3))
    assert not model.training
    assert all(p.grad is None for p in model.parameters()) and all(p.grad is None for p in G.parameters())
    assert worst.shape == batch.images.shape and worst.min() >= -1 and worst.max() <= 1
    assert mean_loss(model, worst, batch.labels) > mean_loss(model, start.detach(), batch.labels) + 1e-4


def test_linear_attack_matches_exact_where_mixing_is_linear(batch, model):
    # the palette head is affine in its style, so at k = L-1 the surrogate is the exact image
    torch.manual_seed(0)
    channels = {4: 8, 8: 8, 16: 8}
    P = Generator(
        z_dim=8, w_dim=8, mapping_layers=1, resolution=16, channels=channels, torgb="palette"
    ).eval()
    codes = batch.codes[:, : P.num_ws]
    palette_batch = Batch(batch.images, batch.labels, codes, batch.images - P.synthesis(codes).detach())
    kw = dict(split_index=P.num_ws - 1, donor_codes=codes, donors=2, steps=1, step_size=0.5)
    linear, exact = StyleMixSet(P, attack="linear", **kw), StyleMixSet(P, **kw)
    p = linear.project(linear.random_init(palette_batch, generator=gen(4)))
    torch.testing.assert_close(linear.attack_image(p, palette_batch), exact.to_image(p, palette_batch))
    model.eval()
    worst_linear = find_worst_case(linear, model, palette_batch, generator=gen(5))
    worst_exact = find_worst_case(exact, model, palette_batch, generator=gen(5))
    torch.testing.assert_close(worst_linear, worst_exact, atol=1e-5, rtol=0)


def test_linear_attack_renders_its_choice_exactly(G, batch, model):
    kw = dict(split_index=2, donor_codes=batch.codes, donors=2, step_size=0.5, add_residual=True)
    linear = StyleMixSet(G, steps=1, attack="linear", **kw)
    assert StyleMixSet(G, **kw).attack_image is None
    model.eval()
    start = linear.project(linear.random_init(batch, generator=gen(7)))  # what the attack draws first
    delta = start.delta.clone().requires_grad_(True)
    loss = F.cross_entropy(
        model(linear.attack_image(start.with_delta(delta), batch)), batch.labels, reduction="sum"
    )
    (grad,) = torch.autograd.grad(loss, [delta])
    stepped = linear.project(linear.step(start, grad))
    with torch.no_grad():
        zero = start.with_delta(torch.zeros_like(start.delta))
        torch.testing.assert_close(
            linear.attack_image(zero, batch), linear.to_image(zero, batch), atol=1e-5, rtol=0
        )
        candidates = [linear.to_image(p, batch) for p in (start, stepped)]
        assert not torch.allclose(
            linear.attack_image(stepped, batch), candidates[1], atol=1e-3
        )  # k=2: not linear
    worst = find_worst_case(linear, model, batch, generator=gen(7))
    # each returned image is the generator's render of one of the iterates, never the surrogate
    for i in range(len(batch)):
        assert any(torch.allclose(worst[i], c[i], atol=1e-5) for c in candidates)
    assert all(p.grad is None for p in model.parameters())


def test_stylemix_identity_at_zero(G, batch):
    for add_residual, expected in ((False, G.synthesis(batch.codes).clamp(-1, 1)), (True, batch.images)):
        s = StyleMixSet(G, split_index=3, donor_codes=batch.codes, donors=2, add_residual=add_residual)
        p = s.random_init(batch, generator=gen(0))
        with torch.no_grad():
            out = s.to_image(p.with_delta(torch.zeros_like(p.delta)), batch)
        torch.testing.assert_close(out, expected.detach(), atol=1e-5, rtol=0)
    assert not any(p.requires_grad for p in G.parameters())


def test_randmix_depends_on_generator(G, batch):
    randmix = StyleMixSet(G, split_index=2, donor_codes=batch.codes, donors=1, steps=0, add_residual=False)
    a = find_worst_case(randmix, nn.Identity(), batch, generator=gen(0))
    b = find_worst_case(randmix, nn.Identity(), batch, generator=gen(1))
    c = find_worst_case(randmix, nn.Identity(), batch, generator=gen(0))
    assert not torch.allclose(a, b)
    assert torch.equal(a, c)
    p = randmix.random_init(batch, generator=gen(0))
    assert p.delta.shape == (N, 1, G.num_ws - 2)
    assert p.context["donor_fine"].shape == (N, 1, G.num_ws - 2, G.w_dim)


@pytest.mark.parametrize("policy", ["autoaugment", "randaugment"])
def test_autoaugment_reproducible(batch, policy):
    aug = autoaugment_set(policy=policy)
    a = find_worst_case(aug, nn.Identity(), batch, generator=gen(0))
    b = find_worst_case(aug, nn.Identity(), batch, generator=gen(0))
    c = find_worst_case(aug, nn.Identity(), batch, generator=gen(5))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == batch.images.shape and a.dtype == torch.float32
    assert a.min() >= -1 and a.max() <= 1


def test_colorjitter_changes_colour_not_layout(batch):
    jitter = colorjitter_set(brightness=0.5, contrast=0.0, saturation=0.0, hue=0.3)
    out = find_worst_case(jitter, nn.Identity(), batch, generator=gen(0))
    assert torch.equal(out, find_worst_case(jitter, nn.Identity(), batch, generator=gen(0)))
    assert not torch.allclose(out, batch.images, atol=0.02)
    # a colour jitter acts on each pixel alone: pixels equal in the input stay equal in the output
    flat_in, flat_out = batch.images.flatten(2), out.flatten(2)
    same = (flat_in[:, :, :, None] - flat_in[:, :, None, :]).abs().amax(1) < 1e-6
    gap = (flat_out[:, :, :, None] - flat_out[:, :, None, :]).abs().amax(1)
    assert gap[same].max() < 1e-6


def test_bad_arguments(G, batch):
    with pytest.raises(ValueError, match="split_index must be in"):
        StyleMixSet(G, split_index=G.num_ws, donor_codes=batch.codes)
    with pytest.raises(ValueError, match="policy must be one of"):
        autoaugment_set(policy="nope")
    with pytest.raises(ValueError, match="hue"):
        colorjitter_set(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.7)
    s = StyleMixSet(G, split_index=2, donor_codes=batch.codes)
    with pytest.raises(ValueError, match="needs batch.codes"):
        s.random_init(Batch(images=batch.images, labels=batch.labels), generator=gen(0))


def test_fine_style_variations_keep_coarse_styles(G, batch):
    k = 2
    out = fine_style_variations(G, batch.codes, batch.codes, variations=3, split_index=k, generator=gen(0))
    assert out.shape == (N, 3, 3, RES, RES) and out.abs().max() <= 1
    again = fine_style_variations(G, batch.codes, batch.codes, variations=3, split_index=k, generator=gen(0))
    assert torch.equal(out, again)
    # with its own code as the only donor, an image is rendered unchanged
    own = fine_style_variations(
        G, batch.codes[:1], batch.codes[:1], variations=2, split_index=k, generator=gen(1)
    )
    assert torch.allclose(own[0, 0], G.synthesis(batch.codes[:1])[0].clamp(-1, 1), atol=1e-5)
    shifted = fine_style_variations(
        G,
        batch.codes,
        batch.codes,
        variations=3,
        split_index=k,
        residuals=torch.full_like(batch.images, 100.0),
        generator=gen(0),
    )
    assert torch.all(shifted == 1)
