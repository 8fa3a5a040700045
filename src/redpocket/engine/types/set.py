"""The set type: its encoding rule (intset or hashtable) as Redis 7.0 applies it, and its helpers.

A set is a Python ``set`` of ``bytes``.  The commands are in ``commands/sets.py``.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable
from itertools import islice
from typing import TYPE_CHECKING

from ..args import is_int

if TYPE_CHECKING:
    from ..config import Config
    from ..keyspace import Database


def set_encoding(value: set[bytes], config: Config) -> str:
    """Return the OBJECT ENCODING Redis 7.0 reports for a set: ``intset`` or ``hashtable``.

    Computed from the current content; Redis never converts a set back to an
    intset, so a set that lost its non-integers may be ``hashtable`` there.
    """
    # An intset holds what string2ll accepts.
    if len(value) <= config.get_int("set-max-intset-entries") and all(map(is_int, value)):
        return "intset"
    return "hashtable"


def keep_hashtable(db: Database, key: bytes, size: int, removed: Iterable[bytes]) -> None:
    """Record that a set of ``size`` members stays ``hashtable`` when it loses ``removed`` (members it held).

    Only a hashtable can become intset-shaped by shrinking: one over the
    intset limit, or losing a member that is not an integer.  Redis never
    converts it back, so OBJECT ENCODING must go on saying so.
    """
    if size > db.signals.config.get_int("set-max-intset-entries") or not all(map(is_int, removed)):
        db.encodings[key] = "hashtable"


def ordered(members: Collection[bytes], intset_limit: int) -> list[bytes]:
    """List members as Redis iterates them: ascending numbers when they would form an intset."""
    if len(members) <= intset_limit and all(map(is_int, members)):
        return sorted(members, key=int)
    return list(members)


def random_member(value: set[bytes]) -> bytes:
    """Return a member of a non-empty set, uniformly at random."""
    return next(islice(value, random.randrange(len(value)), None))
