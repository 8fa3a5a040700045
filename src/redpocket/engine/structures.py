"""The Memo extension API: data structures and procedures written in Python.

A :class:`Structure` is a value type of its own in the keyspace, with its
commands as methods::

    class FIFO(Structure):
        type_name = "fifo"

        def __init__(self) -> None:
            self.items: deque[bytes] = deque()

        def __len__(self) -> int:              # an empty structure is deleted, like an empty list
            return len(self.items)

        @command("FIFOADD", creates=True, arity=-3)
        def add(self, *values: bytes) -> int:  # FIFOADD key value [value ...]
            self.items.extend(values)
            return len(self.items)

        @command("FIFOLEN", flags="readonly fast", missing=0)
        def length(self) -> int:
            return len(self.items)

        def dump(self) -> bytes:               # for snapshots and AOF rewrites
            return pack(self.items)

        @classmethod
        def load(cls, data: bytes) -> FIFO:
            fifo = cls()
            fifo.items.extend(unpack(data))
            return fifo

    add_structure(engine, FIFO)

The engine does the generic work before a method runs, as for built-in
commands: arity (from the signature unless given), the key lookup with lazy
expiry, ``WRONGTYPE`` against other types, creating the value when the
command ``creates`` it, the reply for a missing key (``missing``), and
afterwards the change notification (WATCH, persistence) for ``write``
commands and the deletion of a structure left empty.  Values take part in
TYPE (``type_name``), DEL, RENAME, EXPIRE, COPY (``copy()``), SCAN TYPE,
snapshots and the append-only file.  Write commands are logged as they came,
so their methods must be deterministic; a method that is not (random
choice, clock) declares ``deterministic=False`` and is logged as the
structure's resulting state (``dump()``).

A :func:`procedure` is a command written in Python that runs other commands
atomically through its :class:`ProcedureContext` (Memo's search cache)::

    @procedure("SEARCH", arity=3)
    def search(ctx: ProcedureContext, index: bytes, query: bytes) -> Any:
        key = index + b":" + query
        cached = ctx.call("GET", key)
        if cached is None:
            cached = run_search(index, query)
            ctx.call("SET", key, cached, "EX", 900)
        return cached

Procedures are not write commands themselves (like ``EVAL``): the writes
they make are logged one by one, inside ``MULTI``/``EXEC`` when several.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .blocking import Block
from .keyspace import TYPE_NAMES
from .registry import CommandSpec
from .replies import NullArray, ReplyError, double_reply, map_reply, set_reply, wrongtype

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

T = TypeVar("T", bound="Structure")
F = TypeVar("F", bound=Callable[..., Any])

_COMMAND_MARK = "__redpocket_command__"
_PROCEDURE_MARK = "__redpocket_procedure__"
_BUILT_IN_TYPES = frozenset({*TYPE_NAMES.values(), "zset", "stream", "none"})
NOT_ALLOWED_FROM_PROCEDURE = "ERR This Redis command is not allowed from script"


class Structure:
    """The base class of custom data structures stored as keyspace values."""

    type_name: ClassVar[str] = ""
    encoding: ClassVar[str] = "raw"  # what OBJECT ENCODING reports
    # The version of dump()'s format, stored next to the bytes in RDB files and DUMP payloads (a module
    # type named "redpocket"). Raise it when the format changes and define a classmethod
    # load_version(data, version) that reads the older versions; load() reads the current one.
    dump_version: ClassVar[int] = 0

    def dump(self) -> bytes:
        """Return the structure's state as bytes (snapshots, AOF rewrites); :meth:`load` reads them back."""
        raise NotImplementedError(f"{type(self).__name__} must define dump() and load() to be persisted")

    @classmethod
    def load(cls: type[T], data: bytes) -> T:
        """Build a structure from what :meth:`dump` returned."""
        raise NotImplementedError(f"{cls.__name__} must define dump() and load() to be persisted")

    def copy(self: T) -> T:
        """Return an independent copy (``COPY``); by default through :meth:`dump` and :meth:`load`."""
        return type(self).load(self.dump())


@dataclass(frozen=True, slots=True)
class CommandDeclaration:
    """What :func:`command` recorded about a method."""

    name: str
    creates: bool
    arity: int | None
    flags: str
    deterministic: bool
    missing: Any


@dataclass(frozen=True, slots=True)
class ProcedureDeclaration:
    """What :func:`procedure` recorded about a function."""

    name: str
    arity: int | None
    flags: str
    first_key: int
    last_key: int
    step: int


def command(
    name: str,
    *,
    creates: bool = False,
    arity: int | None = None,
    flags: str = "write",
    deterministic: bool = True,
    missing: Any = None,
) -> Callable[[F], F]:
    """Declare a method of a :class:`Structure` as the command ``name`` (``NAME key args...``).

    ``creates``: a missing key gets a new, empty structure (``cls()``) first;
    otherwise the command replies ``missing`` for it.  ``arity`` counts the
    name and the key, Redis style (``-3``: at least three); by default it
    comes from the method's signature.  ``flags`` are Redis command flags:
    ``write`` (the default) for methods that change the structure,
    ``readonly`` for those that do not.  A write method that is not
    deterministic says so, and is logged as the resulting state.
    """

    def mark(method: F) -> F:
        setattr(method, _COMMAND_MARK, CommandDeclaration(name, creates, arity, flags, deterministic, missing))
        return method

    return mark


