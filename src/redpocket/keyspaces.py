"""Typed keyspaces: a class per family of keys, an instance per key (RedPipe).

::

    class Followers(redpocket.SortedSet):
        namespace = "F"

    with redpocket.pipeline() as pipe:
        f1 = Followers("1", pipe=pipe)       # the key F{1}
        f1.zadd("a", score=1)
        members = f1.zrange(0, -1)
    print(members.result)                     # [b"a"]

The id sits in a hash tag (``F{1}``) so every command on one member stays in
one Redis Cluster slot.  Each method is the Redis command of the same name
with the key bound; it returns a :class:`~redpocket.pipeline.DeferredResult`
that is filled at once without ``pipe=``, or when the enclosing pipeline
executes.  ``connection`` names the connection to use.

Typed values: ``value_type`` (values of a String, elements of a List,
members of a Set or SortedSet, values of a Hash) and ``field_types`` (per
hash field) take one of ``"text"``, ``"integer"``, ``"float"``,
``"boolean"``, ``"json"``, ``"bytes"`` (the default) or a :class:`Codec`;
values are encoded on the way in and replies decoded on the way out.

asyncio: every method has an ``a``-prefixed form, ``await visits.aincr()``,
made from the method itself (the same command, codecs and decoding): it
runs in an ``apipeline()`` root on the ``connect_async()`` connection, or
joins the ``pipe=`` context, sync or asyncio, as the method does::

    async with redpocket.apipeline() as pipe:
        f1 = Followers("1", pipe=pipe)
        f1.zadd("a", score=1)                 # queued, as in a sync pipeline
        members = f1.zrange(0, -1)
    print(members.result)
    print((await Followers("1").azcard()).result)   # its own round trip
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import orjson

from .errors import ConfigurationError
from .pipeline import DeferredResult, PipelineContext, apipeline, pipeline


class Codec:
    """How a Python value is stored in Redis and read back: ``encode`` and ``decode``."""

    name = "bytes"

    def encode(self, value: Any) -> Any:
        """Return what redis-py sends for ``value``."""
        return value

    def decode(self, raw: Any) -> Any:
        """Return the Python value for a reply (``None`` stays ``None``)."""
        return raw


class _Text(Codec):
    name = "text"

    def encode(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"text value expected, got {type(value).__name__}: {value!r}")
        return value

    def decode(self, raw: Any) -> Any:
        return raw.decode() if isinstance(raw, bytes) else raw


class _Integer(Codec):
    name = "integer"

    def encode(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"integer value expected, got {type(value).__name__}: {value!r}")
        return value

    def decode(self, raw: Any) -> Any:
        return None if raw is None else int(raw)


class _Float(Codec):
    name = "float"

    def encode(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"float value expected, got {type(value).__name__}: {value!r}")
        return repr(float(value))

    def decode(self, raw: Any) -> Any:
        return None if raw is None else float(raw)


class _Boolean(Codec):
    name = "boolean"

    def encode(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise TypeError(f"boolean value expected, got {type(value).__name__}: {value!r}")
        return b"1" if value else b"0"

    def decode(self, raw: Any) -> Any:
        return None if raw is None else raw in (b"1", "1")


class _JSON(Codec):
    name = "json"

    def encode(self, value: Any) -> Any:
        return orjson.dumps(value)

    def decode(self, raw: Any) -> Any:
        return None if raw is None else orjson.loads(raw)


CODECS: dict[str, Codec] = {c.name: c for c in (Codec(), _Text(), _Integer(), _Float(), _Boolean(), _JSON())}


def codec(spec: str | Codec | None) -> Codec:
    """Return the codec named ``spec`` (or ``spec`` itself when it is a Codec)."""
    if spec is None:
        return CODECS["bytes"]
    if isinstance(spec, Codec):
        return spec
    try:
        return CODECS[spec]
    except KeyError:
        raise ConfigurationError(f"unknown value type {spec!r}: use one of {sorted(CODECS)} or a Codec") from None


def _async_method(name: str, method: Callable[..., DeferredResult[Any]]) -> Callable[..., Any]:
    """Return the asyncio form of keyspace method ``name``: ``method`` queued in an ``apipeline()`` context."""

    @functools.wraps(method)
    async def run(self: Any, *args: Any, **kwargs: Any) -> DeferredResult[Any]:
        async with apipeline(self.pipe, name=self.connection) as pipe:
            return method(self._joined(pipe), *args, **kwargs)

    run.__name__ = run.__qualname__ = "a" + name
    run.__doc__ = f"Await :meth:`{name}` (its DeferredResult is filled once awaited, unless ``pipe=`` defers it)."
    return run


def add_async_methods(cls: type[Any]) -> None:
    """Give every public method ``m`` that ``cls`` defines an asyncio form ``am`` (unless it defines one)."""
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and callable(method) and "a" + name not in vars(cls):
            setattr(cls, "a" + name, _async_method(name, method))



class Keyspace:
    """One key of a namespace; the base of String, Hash, List, Set, SortedSet and HyperLogLog."""

    namespace: ClassVar[str] = ""
    connection: ClassVar[str | None] = None
    value_type: ClassVar[str | Codec | None] = None

    def __init__(self, key_id: str | bytes | int, pipe: PipelineContext | None = None) -> None:
        if not type(self).namespace:
            raise ConfigurationError(f"{type(self).__name__} must set a namespace, e.g. namespace = 'F'")
        self.id = key_id.decode() if isinstance(key_id, bytes) else str(key_id)
        self.key = f"{type(self).namespace}{{{self.id}}}"
        self.pipe = pipe
        self.values = codec(type(self).value_type)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        add_async_methods(cls)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r}>"

    def _joined(self, pipe: PipelineContext) -> Keyspace:
        """Return this key's keyspace object queueing into ``pipe``."""
        joined = copy.copy(self)
        joined.pipe = pipe
        return joined

    def _call(self, method: str, *args: Any, decode: Callable[[Any], Any] | None = None, **kwargs: Any) -> DeferredResult[Any]:
        with pipeline(self.pipe, name=self.connection) as pipe:
            ref = getattr(pipe, method)(self.key, *args, **kwargs)
            return ref if decode is None else pipe.then(ref, decode)

    def _value(self, raw: Any) -> Any:
        return self.values.decode(raw)

    def _values(self, raw: Any) -> Any:
        if raw is None:
            return None
        decode = self.values.decode
        return [decode(item) for item in raw]

    # -- every key ---------------------------------------------------------
    def delete(self) -> DeferredResult[int]:
        """DEL the key."""
        return self._call("delete")

    def exists(self) -> DeferredResult[bool]:
        """Tell whether the key exists."""
        return self._call("exists", decode=bool)

    def expire(self, seconds: int) -> DeferredResult[bool]:
        """EXPIRE the key after ``seconds``."""
        return self._call("expire", seconds)

    def pexpire(self, milliseconds: int) -> DeferredResult[bool]:
        """PEXPIRE the key after ``milliseconds``."""
        return self._call("pexpire", milliseconds)

    def expireat(self, when: int) -> DeferredResult[bool]:
        """EXPIREAT a Unix time in seconds."""
        return self._call("expireat", when)

    def ttl(self) -> DeferredResult[int]:
        """Return the TTL in seconds (-1 none, -2 no key)."""
        return self._call("ttl")

    def pttl(self) -> DeferredResult[int]:
        """Return the TTL in milliseconds."""
        return self._call("pttl")

    def persist(self) -> DeferredResult[bool]:
        """Remove the TTL."""
        return self._call("persist")

    def type(self) -> DeferredResult[Any]:
        """Return the Redis type of the key."""
        return self._call("type")


