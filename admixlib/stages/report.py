"""Rules table, figure_mixing, figure1 and results_md."""

import json
import logging
from pathlib import Path

import torch

from admixlib.classify import load_classifier, predict_proba
from admixlib.data import load_split
from admixlib.perturb import fine_style_variations, mix_styles, render_mixed
from admixlib.report import plot_variation_panel, save_image_grid, summarise_runs, write_tables
from admixlib.report.results_doc import results_document
from admixlib.runtime import resolve_device, torch_generator
from admixlib.stages.codes import load_codes
from admixlib.stylegan import load_generator

log = logging.getLogger("admix.stages")
FIGURE1_IMAGES = 4  # test images (rows) of Figure 1
FIGURE1_SEED = 0  # draws them and their variations' donors


def table_stage(*, dataset: str, run_paths: list, methods: list, csv_path, md_path, tex_path) -> None:
    """Summarise every evaluated (method, seed) of a dataset into the tidy CSV, Markdown and LaTeX."""
    runs = [json.loads(Path(path).read_text()) for path in run_paths]
    tidy = summarise_runs(runs, dataset=dataset, methods=methods)
    seeds = sorted({run["seed"] for run in runs})
    caption = (
        f"{dataset}: unbiased test split, mean ± std [95% t-interval] over seeds {seeds} in percent; "
        "rel. error reduction is 1 - err(method) / err(nominal), paired by seed; "
        "* marks an interval bound clipped to [0, 100]"
    )
    write_tables(tidy, csv_path=csv_path, md_path=md_path, tex_path=tex_path, caption=caption)
    log.info("table of %d runs written", len(runs))


@torch.no_grad()
def mixing_grid_stage(*, generator_path, codes_path, figure_path, split_index: int, n: int, device) -> None:
    """Grid on inverted test images: cell (i, j) keeps image i's coarse styles and takes j's fine ones."""
    device = resolve_device(device)
    G = load_generator(generator_path, map_location=device)
    ws = load_codes(codes_path).ws[:n].to(device)
    sources = G.synthesis(ws)
    cells = [torch.full_like(sources[:1], -1.0), sources]
    for i in range(n):
        coarse = ws[i : i + 1].expand(n, -1, -1)
        mixed = mix_styles(
            coarse, ws[:, None], torch.ones(n, 1, ws.shape[1] - split_index, device=device), split_index
        )
        cells += [
            sources[i : i + 1],
            render_mixed(G, mixed, start=split_index),
        ]
    save_image_grid(torch.cat(cells).cpu(), figure_path, nrow=n + 1)


@torch.no_grad()
def figure1_stage(
    *,
    generator_path,
    test_path,
    test_codes_path,
    train_codes_path,
    model_paths: dict,
    figure_path,
    split_index: int,
    add_residual: bool,
    variations: int,
    device,
) -> None:
    """Figure 1: test images under fine-style variations (donors from training codes), each captioned
    with the probability of the true label under each model in ``model_paths`` (name -> path)."""
    device = resolve_device(device)
    G = load_generator(generator_path, map_location=device)
    test, codes = load_split(test_path), load_codes(test_codes_path)
    bank = load_codes(train_codes_path).ws
    models = {name: load_classifier(path, map_location=device) for name, path in model_paths.items()}
    gen = torch_generator(FIGURE1_SEED)
    picks = torch.randperm(len(test.images), generator=gen)[:FIGURE1_IMAGES]
    rows, scores, titles = [], [], []
    residuals = codes.residuals(test.images)
    for i in picks.tolist():
        varied = fine_style_variations(
            G,
            codes.ws[i : i + 1].to(device),
            bank,
            variations=variations - 1,
            split_index=split_index,
            residuals=residuals[i : i + 1] if add_residual else None,
            generator=gen,
        )[0].cpu()
        images = torch.cat([test.images[i : i + 1], varied])
        label = int(test.labels[i])
        rows.append(images)
        scores.append(
            {
                name: predict_proba(m, images, batch_size=64, device=device)[:, label].tolist()
                for name, m in models.items()
            }
        )
        titles.append(f"{test.meta['label_name']}={label}")
    plot_variation_panel(rows, scores, figure_path, score_name="p(true label)", row_titles=titles)


def results_md_stage(*, results_dir, datasets: list[str], doc_path) -> None:
    """Render every table and measured figure of ``results_dir`` for ``datasets`` into ``doc_path``."""
    text = results_document(results_dir, datasets=datasets)
    Path(doc_path).parent.mkdir(parents=True, exist_ok=True)
    Path(doc_path).write_text(text)
    log.info("wrote %s (%d lines)", doc_path, text.count("\n") + 1)
