"""MODULE and FAILOVER: commands of a server that has no modules loaded and no replicas.

Redis modules are C libraries, which this pure-Python engine cannot load: MODULE
LIST answers an empty list, and MODULE LOAD / LOADEX / UNLOAD answer what
redis-server 7.0 answers for a library it cannot load or a name it does not
know, after the ``enable-module-command`` check of a protected command.
FAILOVER answers as a master without replicas does, after Redis's own
argument checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..args import to_int
from ..registry import define, define_container
from ..replies import SYNTAX, ReplyError, help_reply

if TYPE_CHECKING:
    from ..session import Session

MODULE_NOT_ALLOWED: Final = (
    'ERR MODULE command not allowed. If the enable-module-command option is set to "local", you can run it '
    "from a local connection, otherwise you need to set this option in the configuration file, and then "
    "restart the server."
)
LOAD_FAILED: Final = "ERR Error loading the extension. Please check the server logs."
NO_SUCH_MODULE: Final = "ERR Error unloading module: no such module with that name"
_LOAD_FLAGS: Final = "admin noscript no-async-loading"

define_container("module", -2, "", group="server", since="4.0.0")


def _check_allowed(session: Session) -> None:
    """Refuse a protected MODULE subcommand unless ``enable-module-command`` allows it (embedded clients are local)."""
    if session.engine.config.get("enable-module-command") == "no":
        raise ReplyError(MODULE_NOT_ALLOWED)


@define("module|help", 2, "loading stale", group="server", since="5.0.0")
def module_help(session: Session, argv: list[bytes]) -> Any:
    """MODULE HELP"""
    return help_reply([
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module library from <path>, while passing it module configurations and optional arguments.",
        "UNLOAD <name>",
        "    Unload a module.",
        "HELP",
        "    Prints this help.",
    ])


@define("module|list", 2, "admin noscript", group="server", since="4.0.0")
def module_list(session: Session, argv: list[bytes]) -> Any:
    """MODULE LIST"""
    return []


@define("module|load", -3, _LOAD_FLAGS, group="server", since="4.0.0")
def module_load(session: Session, argv: list[bytes]) -> Any:
    """MODULE LOAD path [arg [arg ...]]"""
    _check_allowed(session)
    raise ReplyError(LOAD_FAILED)


@define("module|loadex", -3, _LOAD_FLAGS, group="server", since="7.0.0")
def module_loadex(session: Session, argv: list[bytes]) -> Any:
    """MODULE LOADEX path [CONFIG name value [CONFIG name value ...]] [ARGS args [args ...]]"""
    _check_allowed(session)
    raise ReplyError(LOAD_FAILED)


@define("module|unload", 3, _LOAD_FLAGS, group="server", since="4.0.0")
def module_unload(session: Session, argv: list[bytes]) -> Any:
    """MODULE UNLOAD name"""
    _check_allowed(session)
    raise ReplyError(NO_SUCH_MODULE)


@define("failover", -1, "admin noscript stale", group="server", since="6.2.0")
def failover(session: Session, argv: list[bytes]) -> Any:
    """FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]"""
    if len(argv) == 2 and argv[1].lower() == b"abort":
        raise ReplyError("ERR No failover in progress.")
    timeout = 0
    host = None
    force = False
    j = 1
    while j < len(argv):
        word = argv[j].lower()
        if word == b"timeout" and j + 1 < len(argv) and timeout == 0:
            timeout = to_int(argv[j + 1])
            if timeout <= 0:
                raise ReplyError("ERR FAILOVER timeout must be greater than 0")
            j += 1
        elif word == b"to" and j + 2 < len(argv) and host is None:
            to_int(argv[j + 2])
            host = argv[j + 1]
            j += 2
        elif word == b"force" and not force:
            force = True
        else:
            raise ReplyError(SYNTAX)
        j += 1
    raise ReplyError("ERR FAILOVER requires connected replicas.")
