"""Logging set-up: a rule's script sends everything, tracebacks included, to the rule's log file."""

import logging
import sys
from pathlib import Path


def setup_logging(log_path: str | None = None, *, level: int = logging.INFO) -> logging.Logger:
    """Send the root logger (and uncaught exceptions) to ``log_path``, or to stderr when it is None.

    Returns the ``admix`` logger.
    """
    handlers: list[logging.Handler] = []
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    logger = logging.getLogger("admix")

    def log_uncaught(exc_type, exc, tb):
        logger.error("uncaught exception", exc_info=(exc_type, exc, tb))
        sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = log_uncaught
    return logger