class String(Keyspace):
    """A string key."""

    def get(self) -> DeferredResult[Any]:
        """GET the value."""
        return self._call("get", decode=self._value)

    def set(self, value: Any, ex: int | None = None, px: int | None = None, nx: bool = False, xx: bool = False,
            keepttl: bool = False) -> DeferredResult[Any]:
        """SET the value with the usual options."""
        return self._call("set", self.values.encode(value), ex=ex, px=px, nx=nx, xx=xx, keepttl=keepttl)

    def setnx(self, value: Any) -> DeferredResult[bool]:
        """SET the value only if the key does not exist."""
        return self._call("setnx", self.values.encode(value))

    def setex(self, seconds: int, value: Any) -> DeferredResult[Any]:
        """SET the value with an expiry in seconds."""
        return self._call("setex", seconds, self.values.encode(value))

    def getset(self, value: Any) -> DeferredResult[Any]:
        """SET a new value and return the old one."""
        return self._call("getset", self.values.encode(value), decode=self._value)

    def getdel(self) -> DeferredResult[Any]:
        """GET the value and delete the key."""
        return self._call("getdel", decode=self._value)

    def append(self, value: Any) -> DeferredResult[int]:
        """APPEND to the value; return the new length."""
        return self._call("append", self.values.encode(value))

    def strlen(self) -> DeferredResult[int]:
        """Return the length of the value."""
        return self._call("strlen")

    def incr(self, amount: int = 1) -> DeferredResult[int]:
        """INCRBY ``amount``."""
        return self._call("incrby", amount)

    def decr(self, amount: int = 1) -> DeferredResult[int]:
        """DECRBY ``amount``."""
        return self._call("decrby", amount)

    def incrbyfloat(self, amount: float = 1.0) -> DeferredResult[float]:
        """INCRBYFLOAT ``amount``."""
        return self._call("incrbyfloat", amount)

    def getrange(self, start: int, end: int) -> DeferredResult[bytes]:
        """Return a substring of the value."""
        return self._call("getrange", start, end)

    def setrange(self, offset: int, value: Any) -> DeferredResult[int]:
        """Overwrite part of the value from ``offset``."""
        return self._call("setrange", offset, self.values.encode(value))

    def setbit(self, offset: int, value: int) -> DeferredResult[int]:
        """SETBIT; return the old bit."""
        return self._call("setbit", offset, value)

    def getbit(self, offset: int) -> DeferredResult[int]:
        """GETBIT."""
        return self._call("getbit", offset)

    def bitcount(self, start: int | None = None, end: int | None = None) -> DeferredResult[int]:
        """Count set bits."""
        return self._call("bitcount", start, end)


