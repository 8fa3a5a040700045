"""Configuration files in ``redis.conf`` syntax: ``name arg ...`` per line, ``#`` comments, quotes, ``include``."""

from __future__ import annotations

from pathlib import Path

from ..engine.version import REDIS_VERSION
from .protocol import split_args


class ConfigFileError(Exception):
    """A configuration file Redis would refuse to start with; the text is Redis's FATAL message."""


def read_config_file(path: str | Path, _depth: int = 0) -> list[tuple[str, str]]:
    """Return the ``(name, value)`` directives of a configuration file, in order (``include`` expanded)."""
    text = Path(path).read_bytes()
    return parse_config(text, base=Path(path).parent, _depth=_depth)


def parse_config(text: bytes | str, base: Path | None = None, _depth: int = 0) -> list[tuple[str, str]]:
    """Parse ``redis.conf`` text into ``(name, value)`` pairs (a value's words joined by spaces)."""
    if isinstance(text, str):
        text = text.encode()
    directives: list[tuple[str, str]] = []
    for number, raw in enumerate(text.split(b"\n"), start=1):
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        words = split_args(line)
        if words is None:
            raise _fatal(number, raw, "Unbalanced quotes in configuration line")
        if not words:
            continue
        name = words[0].decode("utf-8", "replace").lower()
        values = [word.decode("utf-8", "surrogateescape") for word in words[1:]]
        if name == "include":
            if len(values) != 1 or _depth > 16:
                raise _fatal(number, raw, "Bad directive or wrong number of arguments")
            included = Path(values[0])
            if base is not None and not included.is_absolute():
                included = base / included
            directives += read_config_file(included, _depth + 1)
            continue
        if not values:
            raise _fatal(number, raw, "Bad directive or wrong number of arguments")
        directives.append((name, " ".join(values)))
    return directives


def _fatal(number: int, line: bytes, reason: str) -> ConfigFileError:
    return ConfigFileError(
        f"\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n"
        f"Reading the configuration file, at line {number}\n"
        f">>> '{line.decode('utf-8', 'replace').strip()}'\n{reason}"
    )
