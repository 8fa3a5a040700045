"""Server commands: TIME INFO CONFIG DEBUG LASTSAVE ROLE MEMORY LOLWUT.

``INFO``'s text is built in :mod:`..info`; ``CONFIG`` reads and writes
:class:`..config.Config`.  COMMAND and OBJECT live in :mod:`.introspection`.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from ..args import to_int
from ..config import Setting
from ..info import info_text
from ..keyspace import type_name
from ..lolwut import schotter, skyline
from ..memory import STARTUP_MEMORY, TABLE_ENTRY, key_usage
from ..registry import define, define_container
from ..replies import (
    NO_SUCH_KEY,
    NOT_INTEGER,
    OK,
    ReplyError,
    SimpleString,
    VerbatimReply,
    double_reply,
    help_reply,
    map_reply,
    syntax_error,
)
from ..types.strings import string_encoding
from ..version import REDIS_VERSION
from .introspection import encoding_of, is_shared_integer

if TYPE_CHECKING:
    from ..engine import Engine
    from ..session import Session


@define("time", 1, "loading stale fast", group="server", since="2.6.0")
def time_(session: Session, argv: list[bytes]) -> Any:
    """TIME"""
    now_us = time.time_ns() // 1000
    return [b"%d" % (now_us // 1_000_000), b"%d" % (now_us % 1_000_000)]


@define("info", -1, "loading stale", group="server", since="1.0.0")
def info(session: Session, argv: list[bytes]) -> Any:
    """INFO [section [section ...]]"""
    engine = session.engine
    sections = [arg.decode("utf-8", "replace") for arg in argv[1:]]
    text = info_text(engine, sections, engine.commands.get(b"info"))
    return VerbatimReply(text) if session.protocol == 3 else text


@define("lastsave", 1, "loading stale fast", group="server", since="1.0.0")
def lastsave(session: Session, argv: list[bytes]) -> Any:
    """LASTSAVE"""
    engine = session.engine
    return int(getattr(engine, "lastsave", engine.started))


@define("role", 1, "noscript loading stale fast", group="server", since="2.8.12")
def role(session: Session, argv: list[bytes]) -> Any:
    """ROLE"""
    replication = session.engine.extensions.get("replication")  # (the TCP server's replication)
    if replication is not None:
        return replication.role()
    return [b"master", 0, []]


@define("wait", 3, "noscript", group="generic", since="3.0.0")
def wait(session: Session, argv: list[bytes]) -> Any:
    """WAIT numreplicas timeout

    Without replicas none ever acknowledges: asking for none (or inside
    MULTI) answers 0 at once, asking for more blocks until the timeout in
    milliseconds (``0``: forever) and answers 0, as Redis 7.0 does on a
    master without replicas.  With the TCP server's replication
    (``engine.extensions["replication"]``) it decides: the count of
    replicas that acknowledged every write so far, waiting for acks.
    """
    from ..args import to_int
    from ..blocking import Block

    wanted = to_int(argv[1], NOT_INTEGER)
    millis = to_int(argv[2], "ERR timeout is not an integer or out of range")
    if millis < 0:
        raise ReplyError("ERR timeout is negative")
    replication = session.engine.extensions.get("replication")
    if replication is not None:
        return replication.wait(session, wanted, millis)
    if wanted <= 0 or not session.may_block:
        return 0
    if millis > 2**63 - 1 - int(time.time() * 1000):
        millis = 0  # (Redis adds the time to it and overflows: its deadline never comes)
    return Block([], millis / 1000, 0)


@define("lolwut", -1, "readonly fast", group="server", since="5.0.0")
def lolwut(session: Session, argv: list[bytes]) -> Any:
    """LOLWUT [VERSION version] [argument ...]

    Version 5 draws Schotter (``columns squares-per-row squares-per-column``),
    version 6 a skyline (``columns rows``); any other version, this one
    included, just names the server's version, as Redis 7.0 does.
    """
    version = REDIS_VERSION
    arguments = argv[1:]
    if len(argv) >= 3 and argv[1].lower() == b"version":
        version = "%d.0.0" % (to_int(argv[2]) & 0xFFFFFFFF)  # (Redis prints it as an unsigned int)
        arguments = argv[3:]
    if version[:2] == "5.":
        numbers = [to_int(argument) for argument in arguments[:3]]
        art = schotter(*numbers)
        caption = b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. "
    elif version[:2] == "6.":
        numbers = [to_int(argument) for argument in arguments[:2]]
        art = skyline(*numbers)
        caption = (b"\nDedicated to the 8 bit game developers of past and present.\n"
                   b"Original 8 bit image from Plaguemon by hikikomori. Redis ver. ")
    else:
        art, caption = b"", b"Redis ver. "
    text = art + caption + REDIS_VERSION.encode() + b"\n"
    return VerbatimReply(text) if session.protocol == 3 else text


# -- CONFIG -------------------------------------------------------------------

define_container("config", -2, "", group="server", since="2.0.0")


@define("config|get", -3, "admin noscript loading stale", group="server", since="2.0.0")
def config_get(session: Session, argv: list[bytes]) -> Any:
    """CONFIG GET parameter [parameter ...]"""
    patterns = [arg.decode("utf-8", "surrogateescape") for arg in argv[2:]]
    found = session.engine.config.match(*patterns)
    flat: list[bytes] = []
    for name, value in found.items():
        flat.append(name.encode("utf-8", "surrogateescape"))
        flat.append(value.encode("utf-8", "surrogateescape"))
    if session.protocol == 3:
        return dict(zip(flat[::2], flat[1::2], strict=True))
    return flat


@define("config|set", -4, "admin noscript loading stale", group="server", since="2.0.0")
def config_set(session: Session, argv: list[bytes]) -> Any:
    """CONFIG SET parameter value [parameter value ...]"""
    if len(argv) % 2:
        raise syntax_error()
    engine = session.engine
    pairs = [
        (argv[i].decode("utf-8", "surrogateescape"), argv[i + 1].decode("utf-8", "surrogateescape"))
        for i in range(2, len(argv), 2)
    ]
    protected = engine.config.get("enable-protected-configs") != "no"  # embedded clients are local
    engine.config.set_many(pairs, protected_allowed=protected)
    return OK


@define("config|resetstat", 2, "admin noscript loading stale", group="server", since="2.0.0")
def config_resetstat(session: Session, argv: list[bytes]) -> Any:
    """CONFIG RESETSTAT"""
    reset_stats(session.engine)
    return OK


def reset_stats(engine: Engine) -> None:
    """Zero the counters INFO reports (Redis's ``resetServerStats`` and ``resetCommandTableStats``)."""
    engine.evictor.reset_stats()
    engine.expired_keys = 0
    engine.keyspace_hits = 0
    engine.keyspace_misses = 0
    engine.commands_processed = 0
    engine.connections_received = 0
    engine.total_error_replies = 0
    engine.error_replies.clear()
    engine.latency.forget_histograms()
    for spec in engine.commands.values():
        spec.calls = spec.failed_calls = spec.rejected_calls = 0
        spec.seconds = 0.0
        for sub in spec.subcommands.values():
            sub.calls = sub.failed_calls = sub.rejected_calls = 0
            sub.seconds = 0.0


@define("config|rewrite", 2, "admin noscript loading stale", group="server", since="2.8.0")
def config_rewrite(session: Session, argv: list[bytes]) -> Any:
    """CONFIG REWRITE"""
    path = session.engine.config.config_file
    if not path:
        raise ReplyError("ERR The server is running without a config file")
    write_config_file(session.engine, path)
    return OK


def write_config_file(engine: Engine, path: str) -> None:
    """Write every setting that differs from its default to ``path``, one ``name value`` line each."""
    from ..config import SETTINGS_LIST

    config = engine.config
    lines = ["# Generated by CONFIG REWRITE"]
    for setting in SETTINGS_LIST:
        value = config.values[setting.name]
        if value != setting.default:
            lines.append(f"{setting.name} {_quote_config_value(setting, value)}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def _quote_config_value(setting: Setting, value: str) -> str:
    if setting.kind in ("string", "notify") or value == "":
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


@define("config|help", 2, "loading stale", group="server", since="5.0.0")
def config_help(session: Session, argv: list[bytes]) -> Any:
    """CONFIG HELP"""
    return help_reply([
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ])


# -- DEBUG --------------------------------------------------------------------

DEBUG_NOT_ALLOWED: Final = (
    'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it '
    "from a local connection, otherwise you need to set this option in the configuration file, and then "
    "restart the server."
)


def _strtod(text: bytes) -> float:
    """Parse a number as C's ``strtod`` does for DEBUG SLEEP: the longest numeric prefix, else 0."""
    import re

    match = re.match(rb"\s*[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)", text)
    return float(match.group()) if match else 0.0


def _atoi(text: bytes) -> int:
    import re

    match = re.match(rb"\s*[+-]?\d+", text)
    return int(match.group()) if match else 0


@define("debug", -2, "admin noscript loading stale", group="server", since="1.0.0")
def debug(session: Session, argv: list[bytes]) -> Any:
    """DEBUG subcommand [argument ...]"""
    engine = session.engine
    if engine.config.get("enable-debug-command") == "no":  # "local" allows it: embedded clients are local
        raise ReplyError(DEBUG_NOT_ALLOWED)
    sub = argv[1].lower()
    if sub == b"help" and len(argv) == 2:
        return help_reply(DEBUG_HELP)
    if sub == b"sleep" and len(argv) == 3:
        # Redis blocks the whole server; the engine lock is held by the caller the same way.
        time.sleep(max(_strtod(argv[2]), 0.0))
        return OK
    if sub == b"set-active-expire" and len(argv) == 3:
        engine.active_expire_enabled = bool(_atoi(argv[2]))  # type: ignore[attr-defined]
        return OK
    if sub == b"object" and len(argv) == 3:
        value = session.db.lookup_write(argv[2])
        if value is None:
            raise ReplyError(NO_SUCH_KEY)
        return SimpleString(_debug_object_line(engine, value, session.db.encodings.get(argv[2])).encode())
    if sub == b"error" and len(argv) == 3:
        raise ReplyError(argv[2].decode("utf-8", "replace"))
    name = argv[1].decode("utf-8", "replace")
    raise ReplyError(f"ERR unknown subcommand or wrong number of arguments for '{name}'. Try DEBUG HELP.")


def _debug_object_line(engine: Engine, value: Any, recorded: str | None) -> str:
    encoding = encoding_of(engine, value, recorded)
    refcount = 2**31 - 1 if is_shared_integer(engine, value) else 1
    line = (
        f"Value at:0x{id(value):x} refcount:{refcount} encoding:{encoding} "
        f"serializedlength:{_serialized_length(value)} lru:{int(time.time()) & ((1 << 24) - 1)} lru_seconds_idle:0"
    )
    if encoding == "quicklist":
        size = sum(len(item) + 2 for item in value)
        line += (
            f" ql_nodes:1 ql_avg_node:{len(value):.2f} ql_listpack_max:{engine.config.get('list-max-listpack-size')}"
            f" ql_compressed:0 ql_uncompressed_size:{size}"
        )
    return line


def _serialized_length(value: Any) -> int:
    if type(value) is bytes:
        return len(value) + 1 if string_encoding(value) != b"int" else 2
    return memory_usage(value, 0)


DEBUG_HELP: Final = [
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
]


# -- MEMORY -------------------------------------------------------------------

define_container("memory", -2, "", group="server", since="4.0.0")

_BINS: Final = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
                640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096)


def _alloc(size: int) -> int:
    """Round an allocation up to jemalloc's size class, as ``zmalloc_size`` reports it."""
    for size_class in _BINS:
        if size <= size_class:
            return size_class
    page = 4096
    return (size + page - 1) // page * page


def _sds(length: int) -> int:
    header = 3 if length < 256 else 5 if length < 65536 else 9
    return _alloc(header + length + 1)


def memory_usage(value: Any, samples: int) -> int:
    """Estimate the bytes Redis 7.0 would use for ``value`` (``objectComputeSize``), sampling containers.

    ``samples`` elements are measured and the average extrapolated, as Redis
    does; ``0`` measures every element.
    """
    kind = type(value)
    if kind is bytes:
        encoding = string_encoding(value)
        if encoding == b"int":
            return 16
        if encoding == b"embstr":
            return _alloc(16 + 3 + len(value) + 1)
        return 16 + _sds(len(value))
    if kind is deque:
        items = list(value)
        return 16 + 48 + _alloc(sum(len(item) + 2 for item in items) + 7)
    if type_name(value) == "stream":
        return 16 + int(value.memory_usage())
    if kind not in (dict, set) and hasattr(value, "dump") and not hasattr(value, "__iter__"):
        return 16 + _sds(len(value.dump()))  # a custom Structure: its serialised size
    items = list(value.items()) if kind is dict else list(value)
    if not items:
        return 16
    count = len(items)
    sample = items if samples == 0 else items[: max(samples, 1)]
    if kind is dict:
        each = sum(_sds(len(k)) + _sds(len(v)) + 24 for k, v in sample) / len(sample)
    elif kind is set:
        each = sum(_sds(len(m)) + 24 for m in sample) / len(sample)
    elif type_name(value) == "zset":
        each = sum(_sds(len(m)) + 40 for m, _score in sample) / len(sample)
    else:
        each = 64
    return 16 + int(each * count) + 16 * count


@define("memory|usage", -3, "readonly", 2, 2, 1, group="server", since="4.0.0")
def memory_usage_command(session: Session, argv: list[bytes]) -> Any:
    """MEMORY USAGE key [SAMPLES count]"""
    samples = 5
    i = 3
    while i < len(argv):
        if argv[i].lower() == b"samples" and i + 1 < len(argv):
            from ..args import to_int

            samples = to_int(argv[i + 1], NOT_INTEGER)
            if samples < 0:
                raise syntax_error()
            i += 2
        else:
            raise syntax_error()
    db = session.db
    if db.expires and argv[2] in db.expires:
        db.expire_if_needed(argv[2])
    value = db.data.get(argv[2])
    if value is None:
        return None
    return key_usage(argv[2], value, samples)


@define("memory|stats", 2, "", group="server", since="4.0.0")
def memory_stats(session: Session, argv: list[bytes]) -> Any:
    """MEMORY STATS"""
    from ..info import rss_bytes, used_memory

    engine = session.engine
    protocol = session.protocol
    used = used_memory(engine)
    peak = engine.peak_memory
    rss = rss_bytes()
    keys = sum(len(db.data) for db in engine.databases)
    dataset = sum(db.used for db in engine.databases)
    overhead = used - dataset
    flat: list[Any] = [
        b"peak.allocated", peak, b"total.allocated", used, b"startup.allocated", STARTUP_MEMORY,
        b"replication.backlog", 0, b"clients.slaves", 0, b"clients.normal", 0, b"cluster.links", 0,
        b"aof.buffer", 0, b"lua.caches", 0, b"functions.caches", 0,
    ]
    for db in engine.databases:
        if db.data:
            tables = [
                b"overhead.hashtable.main", TABLE_ENTRY * (len(db.data) + len(db.accessed)),
                b"overhead.hashtable.expires", TABLE_ENTRY * len(db.expires),
            ]
            flat += [b"db.%d" % db.index, map_reply(protocol, tables)]
    flat += [
        b"overhead.total", overhead, b"keys.count", keys,
        b"keys.bytes-per-key", (used - STARTUP_MEMORY) // keys if keys else 0,
        b"dataset.bytes", dataset, b"dataset.percentage", double_reply(protocol, dataset * 100 / used),
        b"peak.percentage", double_reply(protocol, used * 100 / peak),
        b"allocator.allocated", used, b"allocator.active", used, b"allocator.resident", rss,
        b"allocator-fragmentation.ratio", double_reply(protocol, 1.0), b"allocator-fragmentation.bytes", 0,
        b"allocator-rss.ratio", double_reply(protocol, rss / used), b"allocator-rss.bytes", rss - used,
        b"rss-overhead.ratio", double_reply(protocol, 1.0), b"rss-overhead.bytes", 0,
        b"fragmentation", double_reply(protocol, rss / used), b"fragmentation.bytes", rss - used,
    ]
    return map_reply(protocol, flat)


@define("memory|malloc-stats", 2, "", group="server", since="4.0.0")
def memory_malloc_stats(session: Session, argv: list[bytes]) -> Any:
    """MEMORY MALLOC-STATS"""
    return b"Stats not supported for the current allocator"


@define("memory|doctor", 2, "", group="server", since="4.0.0")
def memory_doctor(session: Session, argv: list[bytes]) -> Any:
    """MEMORY DOCTOR"""
    from ..info import rss_bytes, used_memory

    engine = session.engine
    used = used_memory(engine)
    if used < 5 * 1024 * 1024:
        return _DOCTOR_EMPTY
    issues = []
    if engine.peak_memory / used > 1.5:
        issues.append(_DOCTOR_PEAK)
    # The interpreter's own RSS is not data: compare what the process grew by with what the data take.
    grown = rss_bytes() - engine.startup_rss
    if used > 10 * 1024 * 1024 and grown / max(used - STARTUP_MEMORY, 1) > 1.4:
        issues.append(_DOCTOR_RSS)
    if not issues:
        return b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
    return b"".join([_DOCTOR_FOUND, *issues, _DOCTOR_END])


_DOCTOR_EMPTY: Final = (
    b"Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these "
    b"conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be "
    b"back to our programming as soon as I finished rebooting.\n"
)
_DOCTOR_FOUND: Final = b"Sam, I detected a few issues in this Redis instance memory implants:\n\n"
_DOCTOR_PEAK: Final = (
    b" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The "
    b"allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation "
    b"ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance "
    b"Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the "
    b"Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, "
    b"please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the "
    b"instance.\n\n"
)
_DOCTOR_RSS: Final = (
    b" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means "
    b"that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis "
    b"performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry "
    b"above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the "
    b"problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc "
    b"allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n"
)
_DOCTOR_END: Final = b"I'm here to keep you safe, Sam. I want to help you.\n"


@define("memory|purge", 2, "", group="server", since="4.0.0")
def memory_purge(session: Session, argv: list[bytes]) -> Any:
    """MEMORY PURGE"""
    return OK


@define("memory|help", 2, "loading stale", group="server", since="4.0.0")
def memory_help(session: Session, argv: list[bytes]) -> Any:
    """MEMORY HELP"""
    return help_reply([
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ])