class Hash(Keyspace):
    """A hash key; ``field_types`` maps field names to value types."""

    field_types: ClassVar[Mapping[str, str | Codec]] = {}

    def _codec(self, field: Any) -> Codec:
        name = field.decode() if isinstance(field, bytes) else field
        spec = type(self).field_types.get(name)
        return self.values if spec is None else codec(spec)

    def _encode(self, field: Any, value: Any) -> Any:
        return self._codec(field).encode(value)

    def hget(self, field: str) -> DeferredResult[Any]:
        """Return one field's value."""
        return self._call("hget", field, decode=self._codec(field).decode)

    def hset(self, field: str | None = None, value: Any = None, mapping: Mapping[str, Any] | None = None) -> DeferredResult[int]:
        """Set one field, or several through ``mapping``; return the number of new fields."""
        encoded = {f: self._encode(f, v) for f, v in (mapping or {}).items()}
        if field is not None:
            encoded[field] = self._encode(field, value)
        return self._call("hset", mapping=encoded)

    def hsetnx(self, field: str, value: Any) -> DeferredResult[bool]:
        """Set a field only if it does not exist."""
        return self._call("hsetnx", field, self._encode(field, value))

    def hmget(self, *fields: str) -> DeferredResult[list[Any]]:
        """Return the values of several fields."""
        codecs = [self._codec(f) for f in fields]
        return self._call("hmget", list(fields), decode=lambda raw: [c.decode(v) for c, v in zip(codecs, raw, strict=True)])

    def hgetall(self) -> DeferredResult[dict[Any, Any]]:
        """Return every field and value."""
        return self._call("hgetall", decode=lambda raw: {f: self._codec(f).decode(v) for f, v in raw.items()})

    def hdel(self, *fields: str) -> DeferredResult[int]:
        """Delete fields."""
        return self._call("hdel", *fields)

    def hexists(self, field: str) -> DeferredResult[bool]:
        """Tell whether a field exists."""
        return self._call("hexists", field)

    def hlen(self) -> DeferredResult[int]:
        """Count the fields."""
        return self._call("hlen")

    def hkeys(self) -> DeferredResult[list[Any]]:
        """Return the field names."""
        return self._call("hkeys")

    def hvals(self) -> DeferredResult[list[Any]]:
        """Return the values (decoded with ``value_type``)."""
        return self._call("hvals", decode=self._values)

    def hincrby(self, field: str, amount: int = 1) -> DeferredResult[int]:
        """Increment an integer field."""
        return self._call("hincrby", field, amount)

    def hincrbyfloat(self, field: str, amount: float = 1.0) -> DeferredResult[float]:
        """Increment a float field."""
        return self._call("hincrbyfloat", field, amount)

    def hstrlen(self, field: str) -> DeferredResult[int]:
        """Return the length of a field's value."""
        return self._call("hstrlen", field)