def procedure(
    name: str, *, arity: int | None = None, flags: str = "", first_key: int = 0, last_key: int = 0, step: int = 0
) -> Callable[[F], F]:
    """Declare ``function(ctx, *args)`` as the command ``name``; it runs other commands through ``ctx``.

    ``arity`` counts the name (by default it comes from the signature).
    ``first_key``/``last_key``/``step`` describe key arguments for COMMAND
    and cluster routing, as in the command table.
    """

    def mark(function: F) -> F:
        target = function.__func__ if isinstance(function, staticmethod) else function
        setattr(target, _PROCEDURE_MARK, ProcedureDeclaration(name, arity, flags, first_key, last_key, step))
        return function

    return mark


# -- replies -----------------------------------------------------------------------------------


def to_reply(value: Any, protocol: int = 2) -> Any:
    """Turn what a method returned into a reply value (str -> bulk, bool -> integer, dict -> map ...)."""
    kind = type(value)
    if value is None or kind is int or isinstance(value, (bytes, ReplyError, NullArray)):
        return value
    if kind is bool:
        return int(value)
    if kind is str:
        return value.encode()
    if kind is float:
        return double_reply(protocol, value)
    if isinstance(value, (list, tuple)):
        return [to_reply(item, protocol) for item in value]
    if isinstance(value, dict):
        flat = []
        for key, item in value.items():
            flat.append(to_reply(key, protocol))
            flat.append(to_reply(item, protocol))
        return map_reply(protocol, flat)
    if isinstance(value, (set, frozenset)):
        return set_reply(protocol, [to_reply(item, protocol) for item in value])
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"cannot reply with a {kind.__name__}")


