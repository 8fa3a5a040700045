"""Redis 7's multi-part append-only directory, the layout of the engine's append-only file too.

Redis 7.0 keeps its append-only file as a directory (``appenddirname``,
default ``appendonlydir``) holding a base file (an RDB, or commands), the
incremental command files written since, and a manifest listing them::

    file appendonly.aof.1.base.rdb seq 1 type b
    file appendonly.aof.1.incr.aof seq 1 type i

:func:`parse_manifest` reads that manifest and :func:`load_manifest` loads its
files in order (the base, then each incremental file; only the last may
end in a cut command, as Redis allows).

:class:`AofDirectory` is the engine's side: it appends to the last file
the manifest lists (an incremental file, or a base the engine wrote, which
is an RDB preamble followed by commands), and a rewrite replaces every part
by one new base (``appendonly.aof.<seq>.base.aof``) listed alone in the
manifest.  redis-server loads such a directory as it is (and starts an
incremental file of its own); the engine loads Redis's, and appends to its
last incremental file.  A plain ``appendonly.aof`` found in the data
directory (older versions of the engine, Redis 6) is moved into the
directory as its base, as Redis's upgrade does.
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


@dataclass
class Manifest:
    """The files of a multi-part append-only directory, in loading order."""

    path: Path
    base: Path | None = None
    increments: list[Path] = field(default_factory=list)
    base_seq: int = 0
    increment_seqs: list[int] = field(default_factory=list)
    history: list[tuple[str, int]] = field(default_factory=list)  # (name, seq) of replaced files

    @property
    def incr_seq(self) -> int:
        """Return the sequence number of the last incremental file (0 when there is none)."""
        return self.increment_seqs[-1] if self.increment_seqs else 0

    def lines(self) -> list[str]:
        """Return the manifest's lines: base, history, incremental files (``getAofManifestAsString``)."""
        lines = [manifest_line(self.base.name, self.base_seq, "b")] if self.base is not None else []
        lines.extend(manifest_line(name, seq, "h") for name, seq in self.history)
        lines.extend(manifest_line(file.name, seq, "i") for file, seq in zip(self.increments, self.increment_seqs, strict=True))
        return lines

    @property
    def files(self) -> list[Path]:
        """Return the base (if any) and the incremental files, in the order they load."""
        return ([self.base] if self.base is not None else []) + self.increments


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
            manifest.base_seq = int(seq)
        elif kind[0] == "i":
            if increments and int(seq) <= increments[-1][0]:
                raise PersistenceError(f"{path}: Found a non-monotonic sequence number (line {number})")
            increments.append((int(seq), file))
        elif kind[0] == "h":  # a file a rewrite replaced, not deleted yet
            manifest.history.append((name, int(seq)))
        else:
            raise PersistenceError(f"{path}: Unknown AOF file type (line {number})")
    manifest.increments = [file for _seq, file in increments]
    manifest.increment_seqs = [seq for seq, _file in increments]
    for file in manifest.files:
        if not file.is_file():
            raise PersistenceError(f"{path}: the AOF file {file.name} in the manifest does not exist")
    return manifest


def load_manifest(engine: Engine, manifest: Manifest) -> tuple[int, int | None, int]:
    """Load every file of ``manifest`` into ``engine``.

    Return ``(keys and commands loaded, offset where a cut-short tail of the
    last file begins or None, offset where the last file's valid data ends)``.
    """
    from .aof import load_append_only_file

    loaded = 0
    dropped_at: int | None = None
    valid_end = 0
    files = manifest.files
    for index, file in enumerate(files):
        result = load_append_only_file(engine, file)
        if result.dropped_at is not None and index != len(files) - 1:
            raise CorruptFileError(str(file), result.dropped_at, "a command is cut short in a file that is not the last")
        loaded += result.commands
        dropped_at, valid_end = result.dropped_at, result.valid_end
    return loaded, dropped_at, valid_end


def manifest_line(name: str, seq: int, kind: str) -> str:
    """Return one manifest line (``aofInfoFormat``)."""
    quoted = name if name.isprintable() and " " not in name and '"' not in name else '"' + name.replace('"', '\\"') + '"'
    return f"file {quoted} seq {seq} type {kind}\n"


class AofDirectory:
    """The engine's append-only directory: which file to append to, and the manifest that lists the parts."""

    def __init__(self, directory: Path, dirname: str, filename: str) -> None:
        self.root = directory
        self.path = directory / dirname
        self.filename = filename
        self.manifest_path = self.path / (filename + MANIFEST_SUFFIX)

    @property
    def legacy_file(self) -> Path:
        """Return the single-file append-only file of older layouts (in the data directory itself)."""
        return self.root / self.filename

    def read(self) -> Manifest | None:
        """Return the manifest, or ``None`` when the directory has none."""
        return parse_manifest(self.manifest_path) if self.manifest_path.is_file() else None

    def write(self, lines: list[str]) -> None:
        """Replace the manifest atomically (a temporary file, fsync, rename, fsync the directory)."""
        from .snapshot import fsync_directory

        self.path.mkdir(parents=True, exist_ok=True)
        temporary = self.path / ("temp-" + self.manifest_path.name)
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.manifest_path)
        fsync_directory(self.path)

    def upgrade_legacy(self) -> Manifest:
        """Move a single ``appendonly.aof`` into the directory as its base (Redis's ``aofUpgradePrepare``)."""
        self.write([manifest_line(self.filename, 1, "b")])
        os.replace(self.legacy_file, self.path / self.filename)
        manifest = self.read()
        assert manifest is not None
        return manifest

    def append_target(self, manifest: Manifest | None) -> Path:
        """Return the file to append to: the manifest's last file when it holds commands, else a new incremental file."""
        if manifest is not None and manifest.files and manifest.files[-1].name.endswith(".aof"):
            return manifest.files[-1]
        seq = (manifest.incr_seq if manifest is not None else 0) + 1
        incr = self.path / f"{self.filename}.{seq}.incr.aof"
        self.path.mkdir(parents=True, exist_ok=True)
        incr.touch()
        self.write([*(manifest.lines() if manifest is not None else []), manifest_line(incr.name, seq, "i")])
        return incr

    def next_base(self) -> Path:
        """Return the path of the base file a rewrite writes next (creating the directory if needed)."""
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self.read()
        seq = (manifest.base_seq if manifest is not None else 0) + 1
        return self.path / f"{self.filename}.{seq}.base.aof"

    def commit_base(self, base: Path) -> None:
        """List the rewritten ``base`` alone in the manifest, then delete the parts it replaces."""
        old = self.read()
        seq = int(base.name[len(self.filename) + 1 :].split(".", 1)[0])
        self.write([manifest_line(base.name, seq, "b")])
        if old is not None:
            for name in [*(name for name, _seq in old.history), *(file.name for file in old.files)]:
                if name != base.name:
                    (self.path / name).unlink(missing_ok=True)
