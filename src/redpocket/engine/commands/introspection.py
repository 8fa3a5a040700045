"""Introspection commands: COMMAND (INFO, DOCS, COUNT, LIST, GETKEYS) and OBJECT.

``COMMAND`` is built from the live command table: name, arity, flags and key
positions come from each :class:`~..registry.CommandSpec`; what the table
does not hold (key specifications, tips, documentation) comes from Redis
7.0.15's own metadata in :mod:`..command_reference`.  ACL categories are
derived as Redis's ``setImplicitACLCategories`` does, from the flags, plus
the command's explicit categories (from the reference, or from its group
for commands Redis does not have).

``OBJECT ENCODING`` needs each type's encoding rule; :func:`encoding_of`
applies Redis 7.0's rules to the value's contents (see its docstring for
what that cannot see).
"""

from __future__ import annotations

import fnmatch
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from ..args import is_int
from ..categories import acl_categories, reference, reported_flags
from ..keyspace import type_name
from ..registry import CommandSpec, define, define_container
from ..replies import ReplyError, SimpleString, help_reply, map_reply, set_reply, syntax_error
from ..types.hash import hash_encoding
from ..types.set import set_encoding
from ..types.strings import string_encoding
from ..types.zset import zset_encoding

if TYPE_CHECKING:
    from ..engine import Engine
    from ..session import Session

def _status_set(protocol: int, names: list[str]) -> Any:
    return set_reply(protocol, [SimpleString(name.encode()) for name in names])


def _key_spec_reply(protocol: int, key_spec: dict[str, Any]) -> Any:
    flat: list[Any] = []
    for field, value in key_spec.items():
        flat.append(field.encode())
        if field == "flags":
            flat.append(_status_set(protocol, value))
        elif field == "notes":
            flat.append(value.encode())
        else:  # begin_search / find_keys: {"type": ..., "spec": {...}}
            inner = [
                b"type", value["type"].encode(),
                b"spec", map_reply(protocol, [x for k, v in value["spec"].items() for x in (k.encode(), _plain(v))]),
            ]
            flat.append(map_reply(protocol, inner))
    return map_reply(protocol, flat)


def _plain(value: Any) -> Any:
    return value.encode() if isinstance(value, str) else value


def derived_key_specs(spec: CommandSpec) -> list[dict[str, Any]]:
    """Describe the key positions of a command Redis does not have as one key specification."""
    if spec.first_key <= 0:
        return []
    last = spec.last_key - spec.first_key if spec.last_key >= 0 else spec.last_key
    access = ["RW", "access", "update"] if "write" in spec.flags else ["RO", "access"]
    return [{
        "flags": access,
        "begin_search": {"type": "index", "spec": {"index": spec.first_key}},
        "find_keys": {"type": "range", "spec": {"lastkey": last, "keystep": spec.step or 1, "limit": 0}},
    }]


def command_info_reply(protocol: int, spec: CommandSpec | None) -> Any:
    """Return one entry of COMMAND INFO (Redis's ``addReplyCommandInfo``); ``None`` for an unknown name."""
    if spec is None:
        return None
    entry = reference().get(spec.fullname)
    tips = entry[1] if entry is not None else []
    key_specs = entry[2] if entry is not None else derived_key_specs(spec)
    if spec.subcommands:
        subcommands = [command_info_reply(protocol, sub) for sub in spec.subcommands.values()]
    else:
        subcommands = set_reply(protocol, [])
    return [
        spec.fullname.encode(),
        spec.arity,
        _status_set(protocol, reported_flags(spec)),
        spec.first_key,
        spec.last_key,
        spec.step,
        _status_set(protocol, acl_categories(spec)),
        set_reply(protocol, [tip.encode() for tip in tips]),
        set_reply(protocol, [_key_spec_reply(protocol, key_spec) for key_spec in key_specs]),
        subcommands,
    ]


_SET_VALUED_DOC_FIELDS: Final = frozenset({"history", "doc_flags", "flags"})


def _doc_value(protocol: int, field: str, value: Any) -> Any:
    if field == "arguments":
        return [_doc_map(protocol, argument) for argument in value]
    if field == "history":
        return set_reply(protocol, [[since.encode(), change.encode()] for since, change in value])
    if field in _SET_VALUED_DOC_FIELDS:
        return _status_set(protocol, value)
    return _plain(value)


def _doc_map(protocol: int, doc: dict[str, Any]) -> Any:
    flat: list[Any] = []
    for field, value in doc.items():
        flat.append(field.encode())
        flat.append(_doc_value(protocol, field, value))
    return map_reply(protocol, flat)


def command_docs_reply(protocol: int, spec: CommandSpec) -> Any:
    """Return the COMMAND DOCS map of one command (Redis's ``addReplyCommandDocs``)."""
    entry = reference().get(spec.fullname)
    if entry is not None:
        doc = dict(entry[3])
    else:
        doc = {"summary": spec.summary, "since": spec.since, "group": spec.group}
        if spec.complexity:
            doc["complexity"] = spec.complexity
    reply = _doc_map(protocol, doc)
    if spec.subcommands:
        flat: list[Any] = []
        for sub in spec.subcommands.values():
            flat.append(sub.fullname.encode())
            flat.append(command_docs_reply(protocol, sub))
        subcommands = map_reply(protocol, flat)
        if protocol == 3:
            reply[b"subcommands"] = subcommands
        else:
            reply.extend((b"subcommands", subcommands))
    return reply


