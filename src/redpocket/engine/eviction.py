"""maxmemory: evicting keys as Redis 7.0's ``evict.c`` does.

Before each command, while ``maxmemory`` is set, the engine asks
:meth:`Evictor.perform` to bring ``used_memory`` under the limit
(Redis's ``performEvictions``).  Under ``noeviction``, or when no key may
go, it fails and the engine refuses commands flagged ``denyoom`` with
Redis's ``-OOM`` error.

The policies pick keys as Redis does:

* ``*-lru``, ``*-lfu`` and ``volatile-ttl`` sample ``maxmemory-samples``
  keys of each database (of its ``expires`` for ``volatile-*``) into a
  pool of 16 candidates kept sorted by their score (idle time, 255 minus
  the decayed LFU counter, or how soon the key expires), and evict the best
  candidate that still exists;
* ``*-random`` evicts a random key, going round the databases.

Python dicts cannot give a random key, so while ``maxmemory`` is set each
database keeps its keys in a :class:`KeySampler` too: a list a new key is
appended to, sampled at random positions; a sampled key that no longer
exists is dropped from the list there and then, and the list is rebuilt
when it grows past twice the dict (O(1) amortised per write).

The LFU counter is Redis's: a logarithmic 8-bit counter (``lfu-log-factor``)
decremented by one every ``lfu-decay-time`` minutes, kept with the minute
it was last decremented in one int, ``(minutes << 8) | counter``, in
the database's ``accessed`` dict (where LRU keeps the last access time).

The work is bounded per command as Redis bounds it: past the time limit
``maxmemory-eviction-tenacity`` gives (500 microseconds by default) the
command runs anyway and the engine's cron goes on evicting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from time import monotonic as _clock
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .keyspace import Database

OOM_ERROR: Final = "OOM command not allowed when used memory > 'maxmemory'."
POOL_SIZE: Final = 16  # EVPOOL_SIZE
LFU_INIT_VAL: Final = 5
POLICIES: Final = (
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
    "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
)


def time_limit_seconds(tenacity: int) -> float:
    """Return how long one eviction run may take (Redis's ``evictionTimeLimitUs``)."""
    if tenacity <= 10:
        return 50e-6 * tenacity
    if tenacity < 100:
        return 500e-6 * 1.15 ** (tenacity - 10)
    return float("inf")


class KeySampler:
    """The keys of one dict in a list, to pick random ones in O(1) (see the module docstring)."""

    __slots__ = ("keys",)

    def __init__(self, keys: list[bytes]) -> None:
        self.keys = keys

    def append(self, key: bytes) -> None:
        """Add a key just added to the dict."""
        self.keys.append(key)

    def reset(self, keys: list[bytes]) -> None:
        """Start again from the dict's keys."""
        self.keys = keys

    def compact(self, source: dict[bytes, Any]) -> None:
        """Rebuild the list from ``source`` once it holds more than twice its keys (deleted keys pile up)."""
        if len(self.keys) > 2 * len(source) + 64:
            self.keys = list(source)

    def sample(self, source: dict[bytes, Any], count: int) -> list[bytes]:
        """Return up to ``count`` distinct random keys of ``source`` (fewer when it has fewer)."""
        keys = self.keys
        if len(keys) > 2 * len(source) + 64:
            keys = self.keys = list(source)
        found: list[bytes] = []
        repeats = count * 3 + 8  # (a live key drawn twice: bounded, as few keys may be live)
        randbelow = random.randrange
        while len(found) < count and keys and repeats:
            position = randbelow(len(keys))
            key = keys[position]
            if key not in source:  # deleted since it was appended: drop it (swap with the last), O(1)
                last = keys.pop()
                if position < len(keys):
                    keys[position] = last
                continue
            if key in found:
                repeats -= 1
            else:
                found.append(key)
        return found


class LFUClock:
    """Redis's LFU counter arithmetic, with the engine's ``lfu-log-factor`` and ``lfu-decay-time``."""

    __slots__ = ("config",)

    def __init__(self, config: Any) -> None:
        self.config = config

    @staticmethod
    def minutes() -> int:
        """Return the 16-bit minute clock (``LFUGetTimeInMinutes``)."""
        return int(time.time() // 60) & 65535

    def initial(self) -> int:
        """Return the word of a new key: the current minute, counter ``LFU_INIT_VAL``."""
        return (self.minutes() << 8) | LFU_INIT_VAL

    def decayed(self, word: Any) -> int:
        """Return the counter after its decay (``LFUDecrAndReturn``): OBJECT FREQ, the eviction score."""
        if word.__class__ is not int:  # an LRU time left from before the policy changed (or none)
            return 0
        stamp = word >> 8
        counter = word & 255
        decay = self.config.get_int("lfu-decay-time")
        if decay:
            now = self.minutes()
            elapsed = now - stamp if now >= stamp else 65535 - stamp + now
            periods = elapsed // decay
            if periods:
                counter = 0 if periods > counter else counter - periods
        return counter

    def touch(self, accessed: dict[bytes, Any], key: bytes) -> None:
        """Count one access of ``key`` (``updateLFU``): decay, then a logarithmic increment."""
        counter = self.decayed(accessed.get(key))
        if counter < 255:
            base = counter - LFU_INIT_VAL
            if base < 0:
                base = 0
            if random.random() < 1.0 / (base * self.config.get_int("lfu-log-factor") + 1):
                counter += 1
        accessed[key] = (self.minutes() << 8) | counter

    def set_frequency(self, accessed: dict[bytes, Any], key: bytes, counter: int) -> None:
        """Set ``key``'s counter (RESTORE ... FREQ)."""
        accessed[key] = (self.minutes() << 8) | counter


class Evictor:
    """One engine's eviction: the policy in force, the candidate pool and the counters INFO shows."""

    def __init__(
        self, databases: list[Database], config: Any, used_memory: Callable[[], int],
        evicted: Callable[[Database, bytes], None],
    ) -> None:
        self.databases = databases
        self.config = config
        self.used_memory = used_memory
        self.evicted = evicted  # the engine's hook: keyspace event, WATCH and tracking, the AOF's DEL
        self.maxmemory = 0
        self.policy = "noeviction"
        self.lfu_clock = LFUClock(config)
        self.pool: list[tuple[float, int, bytes]] = []  # (score, db index, key), best last
        self.evicted_keys = 0
        self.exceeded_since: float | None = None  # when used memory first went over (INFO's eviction times)
        self.exceeded_total = 0.0
        self.pending = False  # a run stopped at its time limit: the cron goes on
        self.next_db = 0  # where *-random goes on

    # -- settings -------------------------------------------------------------
    def configure(self) -> None:
        """Take ``maxmemory`` and ``maxmemory-policy`` from the configuration; set up sampling and clocks."""
        self.maxmemory = self.config.get_int("maxmemory")
        policy = self.config.get("maxmemory-policy")
        self.policy = policy
        lfu = "lfu" in policy
        for db in self.databases:
            if self.maxmemory:
                if db.sampler is None:
                    db.sampler = KeySampler(list(db.data))
                    db.volatile_sampler = KeySampler(list(db.expires))
            else:
                db.sampler = db.volatile_sampler = None
            # Like Redis, the stamps already kept stay: an LRU time read as an LFU word
            # counts as a fully decayed counter, an LFU word read as an LRU time as a fresh access.
            db.lfu = self.lfu_clock if lfu else None
        self.pool.clear()

    # -- evicting ------------------------------------------------------------
    def perform(self) -> bool:
        """Free memory down to ``maxmemory`` (Redis's ``performEvictions``); tell whether commands may grow it.

        False (Redis's ``EVICT_FAIL``) when memory is over the limit and no
        key may be evicted; True when under it, or when the run stopped at
        its time limit having freed something (the cron goes on).
        """
        used = self.used_memory()
        if used <= self.maxmemory:
            if self.exceeded_since is not None:
                self.exceeded_total += _clock() - self.exceeded_since
                self.exceeded_since = None
            self.pending = False
            return True
        if self.exceeded_since is None:
            self.exceeded_since = _clock()
        if self.policy == "noeviction":
            return False
        for db in self.databases:  # (a sampler the policy does not read still drops its deleted keys)
            if db.sampler is not None:
                db.sampler.compact(db.data)
                db.volatile_sampler.compact(db.expires)
        started = _clock()
        limit = time_limit_seconds(self.config.get_int("maxmemory-eviction-tenacity"))
        evicted = 0
        while used > self.maxmemory:
            found = self._select()
            if found is None:
                return False
            db, key = found
            self.evicted(db, key)
            self.evicted_keys += 1
            evicted += 1
            if not evicted & 15:
                used = self.used_memory()
                if _clock() - started > limit:
                    self.pending = used > self.maxmemory
                    return True
            else:
                used = self.used_memory()
        self.pending = False
        return True

    def _select(self) -> tuple[Database, bytes] | None:
        policy = self.policy
        volatile = policy.startswith("volatile")
        if policy.endswith("random"):
            return self._random(volatile)
        return self._from_pool(volatile)

    def _random(self, volatile: bool) -> tuple[Database, bytes] | None:
        databases = self.databases
        for _ in range(len(databases)):
            db = databases[self.next_db % len(databases)]
            self.next_db += 1
            source = db.expires if volatile else db.data
            if source and db.sampler is not None:
                sampler = db.volatile_sampler if volatile else db.sampler
                keys = sampler.sample(source, 1)
                if keys:
                    return db, keys[0]
        return None

    def _from_pool(self, volatile: bool) -> tuple[Database, bytes] | None:
        pool = self.pool
        databases = self.databases
        while True:
            total = 0
            for db in databases:
                source = db.expires if volatile else db.data
                if source and db.sampler is not None:
                    total += len(source)
                    self._populate(db, source, db.volatile_sampler if volatile else db.sampler)
            if not total:
                return None
            while pool:  # the best candidate that still exists
                _score, index, key = pool.pop()
                db = databases[index]
                if key in (db.expires if volatile else db.data):
                    return db, key
            # every candidate was a ghost: sample again (Redis loops the same way)

    def _populate(self, db: Database, source: dict[bytes, Any], sampler: KeySampler) -> None:
        """Add ``maxmemory-samples`` keys of ``db`` to the pool (``evictionPoolPopulate``)."""
        policy = self.policy
        pool = self.pool
        accessed = db.accessed
        now = _clock()
        for key in sampler.sample(source, self.config.get_int("maxmemory-samples")):
            if policy.endswith("lru"):
                stamp = accessed.get(key, now)
                score = now - stamp if stamp.__class__ is float else 0.0
            elif policy.endswith("lfu"):
                score = 255 - self.lfu_clock.decayed(accessed.get(key))
            else:  # volatile-ttl: the sooner it expires, the better
                score = -float(db.expires[key])
            entry = (score, db.index, key)
            if len(pool) < POOL_SIZE:
                if entry not in pool:
                    pool.append(entry)
                    pool.sort()
            elif score > pool[0][0] and entry not in pool:
                pool[0] = entry
                pool.sort()

    # -- what INFO shows --------------------------------------------------------
    def exceeded_seconds(self) -> tuple[float, float]:
        """Return (total, current) seconds spent over the limit (``total_eviction_exceeded_time``)."""
        current = 0.0 if self.exceeded_since is None else _clock() - self.exceeded_since
        return self.exceeded_total + current, current

    def reset_stats(self) -> None:
        """Zero the counters (CONFIG RESETSTAT)."""
        self.evicted_keys = 0
        self.exceeded_total = 0.0
        if self.exceeded_since is not None:
            self.exceeded_since = _clock()
