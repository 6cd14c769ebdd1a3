"""The palette head: regions from the features, colours from the last style, and its penalties."""

import pytest
import torch
from test_stylegan import TINY, random_ws, tiny_generator

from admixlib.runtime import RunFiles
from admixlib.stylegan import (
    Discriminator,
    GanLoss,
    GanRecipe,
    Generator,
    load_generator,
    save_generator,
    train_generator,
)
from admixlib.stylegan.layers import PaletteHead
from admixlib.stylegan.loss import generator_loss


def test_palette_head_style_recolours_without_moving_regions():
    G = tiny_generator("palette")
    ws = random_ws(G, n=2)
    recoloured = ws.clone()
    recoloured[:, -1] = random_ws(G, n=2, seed=7)[:, -1]
    head = G.synthesis.palette
    with torch.no_grad():
        state = G.synthesis.run_until(ws, G.num_ws - 1)
        basis, _ = state  # the regions' colour basis, drawn before the last style
        basis_b, _ = G.synthesis.run_until(recoloured, G.num_ws - 1)
        torch.testing.assert_close(basis, basis_b)  # regions come from earlier styles only
        masks = basis.view(2, head.palette_size, head.terms, 16, 16)[:, :, 0]  # the flat term
        torch.testing.assert_close(masks.sum(1), torch.ones(2, 16, 16))
        assert not torch.allclose(G.synthesis(ws), G.synthesis(recoloured))  # the last style colours
        torch.testing.assert_close(G.synthesis.run_from(state, ws, G.num_ws - 1), G.synthesis(ws))


@pytest.mark.parametrize("supersample, bank", [(1, 0), (2, 3)])
def test_palette_head_image_is_each_regions_shaded_colour_blended_by_its_mask(supersample, bank):
    torch.manual_seed(0)
    head = PaletteHead(8, w_dim=6, palette_size=3, resolution=5, supersample=supersample, bank=bank)
    with torch.no_grad():  # shading gradients start flat: give them values, so their order is checked
        head.palette.weight.normal_()
    x, w = torch.randn(2, 8, 5, 5), torch.randn(2, 6)
    with torch.no_grad():
        masks, params = head.region_masks(x), head.region_params(w)  # [N, K, sH, sW], [N, K, 3, terms]
        colour, dx, dy = (params[..., t, None, None] for t in range(3))
        xx, yy = head.grid[1], head.grid[2]
        expected = (masks[:, :, None] * (colour + dx * xx + dy * yy)).sum(dim=1)
        expected = torch.nn.functional.avg_pool2d(expected, supersample)
        torch.testing.assert_close(head(x, w), expected)
        torch.testing.assert_close(head.colour_from_basis(head.colour_basis(masks), w), expected)


def test_palette_gain_hardens_regions_and_round_trips(tmp_path):
    torch.manual_seed(0)
    G = Generator(**TINY, torgb="palette", palette_size=3, palette_gain=50.0).eval()
    ws = random_ws(G, n=2)
    with torch.no_grad():
        G.synthesis(ws)
        hard_blend = float(G.synthesis.palette.last_blend)
        G.synthesis.palette.gain = 1.0
        G.synthesis(ws)
        soft_blend = float(G.synthesis.palette.last_blend)
    assert hard_blend < 0.05 < soft_blend  # same logits: the gain alone makes most pixels one region
    G.synthesis.palette.gain = 50.0
    save_generator(G, tmp_path / "g.pt")
    H = load_generator(tmp_path / "g.pt")
    assert H.synthesis.palette.gain == 50.0 and torch.equal(H.synthesis(ws), G.synthesis(ws))


