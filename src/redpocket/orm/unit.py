"""The save compiler: one record's save or delete as the apply script's KEYS and ARGV, and what its reply means.

Nothing here sends a command.  A :class:`Change` is compiled (``compile()``)
into the arguments of ``scripts/apply.lua``; the driver (``model.py`` for
the sync API) sends them however it likes (one call, a pipeline) and hands
the reply back to ``outcome()``, which updates the record or says what to do
next: ``"stale"`` (re-read the values named by ``reread_fields()``, give them
to ``reread()`` and compile again), ``"expired"`` (sweep the model's
expired records, then try again as a new record), ``"sweep"`` (a unique
value is held by an expired record: sweep, then try again unchanged),
``"schema"`` (the first record of a model without a stored schema: store
it, then try again),
``"gone"`` (the record no longer exists).

The scripts share ``scripts/index.lua`` (index entry helpers composing the
key names of :mod:`.keys` from the record's hash tag), prepended here.

Where a save runs: on redpocket's own engine as its native command
``REDPOCKET.APPLY`` (:class:`NativeApply`, same arguments and replies as the
script; :func:`native_apply` tells, once per client); elsewhere as
``apply.lua``, and in a pipeline context as ``APPLY_BATCH_LUA``, which runs
the same script once per save of a batch (see ``ScriptCalls`` in
:mod:`redpocket.pipeline`).
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis.asyncio
from redis.cluster import RedisCluster

from ..client import EmbeddedRedis
from ..client_async import AsyncEmbeddedRedis
from ..errors import ConflictError, UniqueError
from .attributes import Attribute
from .expressions import F, out_of_range

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet

    from .keys import ModelKeys
    from .model import ActiveRecord, Options

SCRIPTS = Path(__file__).parent / "scripts"
PRELUDE = (SCRIPTS / "index.lua").read_text()


def script_text(name: str) -> str:
    """Return the Lua source of ``scripts/<name>`` with the shared helpers prepended."""
    return PRELUDE + "\n" + (SCRIPTS / name).read_text()


APPLY_LUA = script_text("apply.lua")
APPLY_BATCH_LUA = PRELUDE + f"""
local function apply(KEYS, ARGV)
{(SCRIPTS / "apply.lua").read_text()}
end

