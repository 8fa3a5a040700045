"""Helpers for persistence tests: closing engines, comparing datasets, reading the append-only file."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.keyspace import type_name
from redpocket.engine.persistence import persistence_of

Opener = Callable[..., tuple[Engine, EmbeddedRedis]]


def close(engine: Engine) -> None:
    """Close an engine's persistence (a clean shutdown)."""
    persistence = persistence_of(engine)
    assert persistence is not None
    persistence.close()


def dataset(engine: Engine) -> dict[tuple[int, bytes], tuple[str, Any, int | None]]:
    """Return every live key as ``(db, key) -> (type, plain value, absolute expiry in ms)``."""
    found = {}
    for db in engine.databases:
        for key in list(db.data):
            if not db.exists(key):
                continue
            value = db.data[key]
            kind = type_name(value)
            if isinstance(value, deque):
                plain: Any = list(value)
            elif kind == "zset":
                plain = sorted((member, float(score)) for member, score in value)
            elif hasattr(value, "dump") and not isinstance(value, (bytes, dict, set)):
                plain = value.dump()
            else:
                plain = value
            found[(db.index, key)] = (kind, plain, db.expires.get(key))
    return found


def aof_file(directory: Path) -> Path:
    """Return the append-only file commands are appended to: the last part the manifest lists."""
    from redpocket.engine.persistence.aof_manifest import parse_manifest

    manifest = parse_manifest(directory / "appendonlydir" / "appendonly.aof.manifest")
    return manifest.files[-1]


def aof_bytes(directory: Path) -> bytes:
    """Return the append-only file's contents."""
    return aof_file(directory).read_bytes()


def has_command(engine: Engine, *names: str) -> bool:
    """Tell whether the engine implements every command in ``names`` (families still landing)."""
    return all(name.encode() in engine.commands for name in names)