def to_argument(value: Any) -> bytes:
    """Encode one argument of :meth:`ProcedureContext.call` as Redis would receive it."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        raise TypeError("a bool is not a Redis argument: pass 0 or 1")
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, float):
        return repr(value).encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"a {type(value).__name__} is not a Redis argument")


def pack(items: Iterable[bytes]) -> bytes:
    """Encode byte strings as one (length-prefixed) byte string: a helper for ``dump()``."""
    parts = []
    for item in items:
        parts.append(b"%d:" % len(item))
        parts.append(item)
    return b"".join(parts)


def unpack(data: bytes) -> list[bytes]:
    """Decode what :func:`pack` encoded; raise ``ValueError`` on malformed data."""
    items = []
    pos = 0
    while pos < len(data):
        colon = data.index(b":", pos, pos + 21)
        digits = data[pos:colon]
        if not digits.isdigit():
            raise ValueError(f"malformed packed data at offset {pos}")
        end = colon + 1 + int(digits)
        if end > len(data):
            raise ValueError(f"packed data cut short at offset {pos}")
        items.append(data[colon + 1 : end])
        pos = end
    return items


# -- procedures -----------------------------------------------------------------------------------


class ProcedureContext:
    """What a procedure gets: ``call`` other commands, on the caller's session, atomically."""

    __slots__ = ("engine", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.engine = session.engine

    @property
    def db(self) -> int:
        """Return the number of the database commands run in."""
        return self.session.db.index

    def pcall(self, *args: Any) -> Any:
        """Run one command and return its reply, an error reply included (as a :class:`ReplyError`)."""
        argv = [to_argument(arg) for arg in args]
        if not argv:
            return ReplyError("ERR Please specify at least one argument for this redis lib call")
        spec = self.engine.lookup(argv)
        if type(spec) is ReplyError:
            return spec
        assert isinstance(spec, CommandSpec)
        if "noscript" in spec.flags:
            return ReplyError(NOT_ALLOWED_FROM_PROCEDURE)
        reply = self.engine.call(self.session, spec, argv)
        if type(reply) is Block:  # procedures never block, as scripts do not
            return reply.timeout_reply
        return reply

    def call(self, *args: Any) -> Any:
        """Run one command and return its reply; raise :class:`ReplyError` if it fails (Lua's ``redis.call``)."""
        reply = self.pcall(*args)
        if type(reply) is ReplyError:
            raise reply
        return reply


def _atomic(engine: Engine) -> Any:
    """Return the engine's persistence (to open an atomic section), if it has one."""
    return engine.extensions.get("persistence")


def _procedure_handler(function: Callable[..., Any]) -> Callable[[Session, list[bytes]], Any]:
    def handle(session: Session, argv: list[bytes]) -> Any:
        persistence = _atomic(session.engine)
        if persistence is not None:
            persistence.begin_atomic()
        saved_db, saved_in_script = session.db, session.in_script
        session.in_script = True
        try:
            return to_reply(function(ProcedureContext(session), *argv[1:]), session.protocol)
        finally:
            session.db, session.in_script = saved_db, saved_in_script
            if persistence is not None:
                persistence.end_atomic()

    handle.__doc__ = function.__doc__
    return handle


# -- structure commands -----------------------------------------------------------------------------


def _command_handler(cls: type[Structure], method: Callable[..., Any], declared: CommandDeclaration) -> Any:
    write = "write" in declared.flags.split()
    creates, missing = declared.creates, declared.missing

    def handle(session: Session, argv: list[bytes]) -> Any:
        db = session.db
        key = argv[1]
        value = db.lookup_write(key) if write else db.lookup_read(key)
        created = False
        if value is None:
            if not creates:
                return to_reply(missing, session.protocol)
            value = cls()
            created = True
        elif not isinstance(value, cls):
            raise ReplyError(wrongtype().message)
        reply = method(value, *argv[2:])
        if created:
            if value:
                db.add(key, value)
        elif write:
            if value:
                db.modified(key)
                db.signal_ready(key)
            else:
                db.delete(key)
        return to_reply(reply, session.protocol)

    handle.__doc__ = method.__doc__
    return handle


def _arity_from_signature(function: Callable[..., Any], fixed: int, skip: int) -> int:
    """Return Redis's arity for ``function``: ``fixed`` leading arguments plus its parameters after ``skip``."""
    parameters = list(inspect.signature(function).parameters.values())[skip:]
    required = sum(
        1 for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )
    optional = any(p.kind is p.VAR_POSITIONAL or p.default is not p.empty for p in parameters)
    count = fixed + required
    return -count if optional else count


def _register(engine: Engine, spec: CommandSpec) -> None:
    name = spec.name.encode()
    if name in engine.commands:
        raise ValueError(f"the command {spec.name.upper()!r} already exists in this engine")
    engine.commands[name] = spec


def add_procedure(engine: Engine, function: Callable[..., Any]) -> None:
    """Register a function marked with :func:`procedure` as a command of ``engine``."""
    target = function.__func__ if isinstance(function, staticmethod) else function
    declared: ProcedureDeclaration | None = getattr(target, _PROCEDURE_MARK, None)
    if declared is None:
        raise TypeError(f"{target!r} is not marked with @procedure")
    arity = declared.arity if declared.arity is not None else _arity_from_signature(target, 1, 1)
    flags = frozenset({*declared.flags.split(), "module"})
    doc = (target.__doc__ or "").strip().splitlines()
    _register(engine, CommandSpec(
        name=declared.name.lower(), handler=_procedure_handler(target), arity=arity, flags=flags,
        first_key=declared.first_key, last_key=declared.last_key, step=declared.step,
        group="module", summary=doc[0] if doc else "", since="",
    ))


def add_structure(engine: Engine, cls: type) -> None:
    """Register a :class:`Structure` (its ``@command`` methods and ``@procedure`` functions) in ``engine``.

    Adding the same class again does nothing; raise ``ValueError`` when a
    command name or the type name is taken by something else.
    """
    added = engine.extensions.setdefault("structure_classes", set())
    if cls in added:
        return
    commands: list[tuple[Callable[..., Any], CommandDeclaration]] = []
    procedures: list[Callable[..., Any]] = []
    for klass in reversed(cls.__mro__):
        for attribute in vars(klass).values():
            function = attribute.__func__ if isinstance(attribute, (staticmethod, classmethod)) else attribute
            if hasattr(function, _COMMAND_MARK):
                commands.append((function, getattr(function, _COMMAND_MARK)))
            elif hasattr(function, _PROCEDURE_MARK):
                procedures.append(function)
    if commands:
        if not (isinstance(cls, type) and issubclass(cls, Structure)):
            raise TypeError(f"{cls.__name__} has @command methods but is not a Structure")
        name = cls.type_name
        if not name:
            raise ValueError(f"{cls.__name__} must set type_name")
        known = engine.extensions.setdefault("structures", {})
        if name in _BUILT_IN_TYPES or (name in known and known[name] is not cls):
            raise ValueError(f"the type name {name!r} is already taken")
        specs = []
        normalizers = engine.extensions.setdefault("normalizers", {})
        for method, declared in commands:
            arity = declared.arity if declared.arity is not None else _arity_from_signature(method, 2, 1)
            doc = (method.__doc__ or "").strip().splitlines()
            spec = CommandSpec(
                name=declared.name.lower(), handler=_command_handler(cls, method, declared), arity=arity,
                flags=frozenset({*declared.flags.split(), "module"}), first_key=1, last_key=1, step=1,
                group="module", summary=doc[0] if doc else "", since="",
            )
            if spec.name.encode() in engine.commands:
                raise ValueError(f"the command {declared.name.upper()!r} already exists in this engine")
            specs.append((spec, declared))
        known[name] = cls
        for spec, declared in specs:
            _register(engine, spec)
            if not declared.deterministic and "write" in spec.flags:
                normalizers[spec.name.encode()] = _state_normalizer
    for function in procedures:
        add_procedure(engine, function)
    added.add(cls)


def _state_normalizer(db: Any, argv: list[bytes], reply: Any) -> list[list[bytes]]:
    from .persistence.normalize import structure_state

    return structure_state(db, argv[1])
