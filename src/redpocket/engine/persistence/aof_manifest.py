"""Redis 7's multi-part append-only directory: read it, so a Redis data directory opens here.

Redis 7.0 keeps its append-only file as a directory (``appenddirname``,
default ``appendonlydir``) holding a base file (an RDB, or commands), the
incremental command files written since, and a manifest listing them::

    file appendonly.aof.1.base.rdb seq 1 type b
    file appendonly.aof.1.incr.aof seq 1 type i

:func:`find_manifest` finds that manifest and :func:`load_manifest` loads its
files in order (the base, then each incremental file; only the last may
end in a cut command, as Redis allows).  The engine then writes its own
``appendonly.aof`` (RDB preamble and commands) and :func:`retire_manifest`
renames the manifest aside, so that a redis-server started later on the
same directory takes the engine's newer file (Redis 7 upgrades a plain
``appendonly.aof`` when the directory has no manifest) instead of the
stale parts.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .records import CorruptFileError, PersistenceError

if TYPE_CHECKING:
    from ..engine import Engine

MANIFEST_SUFFIX = ".manifest"
RETIRED_SUFFIX = ".loaded-by-redpocket"


@dataclass
class Manifest:
    """The files of a multi-part append-only directory, in loading order."""

    path: Path
    base: Path | None = None
    increments: list[Path] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        """Return the base (if any) and the incremental files, in the order they load."""
        return ([self.base] if self.base is not None else []) + self.increments


def find_manifest(directory: Path, dirname: str, filename: str) -> Path | None:
    """Return the manifest of ``directory``'s append-only directory, if there is one."""
    path = directory / dirname / (filename + MANIFEST_SUFFIX)
    return path if path.is_file() else None


def parse_manifest(path: Path) -> Manifest:
    """Read a manifest as ``aofLoadManifestFromFile`` does: strict, with Redis's error messages."""
    manifest = Manifest(path)
    increments: list[tuple[int, Path]] = []
    lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    if not lines:
        raise PersistenceError(f"{path}: Found an empty AOF manifest")
    for number, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        try:
            words = shlex.split(line.strip())
        except ValueError:
            words = []
        if len(words) < 6 or len(words) % 2:
            raise PersistenceError(f"{path}: Invalid AOF manifest file format (line {number})")
        entry = {words[i].lower(): words[i + 1] for i in range(0, len(words), 2)}
        name, seq, kind = entry.get("file"), entry.get("seq", ""), entry.get("type", "")
        if not name or not seq.lstrip("-").isdigit() or not int(seq) or not kind:
            raise PersistenceError(f"{path}: Invalid AOF manifest file format (line {number})")
        if os.path.basename(name) != name:
            raise PersistenceError(f"{path}: File can't be a path, just a filename (line {number})")
        file = path.parent / name
        if kind[0] == "b":
            if manifest.base is not None:
                raise PersistenceError(f"{path}: Found duplicate base file information (line {number})")
            manifest.base = file
        elif kind[0] == "i":
            if increments and int(seq) <= increments[-1][0]:
                raise PersistenceError(f"{path}: Found a non-monotonic sequence number (line {number})")
            increments.append((int(seq), file))
        elif kind[0] != "h":  # history files are left for Redis to delete
            raise PersistenceError(f"{path}: Unknown AOF file type (line {number})")
    manifest.increments = [file for _seq, file in increments]
    for file in manifest.files:
        if not file.is_file():
            raise PersistenceError(f"{path}: the AOF file {file.name} in the manifest does not exist")
    return manifest


def load_manifest(engine: Engine, path: Path) -> int:
    """Load every file the manifest at ``path`` lists into ``engine``; return the keys and commands loaded."""
    from .aof import load_append_only_file

    manifest = parse_manifest(path)
    loaded = 0
    files = manifest.files
    for index, file in enumerate(files):
        result = load_append_only_file(engine, file)
        if result.dropped_at is not None and index != len(files) - 1:
            raise CorruptFileError(str(file), result.dropped_at, "a command is cut short in a file that is not the last")
        loaded += result.commands
    return loaded


def retire_manifest(path: Path) -> Path:
    """Rename a loaded manifest aside (Redis then takes the engine's own ``appendonly.aof``); return the new path."""
    retired = path.with_name(path.name + RETIRED_SUFFIX)
    os.replace(path, retired)
    return retired
