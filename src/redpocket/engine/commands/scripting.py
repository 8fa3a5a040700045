"""Scripting commands: EVAL EVALSHA EVAL_RO EVALSHA_RO and SCRIPT (Redis 7.0's eval.c).

The Lua runtime itself lives in :mod:`redpocket.engine.scripting`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..args import to_int
from ..registry import define, define_container, numkeys_finder
from ..replies import OK, ReplyError, SimpleString
from ..scripting import kill_script, runtime

if TYPE_CHECKING:
    from ..session import Session

_NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
_EVAL_FLAGS = "noscript stale skip-monitor no-mandatory-keys movablekeys"
_EVAL_RO_FLAGS = "readonly noscript stale skip-monitor no-mandatory-keys movablekeys"
_KEYS = numkeys_finder(2)


def _keys_and_args(argv: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    numkeys = to_int(argv[2])
    if numkeys > len(argv) - 3:
        raise ReplyError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise ReplyError("ERR Number of keys can't be negative")
    return argv[3 : 3 + numkeys], argv[3 + numkeys :]


def _eval(session: Session, argv: list[bytes], read_only: bool) -> Any:
    keys, args = _keys_and_args(argv)
    lua = runtime(session.engine)
    script = lua.load(argv[1])
    return lua.run(session, script, keys, args, read_only, argv)


def _evalsha(session: Session, argv: list[bytes], read_only: bool) -> Any:
    keys, args = _keys_and_args(argv)
    lua = runtime(session.engine)
    sha = argv[1]
    script = lua.lookup(sha) if len(sha) == 40 else None
    if script is None:
        raise ReplyError(_NOSCRIPT)
    return lua.run(session, script, keys, args, read_only, argv)


@define("eval", -3, _EVAL_FLAGS, keys=_KEYS, group="scripting", since="2.6.0")
def eval_(session: Session, argv: list[bytes]) -> Any:
    """EVAL script numkeys [key [key ...]] [arg [arg ...]]"""
    return _eval(session, argv, False)


@define("eval_ro", -3, _EVAL_RO_FLAGS, keys=_KEYS, group="scripting", since="7.0.0")
def eval_ro(session: Session, argv: list[bytes]) -> Any:
    """EVAL_RO script numkeys [key [key ...]] [arg [arg ...]]"""
    return _eval(session, argv, True)


@define("evalsha", -3, _EVAL_FLAGS, keys=_KEYS, group="scripting", since="2.6.0")
def evalsha(session: Session, argv: list[bytes]) -> Any:
    """EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]]"""
    return _evalsha(session, argv, False)


@define("evalsha_ro", -3, _EVAL_RO_FLAGS, keys=_KEYS, group="scripting", since="7.0.0")
def evalsha_ro(session: Session, argv: list[bytes]) -> Any:
    """EVALSHA_RO sha1 numkeys [key [key ...]] [arg [arg ...]]"""
    return _evalsha(session, argv, True)


define_container("script", -2, "", group="scripting", since="2.6.0")


@define("script|load", 3, "noscript stale", group="scripting", since="2.6.0")
def script_load(session: Session, argv: list[bytes]) -> Any:
    """SCRIPT LOAD script"""
    return runtime(session.engine).load(argv[2]).sha


@define("script|exists", -3, "noscript", group="scripting", since="2.6.0")
def script_exists(session: Session, argv: list[bytes]) -> Any:
    """SCRIPT EXISTS sha1 [sha1 ...]"""
    scripts = session.engine.scripts
    return [1 if sha.lower() in scripts else 0 for sha in argv[2:]]


@define("script|flush", -2, "noscript", group="scripting", since="2.6.0")
def script_flush(session: Session, argv: list[bytes]) -> Any:
    """SCRIPT FLUSH [ASYNC|SYNC]"""
    if len(argv) > 3 or (len(argv) == 3 and argv[2].upper() not in (b"ASYNC", b"SYNC")):
        raise ReplyError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    engine = session.engine
    if engine._lua is not None:
        runtime(engine).flush()
    engine.scripts.clear()
    return OK


@define("script|kill", 2, "noscript allow-busy", group="scripting", since="2.6.0")
def script_kill(session: Session, argv: list[bytes]) -> Any:
    """SCRIPT KILL"""
    return kill_script(session.engine, is_eval=True)


@define("script|debug", 3, "noscript", group="scripting", since="3.2.0")
def script_debug(session: Session, argv: list[bytes]) -> Any:
    """SCRIPT DEBUG YES|SYNC|NO"""
    mode = argv[2].upper()
    if mode == b"NO":
        return OK
    if mode in (b"YES", b"SYNC"):
        raise ReplyError("ERR SCRIPT DEBUG YES/SYNC is not supported by this server")
    raise ReplyError("ERR Use SCRIPT DEBUG YES/SYNC/NO")


_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]
_HELP_REPLY = [SimpleString(line.encode()) for line in _HELP]


@define("script|help", 2, "loading stale", group="scripting", since="5.0.0")
def script_help(session: Session, argv: list[bytes]) -> Any:
    """SCRIPT HELP"""
    return list(_HELP_REPLY)

