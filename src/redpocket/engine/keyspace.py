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
``LOOKUP_NOTOUCH`` does for TYPE, EXISTS and OBJECT.  Under an LFU
``maxmemory-policy`` (``lfu`` set on the database) the same dict holds
Redis's LFU word instead, ``(minutes << 8) | counter`` (see :mod:`.eviction`).

Each database keeps the bytes its keys and values take (``used``, see
:mod:`.memory`) up to date on every write: a string's size is known from
its length, a container's last estimate is kept in ``sizes`` and made again
after :meth:`Database.modified` heard the key changed (``stale``, folded
by :meth:`Database.settle` whenever the total is read: handlers signal
before or after they change a container).  While ``maxmemory``
is set, ``sampler`` and ``volatile_sampler`` hold the keys eviction samples.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from time import monotonic as _clock
from typing import Any

from .memory import KEY_BASE, STRING_BASE, key_size, value_size
from .replies import WRONGTYPE, ReplyError

_NO_SIZE: tuple[int, float, int] = (0, 0.0, 0)
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

    __slots__ = (
        "accessed", "data", "encodings", "expires", "index", "lfu", "sampler", "signals", "sizes", "stale", "used",
        "volatile_sampler",
    )

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
        self.used = 0  # bytes of keys and values (memory.py); the tables are measured when asked
        self.sizes: dict[bytes, tuple[int, float, int]] = {}  # container key -> memory.value_size()
        self.stale: set[bytes] = set()  # containers changed since their size was last estimated (settle())
        self.lfu: Any = None  # the eviction policy's LFU clock while an LFU policy is set (eviction.py)
        self.sampler: Any = None  # KeySampler of data's keys, while maxmemory is set
        self.volatile_sampler: Any = None  # KeySampler of expires' keys, while maxmemory is set

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
        self.forget(key, self.data.pop(key))
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
            if self.lfu is None:
                self.accessed[key] = _clock()
            else:
                self.lfu.touch(self.accessed, key)
        if kind is not None and type(value) is not kind:
            raise ReplyError(WRONGTYPE)
        return value

    def lookup_write(self, key: bytes, kind: type | None = None) -> Any:
        """Like :meth:`lookup_read`, for a command about to write ``key`` (no hit or miss counted)."""
        if self.expires and key in self.expires:
            self.expire_if_needed(key)
        value = self.data.get(key)
        if value is not None:
            if self.lfu is None:
                self.accessed[key] = _clock()
            else:
                self.lfu.touch(self.accessed, key)
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
        data = self.data
        old = data.get(key)
        if old is None:
            if signals.listening:
                self.notify("n", b"new", key)
            if self.sampler is not None:
                self.sampler.append(key)
            if value.__class__ is bytes:  # (one update of the count on the common paths)
                self.used += KEY_BASE + STRING_BASE + len(key) + len(value)
            else:
                self._store_container(key, value, KEY_BASE + len(key))
        elif value.__class__ is bytes:
            if old.__class__ is bytes:
                self.used += len(value) - len(old)
            else:
                self.used += STRING_BASE + len(value) - self.sizes.pop(key, _NO_SIZE)[0]
        elif old.__class__ is bytes:
            self._store_container(key, value, -STRING_BASE - len(old))
        else:
            self._store_container(key, value, -self.sizes.pop(key, _NO_SIZE)[0])
        data[key] = value
        if self.lfu is None:
            self.accessed[key] = _clock()
        elif old is None:
            self.accessed[key] = self.lfu.initial()
        else:
            self.lfu.touch(self.accessed, key)
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

    def _store_container(self, key: bytes, value: Any, delta: int) -> None:
        """Count a container stored at ``key`` (``delta``: the change for the key and the old value)."""
        size = self.sizes[key] = value_size(value, None)
        self.used += size[0] + delta
        self.stale.add(key)  # (a new container is often filled after it is stored)

    def add(self, key: bytes, value: Any, encoding: str | None = None) -> None:
        """Store a new value at an absent ``key`` (the caller checked); announce it (``new``)."""
        self.set(key, value, False, encoding)

    def delete(self, key: bytes) -> bool:
        """Delete ``key``; tell whether it existed."""
        if self.expires and key in self.expires:
            if self.expire_if_needed(key):
                return False
            del self.expires[key]
        value = self.data.pop(key, None)
        if value is None:
            return False
        self.forget(key, value)
        self.modified(key)
        self.signal_ready(key)  # (Redis's signalDeletedKeyAsReady: a blocked XREADGROUP fails at once)
        return True

    def evict(self, key: bytes) -> None:
        """Evict ``key`` (maxmemory): forget it, signal the change and announce ``evicted``, as Redis's performEvictions."""
        value = self.data.pop(key)
        if self.expires:
            self.expires.pop(key, None)
        self.forget(key, value)
        self.modified(key)
        self.notify("e", b"evicted", key)

    def remove_if_empty(self, key: bytes, value: Any) -> None:
        """Delete ``key`` when its container ``value`` became empty (Redis never stores empty containers).

        Announces the deletion (``del``), after the event of the command
        that emptied it, as Redis's handlers do.
        """
        if not value:
            self.forget(key, self.data.pop(key))
            if self.expires:
                self.expires.pop(key, None)
            self.notify("g", b"del", key)

    def forget(self, key: bytes, value: Any) -> None:
        """Drop what the database keeps about a key just removed from ``data`` (access time, size, encoding)."""
        self.accessed.pop(key, None)
        if value.__class__ is bytes:
            self.used -= STRING_BASE + len(value) + KEY_BASE + len(key)
        else:
            self.used -= self.sizes.pop(key, _NO_SIZE)[0] + KEY_BASE + len(key)
        if self.encodings:
            self.encodings.pop(key, None)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        """Set the absolute expiry time of an existing key, in Unix milliseconds."""
        if self.volatile_sampler is not None and key not in self.expires:
            self.volatile_sampler.append(key)
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
        if key in self.sizes:  # a container changes in place (often after this call): measure it later
            self.stale.add(key)

    def settle(self) -> None:
        """Estimate again the containers changed since the last time (O(1) each, memory.py); ``used`` is then exact."""
        sizes = self.sizes
        data = self.data
        used = self.used
        for key in self.stale:
            previous = sizes.get(key)
            if previous is not None:
                size = sizes[key] = value_size(data[key], previous)
                used += size[0] - previous[0]
        self.used = used
        self.stale.clear()

    def account(self, key: bytes, old: Any) -> None:
        """Count the change of ``key``'s value from ``old`` when a caller stored it in ``data`` itself."""
        value = self.data.get(key)
        if old is None:
            self.used += key_size(key)
        elif old.__class__ is bytes:
            self.used -= STRING_BASE + len(old)
        if value.__class__ is bytes:
            self.used += STRING_BASE + len(value)
        if old is None and self.sampler is not None:
            self.sampler.append(key)

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

    def set_access(self, key: bytes, idle_seconds: int, frequency: int) -> None:
        """Set ``key``'s LFU counter (``frequency``) or idle time (Redis's ``objectSetLRUOrLFU``); -1: unchanged."""
        if self.lfu is not None:
            if frequency >= 0:
                self.lfu.set_frequency(self.accessed, key, frequency)
        elif idle_seconds >= 0:
            self.accessed[key] = _clock() - idle_seconds

    def idle_seconds(self, key: bytes) -> int:
        """Return the whole seconds since ``key`` was last read or written (OBJECT IDLETIME)."""
        now = _clock()
        stamp = self.accessed.get(key, now)
        return int(now - stamp) if stamp.__class__ is float else 0  # (an int is an LFU word: policy changed)

    def signal_ready(self, key: bytes) -> None:
        """Wake clients blocked on ``key``; :meth:`set` and :meth:`add` already do."""
        signals = self.signals
        if signals.blocked_clients:
            signals.ready_keys.add((self.index, key))

    def recount(self) -> None:
        """Measure every key again (after a loader filled ``data`` itself): O(n), never on a write."""
        used = 0
        sizes: dict[bytes, tuple[int, float, int]] = {}
        for key, value in self.data.items():
            used += KEY_BASE + len(key)
            if value.__class__ is bytes:
                used += STRING_BASE + len(value)
            else:
                size = sizes[key] = value_size(value, None)
                used += size[0]
        self.used = used
        self.sizes = sizes
        self.stale = set()
        if self.sampler is not None:
            self.sampler.reset(list(self.data))
            self.volatile_sampler.reset(list(self.expires))

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
        self.sizes = {}
        self.stale = set()
        self.used = 0
        if self.sampler is not None:
            self.sampler.reset([])
            self.volatile_sampler.reset([])
