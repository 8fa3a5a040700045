"""A database of the keyspace: keys, their values, their expiry times.

Values are plain Python objects whose type is the Redis type:

=============  ==========
``bytes``      string (HyperLogLogs too, as in Redis)
``dict``       hash
``deque``      list
``set``        set
``ZSet``       sorted set
=============  ==========

``lookup_read`` and ``lookup_write`` apply lazy expiry, so an expired key is
never seen by a handler.  Every change goes through :meth:`Database.modified`
so WATCH, the dirty counter (persistence, INFO) and blocked clients hear of it;
:meth:`Database.notify` publishes a keyspace event.  A database knows its
engine only through a :class:`Signals` object.

Each key's last access is kept in ``accessed`` (Redis's LRU clock, for
``OBJECT IDLETIME``): the lookups and the writes stamp it, in this module
only; ``lookup_read(..., touch=False)`` reads without stamping, as Redis's
``LOOKUP_NOTOUCH`` does for TYPE, EXISTS and OBJECT.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from time import monotonic as _clock
from typing import Any

from .replies import WRONGTYPE, ReplyError

TYPE_NAMES: dict[type, str] = {bytes: "string", dict: "hash", deque: "list", set: "set"}


def now_ms() -> int:
    """Return the Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


def type_name(value: Any) -> str:
    """Return the Redis type name (``TYPE`` reply) of a stored value."""
    name = TYPE_NAMES.get(type(value))
    if name is None:
        name = getattr(value, "type_name", "none")
    return name


class Signals:
    """What the databases of one engine tell it, and the little they need from it.

    A :class:`Database` holds this object, not the engine: the counters it
    keeps (``dirty``, hits, misses, expired keys), who watches or waits for
    a key (``watched_keys``, ``blocked_clients``, ``ready_keys``), where a
    keyspace event goes (``publisher``, while ``listening``), the clock
    frozen while EXEC or a script runs (``frozen_ms``), and two callbacks:
    ``touch(db_index, key)`` for watched keys (WATCH, client-side caching)
    and ``expired(db, key)`` when a key's time is up (the append-only file).
    """

    __slots__ = (
        "__weakref__", "blocked_clients", "config", "dirty", "expired", "expired_keys", "frozen_ms", "keyspace_hits",
        "keyspace_misses", "listening", "publisher", "ready_keys", "touch", "watched_keys",
    )

    def __init__(
        self, config: Any, touch: Callable[[int, bytes], None], expired: Callable[[Database, bytes], None],
    ) -> None:
        self.config = config  # (read for notify-keyspace-events: config.notify_classes)
        self.touch = touch
        self.expired = expired
        self.dirty = 0
        self.expired_keys = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.frozen_ms: int | None = None
        self.watched_keys: dict[tuple[int, bytes], set[Any]] = {}
        self.blocked_clients = 0
        self.ready_keys: set[tuple[int, bytes]] = set()
        self.listening = False  # somebody is subscribed to a channel or pattern
        self.publisher: Any = None  # the pub/sub hub: publisher.notify(db_index, event, key, flags)


