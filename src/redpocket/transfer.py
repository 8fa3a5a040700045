"""Copy keys between any two stores that speak Redis: ``redpocket export`` / ``redpocket import``.

:func:`transfer` copies every key, the keys matching a pattern, or the keys
of ORM models (each model's keys share its ``{ns:Model}`` hash tag, see
:mod:`redpocket.orm.keys`) from a *source* to a *destination*, each one of:

- a connection URL (:func:`redpocket.connections.client_from_url`):
  ``memory://``, ``file:///dir`` (the embedded engine), ``redis://host:port/db``
  (a Redis, Valkey or ``redpocket serve``), ``redis+cluster://host:port``;
- a redis-py client (``redis.Redis`` or ``redis.cluster.RedisCluster``);
- as a source only, the path of an RDB file (``dump.rdb`` of redis-server
  or redpocket), read into a private in-memory engine.

It runs in three steps, all through redis-py clients:

1. **list** the selected keys with ``SCAN MATCH`` (on a cluster, on every
   master), kept in the state file when there is one;
2. **copy** them in batches: one pipeline of ``DUMP`` + ``PEXPIRETIME`` per
   batch on the source, one of ``RESTORE key deadline payload REPLACE
   ABSTTL`` on the destination (on a cluster, redis-py's cluster pipeline
   sends each node the commands of its slots, the batch sorted by slot);
   a key gone or expired meanwhile is skipped.  Every second, and when
   interrupted, the state file records how far the copy got, so the same
   call (or command) after an interruption goes on from there, with the key
   list of the first run (and tries the keys refused last time again);
3. **verify**: every copied key must exist on the destination (``EXISTS``
   in batches), unless its deadline passed meanwhile.  Keys a RESTORE
   refused (a custom structure's module type on a Redis without the
   module, a version the destination cannot read) and missing keys raise
   :class:`~redpocket.errors.TransferError`, which lists them.

The source needs Redis 7.0's ``PEXPIRETIME``; values keep their exact
deadlines and types (the payload is Redis's own ``DUMP`` serialization).
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.cluster import RedisCluster

from . import CorruptFileError, PersistenceError  # (the engine's file errors, as the package exports them)
from .client import EmbeddedRedis, engine_from_rdb_file
from .connections import Client, client_from_url
from .errors import ConfigurationError, TransferError
from .orm.keys import key_pattern

Progress = Callable[[int, int], None]
"""Called after each batch with (keys done, keys selected)."""

BATCH = 1000
# How many failed or missing keys an error message names (TransferError.failed has them all).
_LISTED = 20
# Seconds between two saves of the state file (and on interruption): a crash redoes at most this much copying.
_CHECKPOINT = 1.0
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


@dataclass
class TransferReport:
    """What a transfer did: keys selected at the start, copied, skipped (gone or expired meanwhile), verified."""

    selected: int = 0
    copied: int = 0
    skipped: int = 0
    verified: int = 0
    resumed_from: int = 0
    seconds: float = 0.0

    @property
    def keys_per_second(self) -> float:
        """Return the copy rate of this run."""
        return (self.copied - self.resumed_from) / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        resumed = f", resumed after {self.resumed_from}" if self.resumed_from else ""
        return (f"{self.copied} of {self.selected} keys copied{resumed}, {self.skipped} skipped (gone or expired), "
                f"{self.verified} verified on the destination in {self.seconds:.2f}s")


# -- the two ends ----------------------------------------------------------------------

def open_store(location: str | os.PathLike[str] | Client, *, source: bool) -> Client:
    """Return a client of ``location``: a URL, a redis-py client, or (as a source) an RDB file's path."""
    if isinstance(location, redis.Redis | RedisCluster):
        if location.get_encoder().decode_responses:
            raise ConfigurationError("a transfer's clients must not decode replies (DUMP payloads are bytes): "
                                     "pass one made without decode_responses=True")
        return location
    if not isinstance(location, str | os.PathLike):
        raise ConfigurationError(f"a transfer's ends are URLs, redis-py clients or RDB files, not {type(location).__name__}")
    text = os.fspath(location)
    if _URL.match(text):
        try:
            return client_from_url(text)
        except PersistenceError as error:  # (a file:// directory another engine holds, or one that cannot load)
            raise TransferError(str(error)) from None
    if not source:
        raise ConfigurationError(f"{text!r} is not a URL: a destination is a URL (memory://, file:///dir, redis://...)")
    path = Path(text)
    if not path.is_file():
        raise TransferError(f"{text}: no such RDB file (a source is a URL or the path of an RDB file)")
    try:
        return EmbeddedRedis(engine_from_rdb_file(path))
    except OSError as error:
        raise TransferError(f"{text}: cannot read the RDB file: {error.strerror or error}") from None
    except CorruptFileError as error:
        raise TransferError(f"{text} is not a readable RDB file: {error.reason} (at offset {error.offset})") from None
    except PersistenceError as error:  # (a custom structure this process has not registered ...)
        raise TransferError(f"{text}: {error}") from None


