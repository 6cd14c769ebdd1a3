"""Logging set-up: a rule's script sends everything, tracebacks included, to the rule's log file."""

import logging
import os
import sys
from pathlib import Path


def setup_logging(log_path: str | None = None, *, capture_stderr: bool = False) -> logging.Logger:
    """Send the root logger (INFO and up) and uncaught exceptions to ``log_path``, or to stderr when
    it is None.

    With ``capture_stderr`` the process's stderr (warnings, progress bars, tracebacks printed by
    libraries) goes to the same file; progress bars then refresh at most every 10 s. Returns the
    ``admix`` logger.
    """
    handlers: list[logging.Handler] = []
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        Path(log_path).write_text("")
        # Append mode for every writer, so the logger and stderr never overwrite each other.
        handlers.append(logging.FileHandler(log_path, mode="a"))
        if capture_stderr:
            os.environ.setdefault("TQDM_MININTERVAL", "10")
            sys.stderr = open(log_path, "a", buffering=1)  # noqa: SIM115 (lives as long as the process)
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    logger = logging.getLogger("admix")

    def log_uncaught(exc_type, exc, tb):
        logger.error("uncaught exception", exc_info=(exc_type, exc, tb))

    sys.excepthook = log_uncaught
    return logger
