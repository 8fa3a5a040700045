"""REDPOCKET.APPLY: one indexed record's save plan, applied atomically as a native command.

A *save plan* changes one record stored as a hash together with the index
entries that point to it: checks first (the record's version, the values
the writer last saw, unique claims), then every write.  The layout of
``KEYS`` and ``ARGV`` and the replies are those of the ORM's
``scripts/apply.lua`` (documented there); this command is that script's
native twin, so redpocket's own engine runs a save without the Lua bridge.
Both are held to one specification: the ORM's test suite runs each way.

It runs on the handlers of the plain commands (``HSET``, ``SADD``,
``ZADD`` ...) exactly as the script's ``redis.call`` does, so ``WRONGTYPE``,
encodings, WATCH and keyspace events are theirs.  The plan is parsed whole
before anything is written: a malformed plan writes nothing.

The clock (expiry deadlines of records, checked and set) is the only input
that is not in ``argv``: the command reaches the append-only file as
``REDPOCKET.APPLY AT <unix-ms> numkeys ...`` so replaying it decides exactly
as the first run did.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..keyspace import now_ms
from ..registry import define
from ..replies import ReplyError
from ..types.zset import ZSet
from .hashes import hdel, hget, hincrby, hmget, hset, hsetnx
from .keys import del_
from .sets import sadd, scard, srem
from .sortedsets import zadd, zrem
from .strings import set_command

if TYPE_CHECKING:
    from ..session import Session

MALFORMED = "ERR REDPOCKET.APPLY: malformed save plan"
ABSENT = b"\0absent"
_MAX_SAFE = 9007199254740992.0  # 2**53: beyond it an integer is not exact in a double


def _keys(argv: list[bytes]) -> list[bytes]:
    """Return the keys of ``REDPOCKET.APPLY [AT ms] numkeys key ...`` (for ACL, cluster slots, GETKEYS)."""
    at = 3 if len(argv) > 1 and argv[1].upper() == b"AT" else 1
    try:
        count = int(argv[at])
    except (IndexError, ValueError):
        return []
    return argv[at + 1 : at + 1 + max(count, 0)]


class Plan:
    """A parsed save plan (see ``scripts/apply.lua`` for each part)."""

    __slots__ = (
        "checks",
        "claims",
        "computed",
        "delete",
        "deletes",
        "expected_version",
        "ident",
        "must_exist",
        "new",
        "ops",
        "schema",
        "sets",
        "tag",
        "ttl",
        "ttl_ms",
        "version_field",
    )

    def __init__(self, args: list[bytes], keys: list[bytes]) -> None:
        (self.ident, self.version_field, self.expected_version, self.tag, self.ttl, must_exist,
         self.schema) = args[:7]
        self.must_exist = must_exist == b"1"
        self.ttl_ms = None if self.ttl in (b"", b"persist") else int(self.ttl)
        self.delete = args[-1] == b"1"
        i = 8
        nchecks = int(args[7])
        self.new = nchecks < 0
        self.checks: list[tuple[bytes, bytes]] = []
        for _ in range(max(nchecks, 0)):
            self.checks.append((args[i], args[i + 1]))
            i += 2
        self.computed: list[tuple[bytes, bytes, bytes, bytes, bytes, list[tuple[bytes, float]]]] = []
        ncomputed = int(args[i])
        i += 1  # (i: the next unread argument)
        for _ in range(ncomputed):
            field, kind, source, default, kinds = args[i : i + 5]
            nsteps = int(args[i + 5])
            i += 6
            steps = []
            for _ in range(nsteps):
                operand = _number(args[i + 1])
                if operand is None:
                    raise ValueError("operand")
                steps.append((args[i], operand))
                i += 2
            self.computed.append((field, kind, source, default, kinds, steps))
        k = 3
        nclaims = int(args[i])
        self.claims = [(keys[k + n], args[i + 1 + 2 * n], args[i + 2 + 2 * n]) for n in range(nclaims)]
        i, k = i + 1 + 2 * nclaims, k + nclaims
        nset = int(args[i])
        self.sets = args[i + 1 : i + 1 + 2 * nset]
        if len(self.sets) != 2 * nset:
            raise ValueError("sets")
        i += 1 + 2 * nset
        ndel = int(args[i])
        self.deletes = args[i + 1 : i + 1 + ndel]
        i += 1 + ndel
        self.ops: list[tuple[bytes, bytes, bytes]] = []  # (op, key, argument or b"")
        nops = int(args[i])
        i += 1
        for _ in range(nops):
            op = args[i]
            i += 1
            arg = b""
            if op not in (b"sadd", b"srem", b"zrem", b"del"):
                if op not in (b"zadd", b"padd", b"prem", b"release", b"set"):
                    raise ValueError("op")
                arg = args[i]
                i += 1
            self.ops.append((op, keys[k], arg))
            k += 1
        if i + 1 != len(args) or k != len(keys):
            raise ValueError("length")


def _number(text: bytes | None) -> float | None:
    """Read a number as Lua's ``tonumber`` does for the texts a save stores (``None``: not a number)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:  # (Lua reads hexadecimal too)
        return float(int(text, 16)) if b"0x" in text.lower() else None
    except ValueError:
        return None


