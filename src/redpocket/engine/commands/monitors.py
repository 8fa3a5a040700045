"""SLOWLOG and LATENCY: the commands that read the engine's monitors (``slowlog.py``, ``latency.py``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..args import to_int
from ..latency import histogram_reply, latency_report, render_graph
from ..registry import define, define_container
from ..replies import OK, ReplyError, VerbatimReply, help_reply, map_reply

if TYPE_CHECKING:
    from ..registry import CommandSpec
    from ..session import Session


# -- the SLOWLOG command ----------------------------------------------------------------

define_container("slowlog", -2, "", group="server", since="2.2.12")


@define("slowlog|get", -2, "admin loading stale", group="server", since="2.2.12")
def slowlog_get(session: Session, argv: list[bytes]) -> Any:
    """SLOWLOG GET [count]"""
    count = 10
    if len(argv) == 3:
        count = to_int(argv[2], "ERR count should be greater than or equal to -1")
        if count < -1:
            raise ReplyError("ERR count should be greater than or equal to -1")
    elif len(argv) > 3:
        spelling = argv[1].decode("utf-8", "replace")
        raise ReplyError(f"ERR unknown subcommand or wrong number of arguments for '{spelling}'. Try SLOWLOG HELP.")
    entries = session.engine.slowlog.entries
    if count == -1:
        count = len(entries)
    return [list(entry) for entry in list(entries)[:count]]


@define("slowlog|len", 2, "admin loading stale", group="server", since="2.2.12")
def slowlog_len(session: Session, argv: list[bytes]) -> Any:
    """SLOWLOG LEN"""
    return len(session.engine.slowlog.entries)


@define("slowlog|reset", 2, "admin loading stale", group="server", since="2.2.12")
def slowlog_reset(session: Session, argv: list[bytes]) -> Any:
    """SLOWLOG RESET"""
    session.engine.slowlog.reset()
    return OK


@define("slowlog|help", 2, "loading stale", group="server", since="2.2.12")
def slowlog_help(session: Session, argv: list[bytes]) -> Any:
    """SLOWLOG HELP"""
    return [
        b"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"GET [<count>]",
        b"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        b"    Entries are made of:",
        b"    id, timestamp, time in microseconds, arguments array, client IP and port,",
        b"    client name",
        b"LEN",
        b"    Return the length of the slowlog.",
        b"RESET",
        b"    Reset the slowlog.",
        b"HELP",
        b"    Prints this help.",
    ]


# -- the LATENCY command ----------------------------------------------------------------

define_container("latency", -2, "", group="server", since="2.8.13")


def _text_reply(session: Session, text: str) -> Any:
    """Return text as Redis's ``addReplyVerbatim(..., "txt")`` does: verbatim under RESP3, bulk under RESP2."""
    data = text.encode()
    return VerbatimReply(data) if session.protocol == 3 else data


@define("latency|latest", 2, "admin noscript loading stale", group="server", since="2.8.13")
def latency_latest(session: Session, argv: list[bytes]) -> Any:
    """LATENCY LATEST"""
    return [[name.encode(), series.samples[-1][0], series.samples[-1][1], series.max]
            for name, series in session.engine.latency.events.items()]


@define("latency|history", 3, "admin noscript loading stale", group="server", since="2.8.13")
def latency_history(session: Session, argv: list[bytes]) -> Any:
    """LATENCY HISTORY event"""
    series = session.engine.latency.events.get(argv[2].decode("utf-8", "surrogateescape"))
    return [] if series is None else [list(sample) for sample in series.samples]


@define("latency|graph", 3, "admin noscript loading stale", group="server", since="2.8.13")
def latency_graph(session: Session, argv: list[bytes]) -> Any:
    """LATENCY GRAPH event"""
    event = argv[2].decode("utf-8", "surrogateescape")
    series = session.engine.latency.events.get(event)
    if series is None:
        raise ReplyError(f"ERR No samples available for event '{event}'")
    return _text_reply(session, render_graph(event, series, int(time.time())))


@define("latency|doctor", 2, "admin noscript loading stale", group="server", since="2.8.13")
def latency_doctor(session: Session, argv: list[bytes]) -> Any:
    """LATENCY DOCTOR"""
    return _text_reply(session, latency_report(session.engine.latency, int(time.time())))


@define("latency|reset", -2, "admin noscript loading stale", group="server", since="2.8.13")
def latency_reset(session: Session, argv: list[bytes]) -> Any:
    """LATENCY RESET [event [event ...]]"""
    names = [arg.decode("utf-8", "surrogateescape") for arg in argv[2:]]
    return session.engine.latency.reset(names or None)


@define("latency|histogram", -2, "admin noscript loading stale", group="server", since="7.0.0")
def latency_histogram(session: Session, argv: list[bytes]) -> Any:
    """LATENCY HISTOGRAM [command [command ...]]"""
    engine = session.engine
    if len(argv) == 2:  # every command with a histogram
        named: list[CommandSpec | None] = list(engine.commands.values())
    else:  # the commands named; unknown names are left out
        named = [_lookup_fullname(engine.commands, name) for name in argv[2:]]
    flat: list[Any] = []
    for spec in named:
        if spec is None:
            continue
        for one in (spec, *spec.subcommands.values()):  # a container brings its subcommands
            counts = engine.latency.histogram(one)
            if counts is not None:
                flat += [one.fullname.encode(), histogram_reply(session.protocol, counts)]
    return map_reply(session.protocol, flat)


def _lookup_fullname(commands: dict[bytes, CommandSpec], name: bytes) -> CommandSpec | None:
    """Find ``get`` or ``config|get`` in the command table, case-insensitively (``lookupCommandBySds``)."""
    parts = name.lower().split(b"|")
    if len(parts) > 2:
        return None
    spec = commands.get(parts[0])
    if spec is None or len(parts) == 1:
        return spec
    return spec.subcommands.get(parts[1])


@define("latency|help", 2, "loading stale", group="server", since="2.8.13")
def latency_help(session: Session, argv: list[bytes]) -> Any:
    """LATENCY HELP"""
    return help_reply([
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    ])
