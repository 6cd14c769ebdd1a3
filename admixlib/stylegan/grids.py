"""Sample and style-mixing grids of a generator, written as PNG."""

import math

import torch

from admixlib.report.figures import save_image_grid
from admixlib.runtime import torch_generator
from admixlib.stylegan.networks import Generator


@torch.no_grad()
def sample_grid(G: Generator, *, n: int = 64, seed: int = 0, path) -> torch.Tensor:
    """Save ``n`` samples of ``G`` (latents from ``seed``) as a PNG grid at ``path``.

    Returns the images ``[n, 3, H, W]`` in ``[-1, 1]`` on the CPU.
    """
    device = G.w_avg.device
    z = torch.randn(n, G.z_dim, device=device, generator=torch_generator(seed, device))
    ws = G.mapping(z).unsqueeze(1).repeat(1, G.num_ws, 1)
    img = G.synthesis(ws, noise_mode="const")
    save_image_grid(img, path, nrow=math.ceil(math.sqrt(n)))
    return img.cpu()


@torch.no_grad()
def mixing_grid(G: Generator, *, split_index: int, n: int = 6, seed: int = 0, path) -> torch.Tensor:
    """Save a style-mixing grid: cell ``(i, j)`` takes styles ``< split_index`` from row source ``i``
    and styles ``>= split_index`` from column source ``j``; the first row and column show the sources.

    Returns the grid images ``[(n + 1) ** 2, 3, H, W]`` in ``[-1, 1]`` on the CPU (top-left blank).
    """
    device = G.w_avg.device
    gen = torch_generator(seed, device)
    z = torch.randn(2 * n, G.z_dim, device=device, generator=gen)
    ws = G.mapping(z).unsqueeze(1).repeat(1, G.num_ws, 1)
    rows, cols = ws[:n], ws[n:]
    row_img, col_img = G.synthesis(rows), G.synthesis(cols)
    state = G.synthesis.run_until(rows, split_index)
    cells = [torch.full_like(row_img[:1], 1.0), col_img]
    for i in range(n):
        row_state = tuple(s[i : i + 1].expand(n, *s.shape[1:]) for s in state)
        cells += [row_img[i : i + 1], G.synthesis.run_from(row_state, cols, split_index)]
    grid = torch.cat(cells)
    save_image_grid(grid, path, nrow=n + 1)
    return grid.cpu()