def _divide(value: float, operand: float) -> float:
    """Divide as a C double does: by zero gives an infinity (or NaN), never an exception."""
    if operand == 0:
        if value == 0 or value != value:
            return math.nan
        return math.copysign(math.inf, value) * math.copysign(1.0, operand)
    return value / operand


class _Apply:
    """One run of a plan against the session's database."""

    __slots__ = ("deadline", "expires", "ident", "now", "session")

    def __init__(self, session: Session, expires: bytes, ident: bytes, now: int | None) -> None:
        self.session = session
        self.expires = expires
        self.ident = ident
        self.now = now
        self.deadline: float | None = None

    def clock(self) -> int:
        if self.now is None:
            self.now = now_ms()
        return self.now

    def score(self, member: bytes) -> float | None:
        zset = self.session.db.lookup_read(self.expires, ZSet)
        return None if zset is None else zset.scores.get(member)

    def expired(self) -> bool:
        self.deadline = self.score(self.ident)
        return self.deadline is not None and self.deadline <= self.clock()

    def held_by_other(self, owner: bytes | None) -> bool | None:
        """Tell whether another live record holds a unique value (``None``: an expired one: sweep first)."""
        if owner is None or owner == self.ident:
            return False
        until = self.score(owner)
        if until is not None and until <= self.clock():
            return None
        return True


def _index(session: Session, tag: bytes, ident: bytes, attr: bytes, kinds: bytes, value: bytes, add: bool) -> None:
    """Add (or remove) one value's index entries, composing the key names as ``index.lua`` does."""
    for kind in kinds:
        if kind == 101:  # e
            key = tag + b":eq:" + attr + b":" + value
            (sadd if add else srem)(session, [b"sadd" if add else b"srem", key, ident])
        elif kind == 110:  # n
            key = tag + b":num:" + attr
            if add:
                zadd(session, [b"zadd", key, value, ident])
            else:
                zrem(session, [b"zrem", key, ident])
        elif kind == 112:  # p
            key = tag + b":pre:" + attr
            if add:
                zadd(session, [b"zadd", key, b"0", value + b"\0" + ident])
            else:
                zrem(session, [b"zrem", key, value + b"\0" + ident])
        elif kind == 117:  # u
            key = tag + b":uniq:" + attr
            if add:
                hset(session, [b"hset", key, value, ident])
            elif hget(session, [b"hget", key, value]) == ident:
                hdel(session, [b"hdel", key, value])


@define("redpocket.apply", -3, "write denyoom movablekeys", keys=_keys, group="scripting", since="7.0.0")
def apply(session: Session, argv: list[bytes]) -> Any:
    """REDPOCKET.APPLY [AT unix-time-ms] numkeys key [key ...] arg [arg ...]"""
    at = None
    start = 1
    if argv[1].upper() == b"AT":
        try:
            at = int(argv[2])
        except (IndexError, ValueError):
            raise ReplyError(MALFORMED) from None
        start = 3
    try:
        numkeys = int(argv[start])
    except (IndexError, ValueError):
        raise ReplyError("ERR value is not an integer or out of range") from None
    keys = argv[start + 1 : start + 1 + numkeys]
    args = argv[start + 1 + numkeys :]
    if numkeys < 3 or len(keys) != numkeys:
        raise ReplyError(MALFORMED)
    try:
        plan = Plan(args, keys)
    except (IndexError, ValueError):
        raise ReplyError(MALFORMED) from None
    run = _Apply(session, keys[2], plan.ident, at)
    if session.engine.propagators:
        # The clock is the one input not in argv: pin it, so replaying decides the same.
        session.propagated = (argv, [[b"REDPOCKET.APPLY", b"AT", b"%d" % run.clock(), *argv[start:]]])
    return _run(session, plan, keys, run)