class Database:
    """One numbered database: a dict of keys and a dict of expiry times (ms)."""

    __slots__ = ("accessed", "data", "encodings", "expires", "index", "signals")

    def __init__(self, index: int, signals: Signals) -> None:
        self.index = index
        self.signals = signals
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        # OBJECT ENCODING of strings whose encoding is not what SET would give
        # (APPEND/SETRANGE/SETBIT leave "raw", INCRBYFLOAT "embstr" ...).
        self.encodings: dict[bytes, str] = {}
        # key -> time.monotonic() of its last access (OBJECT IDLETIME).
        self.accessed: dict[bytes, float] = {}

    def __len__(self) -> int:
        return len(self.data)

    # -- lookups ---------------------------------------------------------
    def expire_if_needed(self, key: bytes) -> bool:
        """Delete ``key`` if its time is up; tell whether it was deleted."""
        when = self.expires.get(key)
        if when is None:
            return False
        signals = self.signals
        now = signals.frozen_ms
        if when >= (now_ms() if now is None else now):  # Redis: expired once now > when
            return False
        signals.expired_keys += 1
        del self.expires[key]
        del self.data[key]
        self.accessed.pop(key, None)
        if self.encodings:
            self.encodings.pop(key, None)
        self.notify("x", b"expired", key)
        signals.expired(self, key)
        return True

    def lookup_read(self, key: bytes, kind: type | None = None, touch: bool = True) -> Any:
        """Return the value at ``key`` (``None`` when absent), for a read; WRONGTYPE unless it is a ``kind``.

        ``touch=False`` leaves the key's access time alone (TYPE, EXISTS).
        """
        if self.expires and key in self.expires:
            self.expire_if_needed(key)
        value = self.data.get(key)
        if value is None:
            self.signals.keyspace_misses += 1
            return None
        self.signals.keyspace_hits += 1
        if touch:
            self.accessed[key] = _clock()
        if kind is not None and type(value) is not kind:
            raise ReplyError(WRONGTYPE)
        return value

    def lookup_write(self, key: bytes, kind: type | None = None) -> Any:
        """Like :meth:`lookup_read`, for a command about to write ``key`` (no hit or miss counted)."""
        if self.expires and key in self.expires:
            self.expire_if_needed(key)
        value = self.data.get(key)
        if value is not None:
            self.accessed[key] = _clock()
            if kind is not None and type(value) is not kind:
                raise ReplyError(WRONGTYPE)
        return value

    def exists(self, key: bytes) -> bool:
        """Tell whether ``key`` exists (after lazy expiry)."""
        if self.expires and key in self.expires:
            self.expire_if_needed(key)
        return key in self.data

    # -- writes ------------------------------------------------------------
    def set(self, key: bytes, value: Any, keep_ttl: bool = False, encoding: str | None = None) -> None:
        """Store ``value`` at ``key``, replacing any old value and (unless ``keep_ttl``) its TTL.

        The one place a value is stored (:meth:`add` comes here too), so WATCH,
        blocked clients and the dirty count hear of every write.  An already
        expired key is expired first, so ``keep_ttl`` never keeps a stale TTL.
        ``encoding`` records the OBJECT ENCODING of a string that differs from
        the one SET would give.  A new key is announced (``new``, class ``n``)
        as Redis's ``dbAdd`` does.
        """
        if self.expires and key in self.expires:
            self.expire_if_needed(key)
            if not keep_ttl:
                self.expires.pop(key, None)
        signals = self.signals
        if signals.listening and key not in self.data:
            self.notify("n", b"new", key)
        self.data[key] = value
        self.accessed[key] = _clock()
        if encoding is not None:
            self.encodings[key] = encoding
        elif self.encodings:
            self.encodings.pop(key, None)
        # modified() and signal_ready(), inlined: most writes come through here.
        signals.dirty += 1
        if signals.watched_keys:
            signals.touch(self.index, key)
        if signals.blocked_clients:
            signals.ready_keys.add((self.index, key))

    def add(self, key: bytes, value: Any, encoding: str | None = None) -> None:
        """Store a new value at an absent ``key`` (the caller checked); announce it (``new``)."""
        self.set(key, value, False, encoding)

    def delete(self, key: bytes) -> bool:
        """Delete ``key``; tell whether it existed."""
        if self.expires and key in self.expires:
            if self.expire_if_needed(key):
                return False
            del self.expires[key]
        if self.data.pop(key, None) is None:
            return False
        self.accessed.pop(key, None)
        if self.encodings:
            self.encodings.pop(key, None)
        self.modified(key)
        self.signal_ready(key)  # (Redis's signalDeletedKeyAsReady: a blocked XREADGROUP fails at once)
        return True

    def remove_if_empty(self, key: bytes, value: Any) -> None:
        """Delete ``key`` when its container ``value`` became empty (Redis never stores empty containers).

        Announces the deletion (``del``), after the event of the command
        that emptied it, as Redis's handlers do.
        """
        if not value:
            del self.data[key]
            self.accessed.pop(key, None)
            if self.expires:
                self.expires.pop(key, None)
            self.notify("g", b"del", key)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        """Set the absolute expiry time of an existing key, in Unix milliseconds."""
        self.expires[key] = when_ms

    def persist(self, key: bytes) -> bool:
        """Remove the expiry of ``key``; tell whether it had one."""
        return self.expires.pop(key, None) is not None

    def modified(self, key: bytes) -> None:
        """Record a change to ``key`` (Redis's ``signalModifiedKey``): WATCH, client-side caches, the dirty count.

        The dirty count is what the engine's call loop compares to decide a
        write command changed the keyspace and goes to the append-only file.
        """
        signals = self.signals
        signals.dirty += 1
        if signals.watched_keys:
            signals.touch(self.index, key)

    def notify(self, kind: str, event: bytes, key: bytes) -> None:
        """Publish keyspace event ``event`` of class ``kind`` (``"g"``, ``"$"``, ``"t"`` ...) for ``key``.

        Redis's ``notifyKeyspaceEvent``: a write handler calls it where it
        changes ``key``, next to :meth:`modified`.  Costs one attribute read
        while nobody asked for keyspace events.
        """
        signals = self.signals
        if signals.listening:
            flags = signals.config.notify_classes
            if flags and kind in flags and ("K" in flags or "E" in flags):
                signals.publisher.notify(self.index, event, key, flags)

    def idle_seconds(self, key: bytes) -> int:
        """Return the whole seconds since ``key`` was last read or written (OBJECT IDLETIME)."""
        return int(_clock() - self.accessed.get(key, _clock()))

    def signal_ready(self, key: bytes) -> None:
        """Wake clients blocked on ``key``; :meth:`set` and :meth:`add` already do."""
        signals = self.signals
        if signals.blocked_clients:
            signals.ready_keys.add((self.index, key))

    def flush(self) -> None:
        """Remove every key.

        While clients block, every removed key is signalled ready, as Redis's
        ``signalFlushedDb`` does: a blocked XREADGROUP learns its stream is
        gone, the other blocked commands find nothing and wait on.
        """
        signals = self.signals
        if signals.watched_keys:
            for key in self.data:
                signals.touch(self.index, key)
        if signals.blocked_clients:
            signals.ready_keys.update((self.index, key) for key in self.data)
        signals.dirty += len(self.data)
        self.data = {}
        self.expires = {}
        self.encodings = {}
        self.accessed = {}
