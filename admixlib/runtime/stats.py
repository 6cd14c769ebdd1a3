"""JSON-lines training stats that survive a resume."""

import json
from pathlib import Path


def trim_stats(stats_path: Path, last_step: int) -> None:
    """Drop the stats lines of steps after ``last_step`` (a killed run's tail, redone after resuming)."""
    stats_path = Path(stats_path)
    if not stats_path.is_file():
        return
    keep = [
        line for line in stats_path.read_text().splitlines() if line and json.loads(line)["step"] <= last_step
    ]
    stats_path.write_text("".join(line + "\n" for line in keep))
