"""Metric files: strict JSON (NaN written as null) with the parent folder created."""

import json
import math
from pathlib import Path


def _strict(value):
    """NaN (a share over no pairs) becomes null, so the JSON stays strict."""
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    return None if isinstance(value, float) and math.isnan(value) else value


def write_json(payload: dict, path) -> None:
    """Write ``payload`` to ``path`` as indented JSON, NaN values as null."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(_strict(payload), indent=2, allow_nan=False) + "\n")
