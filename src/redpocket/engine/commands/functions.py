"""Function commands: FCALL FCALL_RO and FUNCTION (Redis 7.0's functions.c).

The libraries live in :mod:`redpocket.engine.functions`; functions run in
the Lua runtime of :mod:`redpocket.engine.scripting`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..args import to_int
from ..functions import ENGINE_NAME, FunctionLibraries, functions
from ..registry import define, define_container, numkeys_finder
from ..replies import OK, ReplyError, SimpleString, map_reply, set_reply
from ..scripting import BUSY_EVAL, FLAG_ORDER, kill_script, runtime
from ..types.scan import glob_matcher

if TYPE_CHECKING:
    from ..session import Session

_FCALL_FLAGS = "noscript stale skip-monitor no-mandatory-keys movablekeys"
_FCALL_RO_FLAGS = "readonly noscript stale skip-monitor no-mandatory-keys movablekeys"
_KEYS = numkeys_finder(2)


def _fcall(session: Session, argv: list[bytes], read_only: bool) -> Any:
    function = functions(session.engine).find(argv[1])
    if function is None:
        raise ReplyError("ERR Function not found")
    try:
        numkeys = to_int(argv[2])
    except ReplyError:
        raise ReplyError("ERR Bad number of keys provided") from None
    if numkeys > len(argv) - 3:
        raise ReplyError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise ReplyError("ERR Number of keys can't be negative")
    keys, args = argv[3 : 3 + numkeys], argv[3 + numkeys :]
    return runtime(session.engine).run(session, function.script, keys, args, read_only, argv)


@define("fcall", -3, _FCALL_FLAGS, keys=_KEYS, group="scripting", since="7.0.0")
def fcall(session: Session, argv: list[bytes]) -> Any:
    """FCALL function numkeys [key [key ...]] [arg [arg ...]]"""
    return _fcall(session, argv, False)


@define("fcall_ro", -3, _FCALL_RO_FLAGS, keys=_KEYS, group="scripting", since="7.0.0")
def fcall_ro(session: Session, argv: list[bytes]) -> Any:
    """FCALL_RO function numkeys [key [key ...]] [arg [arg ...]]"""
    return _fcall(session, argv, True)


define_container("function", -2, "", group="scripting", since="7.0.0")


def _changed(session: Session) -> None:
    """Count a change of the libraries as a write: the AOF records the command (Redis's server.dirty++)."""
    session.engine.dirty += 1


@define("function|load", -3, "write denyoom noscript", group="scripting", since="7.0.0")
def function_load(session: Session, argv: list[bytes]) -> Any:
    """FUNCTION LOAD [REPLACE] function-code"""
    replace = False
    for option in argv[2:-1]:
        if option.upper() != b"REPLACE":
            raise ReplyError(f"ERR Unknown option given: {option.decode('utf-8', 'replace')}")
        replace = True
    name = functions(session.engine).create(argv[-1], replace)
    _changed(session)
    return name


@define("function|delete", 3, "write noscript", group="scripting", since="7.0.0")
def function_delete(session: Session, argv: list[bytes]) -> Any:
    """FUNCTION DELETE library-name"""
    functions(session.engine).delete(argv[2])
    _changed(session)
    return OK


@define("function|flush", -2, "write noscript", group="scripting", since="7.0.0")
def function_flush(session: Session, argv: list[bytes]) -> Any:
    """FUNCTION FLUSH [ASYNC|SYNC]"""
    if len(argv) > 3:
        raise _syntax(argv)
    if len(argv) == 3 and argv[2].upper() not in (b"ASYNC", b"SYNC"):
        raise ReplyError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    functions(session.engine).flush()
    _changed(session)
    return OK


@define("function|list", -2, "noscript", group="scripting", since="7.0.0")
def function_list(session: Session, argv: list[bytes]) -> Any:
    """FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]"""
    with_code = False
    pattern: bytes | None = None
    index = 2
    while index < len(argv):
        word = argv[index].upper()
        if not with_code and word == b"WITHCODE":
            with_code = True
        elif pattern is None and word == b"LIBRARYNAME":
            if index >= len(argv) - 1:
                raise ReplyError("ERR library name argument was not given")
            index += 1
            pattern = argv[index]
        else:
            raise ReplyError(f"ERR Unknown argument {argv[index].decode('utf-8', 'replace')}")
        index += 1
    matches = glob_matcher(pattern) if pattern is not None else None
    protocol = session.protocol
    out = []
    for library in functions(session.engine).libraries.values():
        if matches is not None and not matches(library.name):
            continue
        listed = [
            map_reply(protocol, [
                b"name", function.name,
                b"description", function.description,
                b"flags", set_reply(protocol, [SimpleString(f) for f in FLAG_ORDER if f in function.flags]),
            ])
            for function in library.functions.values()
        ]
        fields = [b"library_name", library.name, b"engine", ENGINE_NAME, b"functions", listed]
        if with_code:
            fields += [b"library_code", library.code]
        out.append(map_reply(protocol, fields))
    return out


@define("function|stats", 2, "noscript allow-busy", group="scripting", since="7.0.0")
def function_stats(session: Session, argv: list[bytes]) -> Any:
    """FUNCTION STATS"""
    engine = session.engine
    lua = engine._lua
    running = lua.running if lua is not None else None
    running_reply = None
    if running is not None:
        if not running.is_function:
            raise ReplyError(BUSY_EVAL)
        running_reply = map_reply(session.protocol, [
            b"name", running.name, b"command", list(running.argv), b"duration_ms", running.duration_ms(),
        ])
    store: FunctionLibraries = functions(engine)
    counts = map_reply(session.protocol, [
        b"libraries_count", len(store.libraries), b"functions_count", store.function_count(),
    ])
    return map_reply(session.protocol, [
        b"running_script", running_reply, b"engines", map_reply(session.protocol, [ENGINE_NAME, counts]),
    ])


@define("function|dump", 2, "noscript", group="scripting", since="7.0.0")
def function_dump(session: Session, argv: list[bytes]) -> Any:
    """FUNCTION DUMP"""
    return functions(session.engine).dump()


@define("function|restore", -3, "write denyoom noscript", group="scripting", since="7.0.0")
def function_restore(session: Session, argv: list[bytes]) -> Any:
    """FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]"""
    if len(argv) > 4:
        raise _syntax(argv)
    policy = argv[3].upper() if len(argv) == 4 else b"APPEND"
    if policy not in (b"FLUSH", b"APPEND", b"REPLACE"):
        raise ReplyError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    functions(session.engine).restore(argv[2], policy)
    _changed(session)
    return OK


@define("function|kill", 2, "noscript allow-busy", group="scripting", since="7.0.0")
def function_kill(session: Session, argv: list[bytes]) -> Any:
    """FUNCTION KILL"""
    return kill_script(session.engine, is_eval=False)


_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
]
_HELP_REPLY = [SimpleString(line.encode()) for line in _HELP]


@define("function|help", 2, "loading stale", group="scripting", since="7.0.0")
def function_help(session: Session, argv: list[bytes]) -> Any:
    """FUNCTION HELP"""
    return list(_HELP_REPLY)


def _syntax(argv: list[bytes]) -> ReplyError:
    """Redis's addReplySubcommandSyntaxError."""
    sub = argv[1].decode("utf-8", "replace")
    return ReplyError(f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP.")