-- A batch of saves (redpocket.pipeline's ScriptCalls): KEYS every save's keys in turn,
-- ARGV ncalls, (nkeys, packed)*: a save's arguments as one MessagePack array of strings;
-- the reply is the list of the saves' replies, an error reply standing for a save that
-- failed (the others still run).
local replies, key_at, at = {{}}, 1, 2
for c = 1, tonumber(ARGV[1]) do
  local nkeys, keys = tonumber(ARGV[at]), {{}}
  for j = 1, nkeys do keys[j] = KEYS[key_at + j - 1] end
  local args = cmsgpack.unpack(ARGV[at + 1])
  key_at, at = key_at + nkeys, at + 2
  local ok, reply = pcall(apply, keys, args)
  if ok then
    replies[c] = reply
  elseif type(reply) == 'table' and reply.err then
    replies[c] = reply
  else
    replies[c] = {{err = tostring(reply)}}
  end
end
return replies
"""
SWEEP_LUA = script_text("sweep.lua")
EXPIRE_LUA = script_text("expire.lua")
INDEX_ONE_LUA = script_text("index_one.lua")

ABSENT = b"\0absent"
NATIVE_SAVES = True
"""Use redpocket's native save command where the server has it (tests turn it off to run the Lua script)."""


class NativeApply:
    """The apply script's native twin on redpocket's own engine (``REDPOCKET.APPLY``), called like a ``Script``.

    Same ``KEYS`` / ``ARGV`` and the same replies as ``scripts/apply.lua``;
    the engine runs it as one of its commands, without the Lua bridge.
    """

    name = "REDPOCKET.APPLY"

    def __call__(self, keys: list[Any], args: list[Any], client: Any) -> Any:
        """Run (or queue, on a pipeline) one save plan."""
        return client.execute_command(self.name, len(keys), *keys, *args)


NATIVE_APPLY = NativeApply()
_native: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def native_apply(client: Any) -> bool:
    """Tell whether ``client``'s server runs save plans natively (redpocket's engine, sync or asyncio); asked once per client."""
    if not NATIVE_SAVES:
        return False
    known = _native.get(client)
    if known is None:
        if isinstance(client, EmbeddedRedis | AsyncEmbeddedRedis):
            known = True  # (no need to ask the engine in this process)
        elif isinstance(client, RedisCluster | redis.asyncio.Redis | redis.asyncio.RedisCluster):
            # A cluster's nodes may differ: the script runs everywhere.  An asyncio
            # client to a server cannot be asked here without awaiting: async saves
            # on it run the script (the native command is only a shortcut).
            known = False
        else:
            reply = client.execute_command("COMMAND INFO", NATIVE_APPLY.name)
            known = bool(reply and reply[0])
        _native[client] = known
    return known
VERSION_FIELD = "_version"


def index_kinds(attribute: Attribute) -> str:
    """Return the index entries one attribute value has, as the scripts spell them (``e n p u``)."""
    kinds = ""
    if attribute.index == "equality" and not attribute.unique:  # a unique value's index entry is its claim
        kinds = "e"
    elif attribute.index == "numeric":
        kinds = "n"
    elif attribute.index == "prefix":
        kinds = "p"
    return kinds + ("u" if attribute.unique else "")


def layout_args(meta: Options) -> list[Any]:
    """Return the layout part of the sweep script's ARGV: ``n, (attr, kinds)*, nstreams, (attr)*``."""
    entries = [(a.name, index_kinds(a)) for a in meta.indexed]
    args: list[Any] = [len(entries)]
    for name, kinds in entries:
        args += [name, kinds]
    return [*args, len(meta.streams), *(a.name for a in meta.streams)]


def sweep_call(meta: Options, keys: ModelKeys) -> tuple[list[Any], list[Any]]:
    """Return the KEYS and ARGV of the sweep script for one partition of a model."""
    return [keys.expires, keys.ids], [keys.tag, *meta.sweep_layout]



class Change:
    """One record's save or delete, compiled to the apply script's arguments (no I/O).

    ``names``: the attributes written; ``stored``: the stored hash the
    record was loaded with (empty for a new record), from which the index
    diff is computed; ``computed``: attributes given an :class:`F`
    expression; ``must_exist``: the script replies ``gone`` instead of
    creating a record that no longer exists; ``ttl``: ``""`` (keep),
    ``"persist"`` or milliseconds from now.
    """

    __slots__ = ("computed", "delete", "must_exist", "names", "record", "stored", "ttl", "written")

    def __init__(self, record: ActiveRecord, names: AbstractSet[str], stored: dict[bytes, bytes | None], *,
                 delete: bool = False, computed: dict[str, F] | None = None, must_exist: bool = False,
                 ttl: str = "") -> None:
        self.record = record
        self.names = names
        self.stored = stored
        self.delete = delete
        self.computed = computed or {}
        self.must_exist = must_exist
        self.ttl = ttl
        self.written: dict[bytes, bytes | None] = {}

    def compile(self) -> tuple[list[Any], list[Any]]:
        """Return the KEYS and ARGV of the apply script (and note in ``written`` the fields it writes)."""
        record, names, stored, delete = self.record, self.names, self.stored, self.delete
        meta = type(record)._meta
        keys = record._keys()
        data = record._data
        ident = record._ident()
        new = not stored and not delete
        claim_keys: list[Any] = []
        op_keys: list[Any] = []
        checks: list[Any] = []
        claims: list[Any] = []
        sets: list[Any] = []
        deletes: list[Any] = []
        ops: list[Any] = []
        written: dict[bytes, bytes | None] = {}
        for stream in meta.streams:
            name = stream.name
            if delete or (name in names and name in data):
                value = None if delete else data[name]
                op_keys.append(keys.stream(name, ident))
                ops += ["del"] if value is None else ["set", value]
        if not delete and stored.get(meta.pk.field) is None:
            sets += [meta.pk.name, ident]
            written[meta.pk.field] = ident.encode()
        computed = self.computed
        for attribute in meta.fields:
            name = attribute.name
            if (not delete and name not in names) or name in computed:
                continue
            value = None if delete else data.get(name)
            encoded = None if value is None else attribute.to_redis(value)
            if not delete:
                written[attribute.field] = encoded
                if encoded is None:
                    deletes.append(name)
                else:
                    sets += [name, encoded]
            index = attribute.index
            if index is None:
                continue
            old = stored.get(attribute.field)
            if not new:
                checks += [name, ABSENT if old is None else old]
            if old == encoded:
                continue
            if index == "equality" and not attribute.unique:  # a unique value's index entry is its claim
                if old is not None:
                    op_keys.append(keys.equality(name, old))
                    ops.append("srem")
                if encoded is not None:
                    op_keys.append(keys.equality(name, encoded))
                    ops.append("sadd")
            elif index == "numeric":  # old != encoded: one of them is set
                op_keys.append(keys.numeric(name))
                ops += ["zrem"] if encoded is None else ["zadd", repr(attribute.score(value))]
            elif index == "prefix":
                member_suffix = b"\0" + ident.encode()
                if old is not None:
                    op_keys.append(keys.prefix(name))
                    ops += ["prem", old + member_suffix]
                if encoded is not None:
                    op_keys.append(keys.prefix(name))
                    ops += ["padd", encoded + member_suffix]
            if attribute.unique:
                if old is not None:
                    op_keys.append(keys.unique(name))
                    ops += ["release", old]
                if encoded is not None:
                    claim_keys.append(keys.unique(name))
                    claims += [encoded, name]
        expressions: list[Any] = []
        for name, expression in computed.items():
            attribute = meta.attributes[name]
            source = meta.attributes[expression.name]
            expressions += expression.script_args(attribute, source, index_kinds(attribute))
        self.written = written
        if meta.versioned:
            args: list[Any] = [ident, VERSION_FIELD, str(record._version if record._stored is not None else 0)]
        else:
            args = [ident, "", ""]
        schema = "" if meta.partition is not None else meta.keys.schema
        args += [keys.tag, self.ttl, "1" if self.must_exist else "0", schema]
        args += [-1] if new else [len(checks) // 2, *checks]
        args += [len(computed), *expressions]
        args += [len(claim_keys), *claims, len(sets) // 2, *sets, len(deletes), *deletes, len(op_keys), *ops]
        args.append("1" if delete else "0")
        return [keys.record(ident), keys.ids, keys.expires, *claim_keys, *op_keys], args

    def reread_fields(self) -> list[bytes]:
        """Return the fields to re-read after a ``stale`` reply: the indexed ones and the primary key."""
        meta = type(self.record)._meta
        return [a.field for a in meta.indexed] + [meta.pk.field]

    def reread(self, values: list[Any]) -> None:
        """Take the re-read values (``HMGET`` of ``reread_fields()``) as what is stored now."""
        values = [v.encode() if isinstance(v, str) else v for v in values]
        self.stored = dict(zip(self.reread_fields(), values, strict=True))

    def outcome(self, reply: Any) -> str:
        """Handle the apply script's reply; return ``"ok"``, ``"stale"``, ``"gone"``, ``"expired"`` or ``"sweep"``.

        On ``ok`` the record now reflects what was stored; a unique clash,
        a version conflict or a computed value out of range raise.
        """
        record = self.record
        meta = type(record)._meta
        status = reply[0]
        status = status.decode() if isinstance(status, bytes) else status
        if status == "ok":
            if self.delete:
                if int(reply[1]):
                    meta.schema_stored = False  # the model's last record took the stored schema with it
                record._stored = None
                record._dirty = dict.fromkeys(meta.attributes)
                record._deleted = int(reply[2])
                return status
            record._version = int(reply[1]) if meta.versioned else 0
            written = self.written
            for name, raw in zip(self.computed, reply[3:], strict=True):
                attribute = meta.attributes[name]
                raw = raw.encode() if isinstance(raw, str) else raw
                written[attribute.field] = raw
                record._data[name] = attribute.from_redis(raw)
            record._stored = {**self.stored, **written}
            dirty = record._dirty
            for name in self.names:
                dirty.pop(name, None)
            for name in self.computed:
                dirty.pop(name, None)
            return status
        if status == "schema":
            meta.schema_stored = False
            return status
        if status in ("stale", "gone", "expired", "sweep"):
            return status
        detail = [part.decode() if isinstance(part, bytes) else part for part in reply[1:]]
        if status == "unique":
            attr = detail[0]
            value = record._data.get(attr) if attr not in self.computed else detail[1]
            raise UniqueError(
                type(record).__name__, attr, value, "another record already holds this unique value; nothing was written",
            )
        if status == "conflict":
            raise ConflictError(
                f"{type(record).__name__} {record.pk!s} changed in Redis since it was loaded "
                f"(version {record._version}, now {detail[0]}); reload it with refresh() and retry"
            )
        if status == "range":
            raise out_of_range(type(record).__name__, detail[0], self.computed.get(detail[0]))
        raise RuntimeError(f"unexpected reply from the save script: {reply!r}")  # pragma: no cover


__all__ = ["APPLY_BATCH_LUA", "APPLY_LUA", "EXPIRE_LUA", "INDEX_ONE_LUA", "NATIVE_APPLY", "SWEEP_LUA", "Change", "NativeApply", "index_kinds", "layout_args", "native_apply", "sweep_call"]