def model_patterns(models: Iterable[Any]) -> list[bytes]:
    """Return the SCAN patterns of the keys of ``models`` (classes or ``"module:Model"`` names)."""
    patterns: list[bytes] = []
    for model in models:
        if isinstance(model, str):
            model = import_model(model)
        meta = getattr(model, "_meta", None)
        if meta is None or not hasattr(meta, "namespace"):
            raise ConfigurationError(f"{model!r} is not a redpocket model class")
        tag = "{%s:%s" % (meta.namespace, meta.name)
        patterns += [key_pattern(tag + "}"), key_pattern(tag + ":")]  # the model's tag, and its partitions' tags
    return patterns


def import_model(spec: str) -> Any:
    """Import ``module:Model`` and return the class."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ConfigurationError(f"expected module:Model, not {spec!r}")
    try:
        model: Any = importlib.import_module(module_name)
        for part in name.split("."):
            model = getattr(model, part)
    except (ImportError, AttributeError) as error:
        raise ConfigurationError(f"cannot import {spec}: {error}") from None
    return model


# -- the state file: the key list and how far the copy got -------------------------------

@dataclass
class _State:
    """A transfer's progress, kept in ``path`` (JSON) and its key list in ``path + ".keys"``."""

    path: Path | None
    identity: dict[str, Any]
    keys: list[bytes] = field(default_factory=list)
    done: int = 0
    skipped: dict[bytes, None] = field(default_factory=dict)  # (a set in listing order: a batch may be redone)
    failed: dict[bytes, str] = field(default_factory=dict)
    # The deadlines (ms) of the copied keys that have one: such a key may be gone from the destination at the end.
    deadlines: dict[bytes, int] = field(default_factory=dict)

    @property
    def keys_path(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.name + ".keys")

    @classmethod
    def resume(cls, path: Path | None, identity: dict[str, Any]) -> _State | None:
        """Return the saved state of the same transfer, or ``None`` when there is none."""
        if path is None or not path.exists():
            return None
        try:
            saved = json.loads(path.read_text())
            state = cls(path, identity, done=int(saved["done"]))
            if saved["identity"] != identity:
                raise TransferError(f"the state file {path} belongs to another transfer ({saved['identity']}): "
                                    "delete it, or give another state file")
            state.skipped = dict.fromkeys(_unb64(key) for key in saved["skipped"])
            state.failed = {_unb64(key): reason for key, reason in saved["failed"].items()}
            state.deadlines = {_unb64(key): int(deadline) for key, deadline in saved["deadlines"].items()}
            state.keys = [_unb64(line) for line in state.keys_path.read_text().split()]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise TransferError(f"the state file {path} cannot be read ({error}): delete it to start over") from None
        return state

    def save_keys(self) -> None:
        if self.path is not None:
            _write_atomically(self.keys_path, "".join(_b64(key) + "\n" for key in self.keys))
            self.save()

    def save(self) -> None:
        if self.path is not None:
            saved = {"identity": self.identity, "done": self.done, "skipped": [_b64(key) for key in self.skipped],
                     "failed": {_b64(key): reason for key, reason in self.failed.items()},
                     "deadlines": {_b64(key): deadline for key, deadline in self.deadlines.items()}}
            _write_atomically(self.path, json.dumps(saved))

    def remove(self) -> None:
        if self.path is not None:
            for path in (self.path, self.keys_path):
                path.unlink(missing_ok=True)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _describe(location: Any) -> str:
    """Name an end in messages and the state file: its URL with the password masked, a path, or the client."""
    if isinstance(location, str | os.PathLike):
        return _PASSWORD.sub(r"\1***@", os.fspath(location))
    return repr(location)


# -- the transfer ------------------------------------------------------------------------