def test_supersampled_palette_blends_only_across_boundaries_and_round_trips(tmp_path):
    torch.manual_seed(0)
    plain = Generator(**TINY, torgb="palette", palette_size=3, palette_gain=4.0).eval()
    fine = Generator(**TINY, torgb="palette", palette_size=3, palette_gain=4.0, palette_supersample=4).eval()
    fine.load_state_dict(plain.state_dict())
    ws = random_ws(plain, n=2)
    with torch.no_grad():
        head_p, head_f = plain.synthesis.palette, fine.synthesis.palette
        for head in (head_p, head_f):  # shading gradients on, so sub-pixel coordinates matter
            head.palette.weight.normal_(generator=torch.Generator().manual_seed(1))
        x = torch.randn(2, 16, 16, 16)
        assert head_f(x, ws[:, -1]).shape == (2, 3, 16, 16)
        # one region everywhere: no boundary, so the average of sub-pixels is the plain pixel
        for head in (head_p, head_f):
            head.segment.bias.copy_(torch.tensor([5.0, 0.0, 0.0]))
            head.segment.weight.zero_()
        torch.testing.assert_close(head_f(x, ws[:, -1]), head_p(x, ws[:, -1]))
    save_generator(fine, tmp_path / "g.pt")
    H = load_generator(tmp_path / "g.pt")
    assert H.synthesis.palette.supersample == 4 and torch.equal(H.synthesis(ws), fine.synthesis(ws))
    with pytest.raises(ValueError, match="supersample"):
        Generator(**TINY, torgb="palette", palette_supersample=0)


def test_palette_role_penalty_is_zero_only_when_regions_cover_the_same_share_of_every_image(tmp_path):
    torch.manual_seed(0)
    head = Generator(**TINY, torgb="palette", palette_size=3, palette_supersample=2).synthesis.palette
    w = torch.randn(4, TINY["w_dim"])
    with torch.no_grad():
        head(torch.randn(1, 16, 16, 16).expand(4, -1, -1, -1), w)  # same regions, other colours
        assert head.last_area.shape == (4, 3) and float(head.last_area.var(dim=0).sum()) < 1e-10
        torch.testing.assert_close(head.last_area.sum(dim=1), torch.ones(4))
        head(torch.randn(4, 16, 16, 16) * 3, w)
        assert float(head.last_area.var(dim=0).sum()) > 1e-4
    images = torch.rand(16, 3, 16, 16) * 2 - 1
    G = train_generator(
        images, generator_kwargs={**TINY, "torgb": "palette", "palette_size": 3}, steps=2,
        recipe=GanRecipe(batch_size=8, loss=GanLoss(palette_role_weight=10.0)), files=RunFiles(tmp_path / "c", tmp_path / "s.jsonl", progress=False),
    )  # fmt: skip
    assert torch.isfinite(G(torch.randn(2, TINY["z_dim"]))).all()


def test_palette_without_shading_paints_flat_regions_and_round_trips(tmp_path):
    torch.manual_seed(0)
    G = Generator(**TINY, torgb="palette", palette_size=2, palette_gain=50.0, palette_shading=False).eval()
    ws = random_ws(G, n=2)
    head = G.synthesis.palette
    with torch.no_grad():  # any palette weights: a flat-only head has no gradient terms to set
        head.palette.weight.normal_()
    with torch.no_grad():
        img = G.synthesis(ws)
        basis, _ = G.synthesis.run_until(ws, G.num_ws - 1)  # without shading: the region masks
    for n in range(2):
        for k in range(2):
            pure = basis[n, k] > 0.999  # pixels painted by region k alone
            if pure.sum() > 1:  # one flat colour there: no gradient along x or y
                colours = img[n][:, pure]
                torch.testing.assert_close(colours, colours[:, :1].expand_as(colours), atol=1e-2, rtol=0)
    save_generator(G, tmp_path / "g.pt")
    H = load_generator(tmp_path / "g.pt")
    assert H.kwargs["palette_shading"] is False and torch.equal(H.synthesis(ws), img)


