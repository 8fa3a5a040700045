"""The hash type: its encoding rule (listpack or hashtable) as Redis 7.0 applies it, and its helpers.

A hash is a ``dict`` of ``bytes`` fields to ``bytes`` values, in listpack
order.  The commands are in ``commands/hashes.py``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from itertools import islice
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Config
    from ..keyspace import Database


def hash_encoding(value: dict[bytes, bytes], config: Config) -> str:
    """Return the OBJECT ENCODING Redis 7.0 reports for a hash: ``listpack`` or ``hashtable``.

    Computed from the current content; Redis never converts a hash back to
    a listpack, so a hash that shrank may be ``hashtable`` there.
    """
    if len(value) > config.get_int("hash-max-listpack-entries"):
        return "hashtable"
    limit = config.get_int("hash-max-listpack-value")
    for field, item in value.items():
        if len(field) > limit or len(item) > limit:
            return "hashtable"
    return "listpack"


def keep_hashtable(db: Database, key: bytes, value: dict[bytes, bytes], removed: Iterable[bytes]) -> None:
    """Record that a hash stays ``hashtable`` when it is about to lose ``removed`` (fields, or replaced values).

    Only a hash that is a hashtable can become listpack-sized by shrinking:
    one over the entries limit, or losing one of its long fields or values.
    Redis never converts it back, so OBJECT ENCODING must go on saying so.
    """
    config = db.signals.config
    limit = config.get_int("hash-max-listpack-value")
    if len(value) > config.get_int("hash-max-listpack-entries") or any(len(item) > limit for item in removed):
        db.encodings[key] = "hashtable"


def random_field(value: dict[bytes, bytes]) -> bytes:
    """Return a field of a non-empty hash, uniformly at random."""
    return next(islice(value, random.randrange(len(value)), None))