def transfer(
    source: str | os.PathLike[str] | Client,
    destination: str | Client,
    *,
    pattern: str | bytes | None = None,
    models: Iterable[Any] = (),
    batch: int = BATCH,
    state_file: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> TransferReport:
    """Copy the selected keys of ``source`` to ``destination`` (see the module docstring); return the report.

    ``pattern`` (a SCAN glob) or ``models`` (classes or ``"module:Model"``)
    select keys; neither selects every key.  With ``state_file``, an
    interrupted transfer called again goes on where it stopped; the file
    is deleted once the transfer is verified.  Raises
    :class:`~redpocket.errors.TransferError` (unreachable end, unreadable
    file, keys not copied) or :class:`~redpocket.errors.ConfigurationError`
    (a bad URL or model name).
    """
    if batch < 1:
        raise ConfigurationError(f"batch must be a positive number of keys, not {batch}")
    models = list(models)
    if pattern is not None and models:
        raise ConfigurationError("select keys by a pattern or by models, not both")
    patterns = model_patterns(models) if models else [pattern.encode() if isinstance(pattern, str) else (pattern or b"*")]
    identity = {"source": _describe(source), "destination": _describe(destination),
                "patterns": [_b64(item) for item in patterns]}
    path = Path(state_file) if state_file is not None else None
    started = time.perf_counter()
    from_client = open_store(source, source=True)
    try:
        to_client = open_store(destination, source=False)
    except BaseException:
        if from_client is not source:
            from_client.close()
        raise
    report = TransferReport()
    try:
        for client, location, role in ((from_client, source, "source"), (to_client, destination, "destination")):
            try:
                client.ping()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                raise _reachable(location, role)(error) from None
        state = _State.resume(path, identity)
        if state is None:
            state = _State(path, identity, keys=_list_keys(from_client, patterns, "source", source))
            state.save_keys()
        report.resumed_from = state.done
        refused, state.failed = list(state.failed), {}
        for chunk in _chunks(refused, batch):  # (the destination may accept them now: an ACL fixed ...)
            _copy(from_client, to_client, chunk, state, source, destination)
        total = len(state.keys)
        if progress is not None:
            progress(state.done, total)
        saved = time.monotonic()
        try:
            while state.done < total:
                chunk = state.keys[state.done : state.done + batch]
                _copy(from_client, to_client, chunk, state, source, destination)
                state.done += len(chunk)
                if time.monotonic() - saved >= _CHECKPOINT:
                    state.save()
                    saved = time.monotonic()
                if progress is not None:
                    progress(state.done, total)
        finally:  # (interrupted, failed or done: the state says how far the copy got)
            state.save()
        report.selected = total
        report.skipped = len(state.skipped)
        report.copied = total - report.skipped - len(state.failed)
        missing = _verify(to_client, state, batch, destination)
        report.verified = report.copied - len(missing)
        report.seconds = time.perf_counter() - started
        problems = {**state.failed, **{key: "missing on the destination after the copy" for key in missing}}
        if problems:
            raise TransferError(_failure_message(problems, report), problems)
        state.remove()
        return report
    finally:
        for client, given in ((from_client, source), (to_client, destination)):
            if client is not given:
                client.close()


def _failure_message(problems: dict[bytes, str], report: TransferReport) -> str:
    lines = [f"{len(problems)} of {report.selected} keys were not copied:"]
    lines += [f"  {key!r}: {reason}" for key, reason in list(problems.items())[:_LISTED]]
    if len(problems) > _LISTED:
        lines.append(f"  ... and {len(problems) - _LISTED} more")
    return "\n".join(lines)


def _reachable(location: Any, role: str) -> Callable[[redis.ConnectionError | redis.TimeoutError], TransferError]:
    def fail(error: redis.ConnectionError | redis.TimeoutError) -> TransferError:
        return TransferError(f"cannot reach the {role} {_describe(location)}: {error}")

    return fail


def _list_keys(client: Client, patterns: list[bytes], role: str, location: Any) -> list[bytes]:
    """SCAN the keys matching ``patterns`` (on a cluster, every master), each once."""
    seen: dict[bytes, None] = {}
    try:
        for item in patterns:
            for key in client.scan_iter(match=item, count=1000):
                seen[key if isinstance(key, bytes) else str(key).encode()] = None
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise _reachable(location, role)(error) from None
    return list(seen)


def _run_batch(client: Client, commands: list[tuple[bytes, ...]]) -> list[Any]:
    """Send ``commands`` in one round trip (per node on a cluster); return the replies, errors as exceptions.

    To a server, the batch goes out as one RESP buffer on one connection
    (redis-py's pipeline spends most of a copy's time packing arguments
    one by one); to the embedded engine or a cluster, through redis-py's
    pipeline (the cluster's sends each node the commands of its slots).
    """
    if isinstance(client, RedisCluster | EmbeddedRedis) or not isinstance(client, redis.Redis):
        pipe = client.pipeline(transaction=False)
        for name, *arguments in commands:  # (redis-py's cluster routing wants the command name as text)
            pipe.execute_command(name.decode(), *arguments)
        return list(pipe.execute(raise_on_error=False))
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command([_resp(commands)])
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(connection.read_response(disable_decoding=True))
            except redis.ResponseError as error:  # (an error reply: the connection reads on)
                replies.append(error)
        return replies
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


def _resp(commands: list[tuple[bytes, ...]]) -> bytes:
    """Encode commands of bytes arguments as RESP arrays of bulk strings."""
    parts: list[bytes] = []
    for command in commands:
        parts.append(b"*%d\r\n" % len(command))
        for argument in command:
            parts.append(b"$%d\r\n%s\r\n" % (len(argument), argument))
    return b"".join(parts)


def _by_slot(client: Client, keys: list[bytes]) -> list[bytes]:
    """Return ``keys`` sorted by cluster slot on a cluster (so each node's commands go together), else as given."""
    if isinstance(client, RedisCluster):
        return sorted(keys, key=client.keyslot)
    return keys


def _copy(from_client: Client, to_client: Client, keys: list[bytes], state: _State, source: Any, destination: Any) -> None:
    """DUMP one batch from the source, RESTORE it on the destination; record skipped and refused keys."""
    try:
        ordered = _by_slot(from_client, keys)
        reading: list[tuple[bytes, ...]] = []
        for key in ordered:
            reading += [(b"DUMP", key), (b"PEXPIRETIME", key)]
        replies = _run_batch(from_client, reading)
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise _reachable(source, "source")(error) from None
    now = int(time.time() * 1000)
    writing: list[tuple[bytes, ...]] = []
    restored: list[bytes] = []
    for index, key in enumerate(ordered):
        payload, deadline = replies[2 * index], replies[2 * index + 1]
        if isinstance(payload, Exception):
            state.failed[key] = f"DUMP failed on the source: {payload}"
        elif isinstance(deadline, Exception):
            state.failed[key] = f"PEXPIRETIME failed on the source (Redis 7.0 or later is needed): {deadline}"
        elif payload is None or deadline == -2 or (deadline >= 0 and deadline <= now):
            state.skipped[key] = None  # (deleted or expired since it was listed)
        else:
            writing.append((b"RESTORE", key, b"%d" % max(int(deadline), 0), payload, b"REPLACE", b"ABSTTL"))
            restored.append(key)
            if deadline >= 0:
                state.deadlines[key] = int(deadline)
    if not restored:
        return
    try:
        results = _run_batch(to_client, writing)
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise _reachable(destination, "destination")(error) from None
    for key, result in zip(restored, results, strict=True):
        if isinstance(result, Exception):
            state.failed[key] = f"RESTORE refused by the destination: {result}"
        else:
            state.failed.pop(key, None)


def _verify(to_client: Client, state: _State, batch: int, destination: Any) -> list[bytes]:
    """Return the copied keys the destination does not hold (those whose deadline passed excepted)."""
    excluded = state.skipped.keys() | state.failed.keys()
    copied = [key for key in state.keys if key not in excluded]
    missing: list[bytes] = []
    try:
        for chunk in _chunks(copied, batch):
            found = _run_batch(to_client, [(b"EXISTS", key) for key in chunk])
            for reply in found:
                if isinstance(reply, Exception):
                    raise TransferError(f"EXISTS failed on the destination {_describe(destination)}: {reply}")
            absent = [key for key, exists in zip(chunk, found, strict=True) if not exists]
            if absent:  # (a key whose deadline passed since it was copied is gone: that is no loss)
                now = int(time.time() * 1000)
                missing += [key for key in absent if state.deadlines.get(key, now + 1) > now]
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise _reachable(destination, "destination")(error) from None
    return missing


def _chunks(keys: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]
