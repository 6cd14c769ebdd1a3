"""Shared start-up of every rule script: make admixlib importable, log to the rule's log, set threads.

Snakemake puts this folder on ``sys.path`` when it runs a script, so ``import _admix`` works from every
rule, also inside a per-rule conda environment where admixlib is not installed.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from admixlib.runtime import set_threads, setup_logging  # noqa: E402


def start(snakemake):
    """Send logging and tracebacks to the rule's log, limit torch to the rule's threads; return a logger."""
    logger = setup_logging(snakemake.log[0] if snakemake.log else None, capture_stderr=True)
    set_threads(snakemake.threads)
    logger.info("rule %s, wildcards %s", snakemake.rule, dict(snakemake.wildcards))
    return logger
