"""Log lines in Redis's style: ``pid:M 24 Nov 2025 19:47:01.123 * Ready to accept connections``."""

from __future__ import annotations

import logging
import os
import sys
import time

_SYMBOLS = {logging.DEBUG: ".", logging.INFO: "*", logging.WARNING: "#", logging.ERROR: "#", logging.CRITICAL: "#"}
# Redis's loglevel names and the logging levels they stand for.
LEVELS = {"debug": logging.DEBUG, "verbose": logging.DEBUG, "notice": logging.INFO, "warning": logging.WARNING}


class RedisFormatter(logging.Formatter):
    """Format records as Redis's ``serverLog`` does."""

    def format(self, record: logging.LogRecord) -> str:
        """Return ``pid:M date time.ms symbol message``."""
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(record.created))
        symbol = _SYMBOLS.get(record.levelno, "*")
        text = f"{os.getpid()}:M {stamp}.{int(record.msecs):03d} {symbol} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(level: str = "notice", logfile: str = "") -> None:
    """Send ``redpocket.*`` logs to stderr (or ``logfile``) in Redis's format, at Redis's ``loglevel``."""
    handler: logging.Handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedisFormatter())
    root = logging.getLogger("redpocket")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS.get(level, logging.INFO))
