"""What a run cost, per rule, from the benchmark files Snakemake writes (``results/benchmarks/rules``)."""

from pathlib import Path

import pandas as pd


def rule_times(bench_dir: str | Path) -> pd.DataFrame:
    """One row per rule: ``rule, jobs, seconds`` (the jobs' wall times summed; jobs of a rule may have
    run side by side) and ``max_rss_mb`` (the largest job's peak memory), most expensive first.

    Reads ``bench_dir/{rule}/{wildcards...}.tsv`` (nested or not), each job's last row.
    """
    bench_dir = Path(bench_dir)
    rows = []
    for path in sorted(bench_dir.rglob("*.tsv")):
        job = pd.read_csv(path, sep="\t").iloc[-1]
        rule = path.relative_to(bench_dir).parts[0]
        rows.append({"rule": rule, "seconds": float(job["s"]), "max_rss_mb": float(job["max_rss"])})
    jobs = pd.DataFrame(rows, columns=["rule", "seconds", "max_rss_mb"])
    return (
        jobs.groupby("rule")
        .agg(jobs=("seconds", "size"), seconds=("seconds", "sum"), max_rss_mb=("max_rss_mb", "max"))
        .reset_index()
        .sort_values("seconds", ascending=False)
    )
