"""Wall time of a finished workflow run, per rule, from Snakemake's benchmark files and log.

    python benchmarks/default_run.py [--results results] [--log .snakemake/log/<run>.snakemake.log]

Writes results/benchmarks/default_run.csv with columns rule, jobs, seconds, max_rss_mb: ``seconds``
sums the jobs' wall times (jobs of a rule may have run side by side), ``max_rss_mb`` is the largest
job's peak memory. A last row ``total`` gives the run's wall time read from the Snakemake log (first to
last time stamp), or the sum of all jobs when no log is found.
"""

import argparse
import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from admixlib.report.cost import rule_times

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def wall_seconds(log: Path) -> float | None:
    stamps = [STAMP.match(line.strip()) for line in log.read_text().splitlines()]
    times = [datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y") for m in stamps if m]
    return (times[-1] - times[0]).total_seconds() if len(times) > 1 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--log", help="Snakemake log of the run (default: the newest in .snakemake/log)")
    args = parser.parse_args()
    table = rule_times(Path(args.results) / "benchmarks" / "rules")
    logs = sorted(Path(".snakemake/log").glob("*.snakemake.log"))
    log = Path(args.log) if args.log else (logs[-1] if logs else None)
    wall = wall_seconds(log) if log else None
    total = {"rule": "total", "jobs": table["jobs"].sum(), "seconds": wall or table["seconds"].sum()}
    table = pd.concat([table, pd.DataFrame([{**total, "max_rss_mb": table["max_rss_mb"].max()}])])
    out = Path(args.results) / "benchmarks" / "default_run.csv"
    table.to_csv(out, index=False, float_format="%.1f")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print(f"wall time {'from ' + str(log) if wall else '(sum of jobs)'}: {total['seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