class List(Keyspace):
    """A list key."""

    def _encode_all(self, values: Iterable[Any]) -> list[Any]:
        return [self.values.encode(v) for v in values]

    def lpush(self, *values: Any) -> DeferredResult[int]:
        """Push values at the head."""
        return self._call("lpush", *self._encode_all(values))

    def rpush(self, *values: Any) -> DeferredResult[int]:
        """Push values at the tail."""
        return self._call("rpush", *self._encode_all(values))

    def lpushx(self, *values: Any) -> DeferredResult[int]:
        """Push at the head only if the list exists."""
        return self._call("lpushx", *self._encode_all(values))

    def rpushx(self, *values: Any) -> DeferredResult[int]:
        """Push at the tail only if the list exists."""
        return self._call("rpushx", *self._encode_all(values))

    def lpop(self, count: int | None = None) -> DeferredResult[Any]:
        """Pop from the head (``count`` elements when given)."""
        return self._call("lpop", count, decode=self._value if count is None else self._values)

    def rpop(self, count: int | None = None) -> DeferredResult[Any]:
        """Pop from the tail (``count`` elements when given)."""
        return self._call("rpop", count, decode=self._value if count is None else self._values)

    def llen(self) -> DeferredResult[int]:
        """Return the length."""
        return self._call("llen")

    def lrange(self, start: int, end: int) -> DeferredResult[list[Any]]:
        """Return a range of elements."""
        return self._call("lrange", start, end, decode=self._values)

    def lindex(self, index: int) -> DeferredResult[Any]:
        """Return the element at ``index``."""
        return self._call("lindex", index, decode=self._value)

    def lset(self, index: int, value: Any) -> DeferredResult[Any]:
        """Replace the element at ``index``."""
        return self._call("lset", index, self.values.encode(value))

    def linsert(self, where: str, pivot: Any, value: Any) -> DeferredResult[int]:
        """Insert ``value`` BEFORE or AFTER ``pivot``."""
        return self._call("linsert", where, self.values.encode(pivot), self.values.encode(value))

    def lrem(self, count: int, value: Any) -> DeferredResult[int]:
        """Remove occurrences of ``value``."""
        return self._call("lrem", count, self.values.encode(value))

    def ltrim(self, start: int, end: int) -> DeferredResult[Any]:
        """Keep only a range of elements."""
        return self._call("ltrim", start, end)


class Set(Keyspace):
    """A set key."""

    def sadd(self, *members: Any) -> DeferredResult[int]:
        """Add members."""
        return self._call("sadd", *[self.values.encode(m) for m in members])

    def srem(self, *members: Any) -> DeferredResult[int]:
        """Remove members."""
        return self._call("srem", *[self.values.encode(m) for m in members])

    def smembers(self) -> DeferredResult[set[Any]]:
        """Return every member."""
        return self._call("smembers", decode=lambda raw: {self.values.decode(m) for m in raw})

    def sismember(self, member: Any) -> DeferredResult[bool]:
        """Tell whether ``member`` belongs to the set."""
        return self._call("sismember", self.values.encode(member), decode=bool)

    def scard(self) -> DeferredResult[int]:
        """Count the members."""
        return self._call("scard")

    def spop(self, count: int | None = None) -> DeferredResult[Any]:
        """Remove and return random members."""
        return self._call("spop", count, decode=self._value if count is None else self._values)

    def srandmember(self, number: int | None = None) -> DeferredResult[Any]:
        """Return random members without removing them."""
        return self._call("srandmember", number, decode=self._value if number is None else self._values)


