"""CLUSTER READONLY READWRITE ASKING: the cluster commands of a server with cluster support disabled.

This engine is one node outside cluster mode, like a redis-server started
without ``cluster-enabled``: the commands exist (in ``COMMAND``, in the
``@cluster``... ACL rules that name them), and each answers Redis's error
for that mode after the usual arity and subcommand checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..registry import define, define_container
from ..replies import ReplyError

if TYPE_CHECKING:
    from ..session import Session

CLUSTER_DISABLED: Final = "ERR This instance has cluster support disabled"

# CLUSTER's subcommands in Redis 7.0: arity and flags.
_ADMIN: Final = "admin stale no-async-loading"
SUBCOMMANDS: Final[dict[str, tuple[int, str, str]]] = {
    "addslots": (-3, _ADMIN, "3.0.0"), "addslotsrange": (-4, _ADMIN, "7.0.0"),
    "bumpepoch": (2, _ADMIN, "3.0.0"), "count-failure-reports": (3, "admin stale", "3.0.0"),
    "countkeysinslot": (3, "stale", "3.0.0"), "delslots": (-3, _ADMIN, "3.0.0"),
    "delslotsrange": (-4, _ADMIN, "7.0.0"), "failover": (-2, _ADMIN, "3.0.0"),
    "flushslots": (2, _ADMIN, "3.0.0"), "forget": (3, _ADMIN, "3.0.0"),
    "getkeysinslot": (4, "stale", "3.0.0"), "help": (2, "loading stale", "5.0.0"),
    "info": (2, "stale", "3.0.0"), "keyslot": (3, "stale", "3.0.0"), "links": (2, "stale", "7.0.0"),
    "meet": (-4, _ADMIN, "3.0.0"), "myid": (2, "stale", "3.0.0"), "nodes": (2, "stale", "3.0.0"),
    "replicas": (3, "admin stale", "5.0.0"), "replicate": (3, _ADMIN, "3.0.0"),
    "reset": (-2, "admin noscript stale", "3.0.0"), "saveconfig": (2, _ADMIN, "3.0.0"),
    "set-config-epoch": (3, _ADMIN, "3.0.0"), "setslot": (-4, _ADMIN, "3.0.0"),
    "shards": (2, "stale", "7.0.0"), "slaves": (3, "admin stale", "3.0.0"), "slots": (2, "stale", "3.0.0"),
}


def cluster_disabled(session: Session, argv: list[bytes]) -> Any:
    """Answer as a Redis server whose cluster support is disabled."""
    raise ReplyError(CLUSTER_DISABLED)


define_container("cluster", -2, "", group="cluster", since="3.0.0")
for _name, (_arity, _flags, _since) in SUBCOMMANDS.items():
    define(f"cluster|{_name}", _arity, _flags, group="cluster", since=_since)(cluster_disabled)


@define("readonly", 1, "loading stale fast", group="cluster", since="3.0.0")
def readonly(session: Session, argv: list[bytes]) -> Any:
    """READONLY"""
    raise ReplyError(CLUSTER_DISABLED)


@define("readwrite", 1, "loading stale fast", group="cluster", since="3.0.0")
def readwrite(session: Session, argv: list[bytes]) -> Any:
    """READWRITE"""
    raise ReplyError(CLUSTER_DISABLED)


@define("asking", 1, "fast", group="cluster", since="3.0.0")
def asking(session: Session, argv: list[bytes]) -> Any:
    """ASKING"""
    raise ReplyError(CLUSTER_DISABLED)