def test_generator_loss_adds_each_palette_penalty_with_its_weight():
    """G's loss is the non-saturating loss plus ``palette_sharpness`` times the blend share plus
    ``palette_role_weight`` times the variance of the regions' areas, both from the same forward pass."""
    torch.manual_seed(0)
    G = Generator(**TINY, torgb="palette", palette_size=3, palette_supersample=2)
    D = Discriminator(resolution=TINY["resolution"], channels=TINY["channels"])
    with torch.no_grad():
        fake = G.synthesis(random_ws(G, n=4))
        head = G.synthesis.palette
        blend, spread = float(head.last_blend), float(head.last_area.var(dim=0).sum())
        plain = float(generator_loss(G, D, fake, None, loss=GanLoss()))
        sharp = float(generator_loss(G, D, fake, None, loss=GanLoss(palette_sharpness=2.0)))
        roles = float(generator_loss(G, D, fake, None, loss=GanLoss(palette_role_weight=10.0)))
    assert blend > 0 and spread > 0
    assert sharp == pytest.approx(plain + 2.0 * blend, rel=1e-5)
    assert roles == pytest.approx(plain + 10.0 * spread, rel=1e-5)


def test_a_gan_trains_with_palette_sharpness_and_reports_its_blend_share(tmp_path):
    images = torch.rand(32, 3, 16, 16) * 2 - 1
    recipe = GanRecipe(batch_size=8, loss=GanLoss(palette_sharpness=1.0))
    kw = dict(generator_kwargs={**TINY, "torgb": "palette", "palette_size": 3}, recipe=recipe)
    G = train_generator(images, steps=2, files=RunFiles(tmp_path, tmp_path / "s.jsonl", progress=False), **kw)
    with torch.no_grad():
        G.synthesis(random_ws(G))
    blend = G.synthesis.palette.last_blend
    assert blend.ndim == 0 and 0.0 <= float(blend) <= 2 / 3  # 1 - max over 3 regions


def test_palette_bank_colours_are_mixtures_of_learned_colours_and_round_trip(tmp_path):
    torch.manual_seed(0)
    G = Generator(**TINY, torgb="palette", palette_size=2, palette_bank=3).eval()
    head, ws = G.synthesis.palette, random_ws(G, n=64)
    with torch.no_grad():
        head.bank_gate.weight.mul_(100.0)  # a saturated gate picks one colour of the bank per region
        colour = head.region_params(ws[:, -1])[..., 0]  # [N, K, 3]; the linear colour term starts at 0
    assert head.region_params(ws[:, -1]).shape == (64, 2, 3, 3)
    for k in range(2):  # colours are the 3 learned ones (but near a gate's tie), and the style picks
        distance = (colour[:, k, None] - head.bank[k, ..., 0][None].detach()).abs().amax(dim=-1)  # [N, 3]
        assert (distance.amin(dim=1) < 1e-3).float().mean() > 0.9
        assert distance.argmin(dim=1).unique().numel() > 1
    save_generator(G, tmp_path / "g.pt")
    H = load_generator(tmp_path / "g.pt")
    assert H.kwargs["palette_bank"] == 3 and torch.equal(H.synthesis(ws), G.synthesis(ws))
    assert "palette_bank" not in Generator(**TINY, torgb="palette").kwargs  # older files still compare equal


def test_palette_bank_holds_light_directions_and_loads_banks_of_colours_alone():
    torch.manual_seed(0)
    G = Generator(**TINY, torgb="palette", palette_size=2, palette_bank=2).eval()
    head, w = G.synthesis.palette, random_ws(G, n=8)[:, -1]
    assert head.bank.shape == (2, 2, 3, 3) and not head.bank[..., 1:].any()  # gradients start flat
    with torch.no_grad():
        head.bank[..., 1] = 1.0  # every bank entry lights from one side
    assert torch.allclose(
        head.region_params(w)[..., 1] - head.palette(w).view(8, 2, 3, 3)[..., 1], torch.ones(8, 2, 3)
    )
    old = {k: v.clone() for k, v in head.state_dict().items()}
    old["bank"] = old["bank"][..., 0]  # a bank saved before it held gradients: [K, B, 3]
    head.load_state_dict(old)
    assert torch.equal(head.bank[..., 0], old["bank"]) and not head.bank[..., 1:].any()