class SortedSet(Keyspace):
    """A sorted set key; ``value_type`` types the members, scores are floats."""

    def _pairs(self, raw: Any) -> Any:
        decode = self.values.decode
        return [(decode(m), s) for m, s in raw]

    def _members_or_pairs(self, withscores: bool) -> Callable[[Any], Any]:
        return self._pairs if withscores else self._values

    def zadd(self, member: Any = None, score: float | None = None, mapping: Mapping[Any, float] | None = None,
             nx: bool = False, xx: bool = False, gt: bool = False, lt: bool = False, ch: bool = False,
             incr: bool = False) -> DeferredResult[Any]:
        """Add ``member`` with ``score`` (or every pair of ``mapping``)."""
        pairs = {self.values.encode(m): s for m, s in (mapping or {}).items()}
        if member is not None:
            if score is None:
                raise TypeError("zadd() needs a score for the member")
            pairs[self.values.encode(member)] = score
        return self._call("zadd", pairs, nx=nx, xx=xx, gt=gt, lt=lt, ch=ch, incr=incr)

    def zrem(self, *members: Any) -> DeferredResult[int]:
        """Remove members."""
        return self._call("zrem", *[self.values.encode(m) for m in members])

    def zscore(self, member: Any) -> DeferredResult[float | None]:
        """Return a member's score."""
        return self._call("zscore", self.values.encode(member))

    def zincrby(self, member: Any, increment: float = 1) -> DeferredResult[float]:
        """Add ``increment`` to a member's score."""
        return self._call("zincrby", increment, self.values.encode(member))

    def zcard(self) -> DeferredResult[int]:
        """Count the members."""
        return self._call("zcard")

    def zcount(self, min: Any, max: Any) -> DeferredResult[int]:
        """Count members with a score in [min, max]."""
        return self._call("zcount", min, max)

    def zrange(self, start: int, end: int, desc: bool = False, withscores: bool = False) -> DeferredResult[list[Any]]:
        """Return members by rank."""
        return self._call("zrange", start, end, desc=desc, withscores=withscores, decode=self._members_or_pairs(withscores))

    def zrevrange(self, start: int, end: int, withscores: bool = False) -> DeferredResult[list[Any]]:
        """Return members by rank, highest first."""
        return self._call("zrevrange", start, end, withscores=withscores, decode=self._members_or_pairs(withscores))

    def zrangebyscore(self, min: Any, max: Any, start: int | None = None, num: int | None = None,
                      withscores: bool = False) -> DeferredResult[list[Any]]:
        """Return members with a score in [min, max]."""
        return self._call("zrangebyscore", min, max, start=start, num=num, withscores=withscores,
                          decode=self._members_or_pairs(withscores))

    def zrevrangebyscore(self, max: Any, min: Any, start: int | None = None, num: int | None = None,
                         withscores: bool = False) -> DeferredResult[list[Any]]:
        """Return members with a score in [min, max], highest first."""
        return self._call("zrevrangebyscore", max, min, start=start, num=num, withscores=withscores,
                          decode=self._members_or_pairs(withscores))

    def zrank(self, member: Any) -> DeferredResult[int | None]:
        """Return a member's rank."""
        return self._call("zrank", self.values.encode(member))

    def zrevrank(self, member: Any) -> DeferredResult[int | None]:
        """Return a member's rank, highest first."""
        return self._call("zrevrank", self.values.encode(member))

    def zremrangebyrank(self, start: int, end: int) -> DeferredResult[int]:
        """Remove members by rank."""
        return self._call("zremrangebyrank", start, end)

    def zremrangebyscore(self, min: Any, max: Any) -> DeferredResult[int]:
        """Remove members with a score in [min, max]."""
        return self._call("zremrangebyscore", min, max)

    def zpopmin(self, count: int | None = None) -> DeferredResult[list[Any]]:
        """Remove and return the lowest members."""
        return self._call("zpopmin", count, decode=self._pairs)

    def zpopmax(self, count: int | None = None) -> DeferredResult[list[Any]]:
        """Remove and return the highest members."""
        return self._call("zpopmax", count, decode=self._pairs)


class HyperLogLog(Keyspace):
    """A HyperLogLog key."""

    def pfadd(self, *elements: Any) -> DeferredResult[int]:
        """Add elements; return 1 when the estimate changed."""
        return self._call("pfadd", *[self.values.encode(e) for e in elements])

    def pfcount(self) -> DeferredResult[int]:
        """Return the estimated number of distinct elements."""
        return self._call("pfcount")


add_async_methods(Keyspace)