def find_command(engine: Engine, name: bytes) -> CommandSpec | None:
    """Find a command by name, or a subcommand by ``container|sub`` (Redis's ``lookupCommandBySds``)."""
    parts = name.lower().split(b"|")
    if len(parts) > 2:
        return None
    spec = engine.commands.get(parts[0])
    if spec is None or len(parts) == 1:
        return spec
    return spec.subcommands.get(parts[1])


def _all_specs(engine: Engine) -> list[CommandSpec]:
    specs = []
    for spec in engine.commands.values():
        specs.append(spec)
        specs.extend(spec.subcommands.values())
    return specs


_command = define_container("command", -1, "loading stale", group="server", since="2.8.13")


def command_all(session: Session, argv: list[bytes]) -> Any:
    """COMMAND"""
    return [command_info_reply(session.protocol, spec) for spec in session.engine.commands.values()]


_command.handler = command_all
_command.summary = "Get array of Redis command details"


@define("command|count", 2, "loading stale", group="server", since="2.8.13")
def command_count(session: Session, argv: list[bytes]) -> Any:
    """COMMAND COUNT"""
    return len(session.engine.commands)


@define("command|info", -2, "loading stale", group="server", since="2.8.13")
def command_info(session: Session, argv: list[bytes]) -> Any:
    """COMMAND INFO [command-name ...]"""
    if len(argv) == 2:
        return command_all(session, argv)
    engine = session.engine
    return [command_info_reply(session.protocol, find_command(engine, name)) for name in argv[2:]]


@define("command|docs", -2, "loading stale", group="server", since="7.0.0")
def command_docs(session: Session, argv: list[bytes]) -> Any:
    """COMMAND DOCS [command-name ...]"""
    engine = session.engine
    if len(argv) == 2:
        specs = list(engine.commands.values())
    else:
        specs = [spec for spec in (find_command(engine, name) for name in argv[2:]) if spec is not None]
    flat: list[Any] = []
    for spec in specs:
        flat.append(spec.fullname.encode())
        flat.append(command_docs_reply(session.protocol, spec))
    return map_reply(session.protocol, flat)


@define("command|list", -2, "loading stale", group="server", since="7.0.0")
def command_list(session: Session, argv: list[bytes]) -> Any:
    """COMMAND LIST [FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]"""
    kind = argument = None
    i = 2
    while i < len(argv):
        if argv[i].lower() == b"filterby" and len(argv) - 1 - i == 2:
            kind = argv[i + 1].lower()
            if kind not in (b"module", b"aclcat", b"pattern"):
                raise syntax_error()
            argument = argv[i + 2].decode("utf-8", "surrogateescape")
            i += 3
        else:
            raise syntax_error()
    specs = _all_specs(session.engine)
    if kind == b"module":
        specs = []  # the engine has no modules
    elif kind == b"aclcat":
        category = "@" + str(argument).lower()
        specs = [spec for spec in specs if category in acl_categories(spec)]
    elif kind == b"pattern":
        pattern = str(argument).lower()
        specs = [spec for spec in specs if fnmatch.fnmatchcase(spec.fullname, pattern)]
    return [spec.fullname.encode() for spec in specs]


def _getkeys_target(session: Session, argv: list[bytes]) -> tuple[CommandSpec, list[bytes]]:
    target = argv[2:]
    engine = session.engine
    spec = engine.commands.get(target[0].lower())
    if spec is not None and spec.subcommands and len(target) > 1:
        spec = spec.subcommands.get(target[1].lower())
    if spec is None:
        raise ReplyError("ERR Invalid command specified")
    entry = reference().get(spec.fullname)
    # Redis's doesCommandHaveKeys: a key spec not marked not_key (SPUBLISH's channel is no key).
    if entry is not None:
        has_keys = any("not_key" not in key_spec["flags"] for key_spec in entry[2])
    else:
        has_keys = spec.first_key > 0
    if spec.key_finder is None and not has_keys:
        raise ReplyError("ERR The command has no key arguments")
    if not spec.arity_ok(len(target)):
        raise ReplyError("ERR Invalid number of arguments specified for command")
    return spec, target


@define("command|getkeys", -4, "loading stale", group="server", since="2.8.13")
def command_getkeys(session: Session, argv: list[bytes]) -> Any:
    """COMMAND GETKEYS command [arg ...]"""
    spec, target = _getkeys_target(session, argv)
    keys = spec.keys(target)
    if not keys and "no-mandatory-keys" not in spec.flags and "no_mandatory_keys" not in spec.flags:
        raise ReplyError("ERR Invalid arguments specified for command")
    return keys