def _run(session: Session, plan: Plan, keys: list[bytes], run: _Apply) -> list[Any]:
    """Check, then write; return the reply of ``scripts/apply.lua``."""
    db = session.db
    record, ids, expires = keys[0], keys[1], keys[2]
    ident, tag = plan.ident, plan.tag
    if plan.must_exist and not db.exists(record):
        return [b"gone"]
    if plan.version_field:
        current = hget(session, [b"hget", record, plan.version_field]) or b"0"
        if current != plan.expected_version:
            return [b"conflict", current]
    if not plan.new and run.expired():
        return [b"expired"]
    if plan.new:
        if db.exists(record):
            if run.expired():
                return [b"expired"]
            return [b"stale", b""]
        if plan.schema and not db.exists(plan.schema):
            return [b"schema"]
    elif plan.checks:
        stored = hmget(session, [b"hmget", record, *(field for field, _ in plan.checks)])
        for (field, expected), value in zip(plan.checks, stored, strict=True):
            if (value is not None) if expected == ABSENT else (value != expected):
                return [b"stale", field]

    computed: list[tuple[bytes, bytes, bytes, bytes | None]] = []
    for field, kind, source, default, kinds, steps in plan.computed:
        value = _number(hget(session, [b"hget", record, source]) or default)
        if value is None:
            return [b"range", field]
        for op, operand in steps:
            if op == b"+":
                value = value + operand
            elif op == b"-":
                value = value - operand
            elif op == b"*":
                value = value * operand
            elif kind == b"i":
                value = _divide(value, operand)
                value = value if math.isinf(value) or value != value else float(math.floor(value))
            else:
                value = _divide(value, operand)
        if value != value or math.isinf(value):
            return [b"range", field]
        if kind == b"i":
            if abs(value) >= _MAX_SAFE:
                return [b"range", field]
            text = b"%d" % int(value)
        else:
            text = repr(value).encode()
        computed.append((field, kinds, text, hget(session, [b"hget", record, field])))
        if b"u" in kinds:
            holder = run.held_by_other(hget(session, [b"hget", tag + b":uniq:" + field, text]))
            if holder is None:
                return [b"sweep"]
            if holder:
                return [b"unique", field, text]

    claims = plan.claims
    if len(claims) == 1:
        key, value, attr = claims[0]
        if hsetnx(session, [b"hsetnx", key, value, ident]) == 0:
            holder = run.held_by_other(hget(session, [b"hget", key, value]))
            if holder is None:
                return [b"sweep"]
            if holder:
                return [b"unique", attr, value]
    elif claims:
        for key, value, attr in claims:
            holder = run.held_by_other(hget(session, [b"hget", key, value]))
            if holder is None:
                return [b"sweep"]
            if holder:
                return [b"unique", attr, value]
        for key, value, _ in claims:
            hset(session, [b"hset", key, value, ident])

    reply: list[Any] = [b"ok", 0, 0]
    for field, kinds, text, old in computed:
        hset(session, [b"hset", record, field, text])
        if old != text:
            if old is not None:
                _index(session, tag, ident, field, kinds, old, False)
            _index(session, tag, ident, field, kinds, text, True)
        reply.append(text)
    if plan.sets:
        hset(session, [b"hset", record, *plan.sets])
    if plan.deletes:
        hdel(session, [b"hdel", record, *plan.deletes])

    deleted = 0
    for op, key, arg in plan.ops:
        if op == b"sadd":
            sadd(session, [b"sadd", key, ident])
        elif op == b"srem":
            srem(session, [b"srem", key, ident])
        elif op == b"zrem":
            zrem(session, [b"zrem", key, ident])
        elif op == b"del":
            deleted += del_(session, [b"del", key])
        elif op == b"zadd":
            zadd(session, [b"zadd", key, arg, ident])
        elif op == b"padd":
            zadd(session, [b"zadd", key, b"0", arg])
        elif op == b"prem":
            zrem(session, [b"zrem", key, arg])
        elif op == b"release":
            if hget(session, [b"hget", key, arg]) == ident:
                hdel(session, [b"hdel", key, arg])
        else:  # set
            set_command(session, [b"set", key, arg])

    if plan.delete:
        deleted += del_(session, [b"del", record])
        srem(session, [b"srem", ids, ident])
        if run.deadline is not None:
            zrem(session, [b"zrem", expires, ident])
        if plan.schema and scard(session, [b"scard", ids]) == 0:
            del_(session, [b"del", plan.schema])
            reply[1] = 1  # a delete's version: the schema went with the last record
    else:
        if plan.version_field:
            reply[1] = hincrby(session, [b"hincrby", record, plan.version_field, b"1"])
        sadd(session, [b"sadd", ids, ident])
        if plan.ttl == b"persist":
            zrem(session, [b"zrem", expires, ident])
        elif plan.ttl_ms is not None:
            deadline = run.clock() + plan.ttl_ms
            zadd(session, [b"zadd", expires, b"%d" % deadline, ident])
    reply[2] = deleted
    return reply
