"""Figures: image grids, the Figure-1 panel (one image, many variations, two models' scores) and sweeps."""

from pathlib import Path

import torch

from admixlib.report.plotting import pyplot_and_seaborn


def _save(fig, plt, path) -> None:
    """Lay out ``fig``, write it to ``path`` as a 150-dpi PNG (folder created) and close it."""
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def save_image_grid(images: torch.Tensor, path, *, nrow: int) -> None:
    """Save ``images`` [N, 3, H, W] in [-1, 1] as a PNG grid with ``nrow`` images per row."""
    from torchvision.utils import save_image  # on first use (admixlib.report.plotting says why)

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_image(images.detach().cpu(), path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=1)


def plot_variation_panel(
    rows: list[torch.Tensor],
    scores: list[dict[str, list[float]]],
    path,
    *,
    score_name: str,
    row_titles: list[str],
) -> None:
    """Figure-1-style panel: per row, one image under variations, each captioned with models' scores.

    ``rows[i]`` is [V, 3, H, W] in [-1, 1]; ``scores[i]`` maps a model name to V probabilities.
    """
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    plt, _ = pyplot_and_seaborn()
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.3 * n_cols, 1.75 * n_rows), squeeze=False)
    for i, (images, row_scores) in enumerate(zip(rows, scores)):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.axis("off")
            if j >= len(images):
                continue
            ax.imshow(((images[j].permute(1, 2, 0).cpu() + 1) / 2).clamp(0, 1).numpy())
            caption = "\n".join(f"{name} {vals[j]:.2f}" for name, vals in row_scores.items())
            ax.set_title(caption, fontsize=6)
        axes[i][0].text(
            -0.1, 0.5, row_titles[i], transform=axes[i][0].transAxes, ha="right", va="center", fontsize=7
        )
    fig.suptitle(f"{score_name} under fine-style variations (first column: the test image)", fontsize=8)
    _save(fig, plt, path)


SWEEP_PANELS = {"clean_acc": "unbiased-test accuracy", "worst_group_acc": "worst-group accuracy"}


def plot_sweep(tidy, *, swept: str, path, title: str) -> None:
    """One panel per metric of ``SWEEP_PANELS``: the mean over seeds against the swept setting, one
    line per method, with its 95% t-interval shaded.

    ``tidy`` has the main table's columns (``method, metric, mean, ci95_low, ci95_high``) plus ``swept``.
    """
    plt, sns = pyplot_and_seaborn()
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, len(SWEEP_PANELS), figsize=(4.2 * len(SWEEP_PANELS), 3.2), squeeze=False)
    palette = dict(zip(tidy["method"].unique(), sns.color_palette(n_colors=tidy["method"].nunique())))
    for ax, (metric, label) in zip(axes[0], SWEEP_PANELS.items()):
        rows = tidy[tidy["metric"] == metric].sort_values(swept)
        sns.lineplot(data=rows, x=swept, y="mean", hue="method", palette=palette, marker="o", ax=ax)
        for method, group in rows.groupby("method"):
            ax.fill_between(
                group[swept], group["ci95_low"], group["ci95_high"], color=palette[method], alpha=0.2
            )
        ax.set(xlabel=swept.replace("_", " "), ylabel=label, ylim=(0, 1.02))
        ax.set_xticks(sorted(rows[swept].unique()))
    fig.suptitle(title, fontsize=9)
    _save(fig, plt, path)