@define("command|getkeysandflags", -4, "loading stale", group="server", since="7.0.0")
def command_getkeysandflags(session: Session, argv: list[bytes]) -> Any:
    """COMMAND GETKEYSANDFLAGS command [arg ...]"""
    spec, target = _getkeys_target(session, argv)
    keys = spec.keys(target)
    if not keys and "no-mandatory-keys" not in spec.flags and "no_mandatory_keys" not in spec.flags:
        raise ReplyError("ERR Invalid arguments specified for command")
    from ..acl import key_flags

    return [[key, _status_set(session.protocol, flags)] for key, flags in key_flags(spec, target)]


@define("command|help", 2, "loading stale", group="server", since="5.0.0")
def command_help(session: Session, argv: list[bytes]) -> Any:
    """COMMAND HELP"""
    return help_reply([
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ])


# -- OBJECT ---------------------------------------------------------------------

SHARED_INTEGERS: Final = 10000  # Redis shares the integers 0..9999 (OBJ_SHARED_INTEGERS)
SHARED_REFCOUNT: Final = 2**31 - 1  # OBJ_SHARED_REFCOUNT
LFU_INIT_VAL: Final = 5


def encoding_of(engine: Engine, value: Any, recorded: str | None = None) -> str:
    """Return the ``OBJECT ENCODING`` of a stored value under Redis 7.0's rules.

    Each type's rule lives with its type, in ``types/``.  ``recorded`` is the key's entry
    in ``Database.encodings``, which wins: strings whose encoding differs
    from what SET gives (APPEND leaves ``raw`` ...), and hashes and sets
    that were converted to ``hashtable`` and then shrank (Redis never
    converts them back; their families record it).  Otherwise a value is
    judged by its current content.
    """
    if recorded is not None:
        return recorded
    config = engine.config
    kind = type(value)
    if kind is bytes:
        return string_encoding(value).decode()
    if kind is deque:
        return "quicklist"
    if kind is dict:
        return hash_encoding(value, config)
    if kind is set:
        return set_encoding(value, config)
    name = type_name(value)
    if name == "zset":
        return zset_encoding(value, config)
    if name == "stream":
        return "stream"
    return str(getattr(value, "encoding", "raw"))


def _uses_shared_integers(engine: Engine) -> bool:
    # Shared integers are off when maxmemory is set with an LRU/LFU policy (MAXMEMORY_FLAG_NO_SHARED_INTEGERS).
    policy = engine.config.get("maxmemory-policy")
    return engine.config.get("maxmemory") == "0" or not ("lru" in policy or "lfu" in policy)


def is_shared_integer(engine: Engine, value: Any) -> bool:
    """Tell whether Redis would store ``value`` as one of its shared integer objects."""
    return (
        type(value) is bytes
        and len(value) <= 5
        and is_int(value)
        and 0 <= int(value) < SHARED_INTEGERS
        and _uses_shared_integers(engine)
    )


def _object_value(session: Session, key: bytes) -> Any:
    # OBJECT does not touch the key (LOOKUP_NOTOUCH) nor count hits and misses.
    db = session.db
    if db.expires and key in db.expires:
        db.expire_if_needed(key)
    return db.data.get(key)


define_container("object", -2, "", group="generic", since="2.2.3")


@define("object|encoding", 3, "readonly", 2, 2, 1, group="generic", since="2.2.3")
def object_encoding(session: Session, argv: list[bytes]) -> Any:
    """OBJECT ENCODING key"""
    value = _object_value(session, argv[2])
    if value is None:
        return None
    return encoding_of(session.engine, value, session.db.encodings.get(argv[2])).encode()


@define("object|refcount", 3, "readonly", 2, 2, 1, group="generic", since="2.2.3")
def object_refcount(session: Session, argv: list[bytes]) -> Any:
    """OBJECT REFCOUNT key"""
    value = _object_value(session, argv[2])
    if value is None:
        return None
    return SHARED_REFCOUNT if is_shared_integer(session.engine, value) else 1


@define("object|idletime", 3, "readonly", 2, 2, 1, group="generic", since="2.2.3")
def object_idletime(session: Session, argv: list[bytes]) -> Any:
    """OBJECT IDLETIME key"""
    value = _object_value(session, argv[2])
    if value is None:
        return None
    if "lfu" in session.engine.config.get("maxmemory-policy"):
        raise ReplyError(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching "
            "between policies at runtime LRU and LFU data will take some time to adjust."
        )
    return session.db.idle_seconds(argv[2])


@define("object|freq", 3, "readonly", 2, 2, 1, group="generic", since="4.0.0")
def object_freq(session: Session, argv: list[bytes]) -> Any:
    """OBJECT FREQ key"""
    value = _object_value(session, argv[2])
    if value is None:
        return None
    if "lfu" not in session.engine.config.get("maxmemory-policy"):
        raise ReplyError(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
            "switching between policies at runtime LRU and LFU data will take some time to adjust."
        )
    return session.engine.evictor.lfu_clock.decayed(session.db.accessed.get(argv[2]))


@define("object|help", 2, "loading stale", group="generic", since="6.2.0")
def object_help(session: Session, argv: list[bytes]) -> Any:
    """OBJECT HELP"""
    return help_reply([
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ])

