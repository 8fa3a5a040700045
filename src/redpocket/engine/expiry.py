"""The active expiry cycle: find and delete expired keys nobody reads.

Lazy expiry (in :mod:`.keyspace`) hides expired keys from every reply; this
cycle reclaims their memory.  Like Redis's ``activeExpireCycle`` it looks at
a sample of keys with an expiry and repeats while more than a quarter of the
sample had expired, within a time budget.  The sample is taken round-robin
(keys examined and still alive move to the back), which visits every key
with a TTL over successive cycles.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .keyspace import now_ms

if TYPE_CHECKING:
    from .keyspace import Database

SAMPLE_SIZE = 20
TIME_BUDGET = 0.001  # seconds per database per cycle


def active_expire_cycle(db: Database) -> int:
    """Delete expired keys found by sampling ``db``; return how many were deleted."""
    deleted = 0
    started = time.monotonic()
    expires = db.expires
    while expires:
        now = now_ms()
        expired_in_sample = 0
        for _ in range(min(SAMPLE_SIZE, len(expires))):
            key, when = next(iter(expires.items()))
            if when < now:
                db.expire_if_needed(key)
                expired_in_sample += 1
            else:
                del expires[key]
                expires[key] = when
        deleted += expired_in_sample
        if expired_in_sample * 4 <= SAMPLE_SIZE or time.monotonic() - started > TIME_BUDGET:
            break
    return deleted
