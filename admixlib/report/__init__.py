"""Tidy tables (CSV, Markdown, LaTeX) and figures from evaluation results."""

from admixlib.report.figures import plot_sweep, plot_variation_panel, save_image_grid
from admixlib.report.tables import (
    METRICS,
    crossed_interval,
    generator_row,
    markdown_table,
    summarise_runs,
    wide_table,
    write_tables,
)

__all__ = [
    "METRICS",
    "crossed_interval",
    "generator_row",
    "markdown_table",
    "plot_sweep",
    "plot_variation_panel",
    "save_image_grid",
    "summarise_runs",
    "wide_table",
    "write_tables",
]
