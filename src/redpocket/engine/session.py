"""Per-client state: selected database, MULTI queue, watched keys, name, protocol."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .acl import User
    from .blocking import Block
    from .engine import Engine
    from .keyspace import Database
    from .registry import CommandSpec
    from .tracking import ClientTracking


class Session:
    """The state one client keeps on an engine; each connection owns one."""

    __slots__ = (
        "__weakref__",
        "address",
        "blocked",
        "closed",
        "created",
        "db",
        "dirty_cas",
        "engine",
        "from_master",
        "id",
        "in_exec",
        "in_script",
        "last_command",
        "last_interaction",
        "lib_name",
        "lib_version",
        "local_address",
        "multi",
        "multi_error",
        "name",
        "propagated",
        "protocol",
        "restricted",
        "tracking",
        "user",
        "wakeup",
        "watched",
    )

    def __init__(self, engine: Engine, client_id: int, address: str = "embedded") -> None:
        self.engine = engine
        self.id = client_id
        self.db: Database = engine.databases[0]
        self.name: bytes = b""
        self.lib_name: bytes = b""
        self.lib_version: bytes = b""
        self.protocol = 2
        self.multi: list[tuple[CommandSpec, list[bytes]]] | None = None
        self.multi_error = False
        self.watched: set[tuple[int, bytes]] = set()
        self.dirty_cas = False
        self.in_exec = False
        self.in_script = False
        self.created = time.time()
        self.last_interaction = self.created
        # The command it ran last (CLIENT LIST's cmd=; None: none yet, or an unknown one).
        self.last_command: CommandSpec | None = None
        self.address = address
        self.local_address = address  # (the TCP server sets the socket's own address: CLIENT LIST laddr=)
        self.closed = False
        # What the command running now goes to the append-only file as, when a
        # handler says so (Redis's alsoPropagate): (argv, commands), else None.
        self.propagated: tuple[list[bytes], list[list[bytes]]] | None = None
        # The session a replica applies its master's stream in (writes pass replica-read-only).
        self.from_master = False
        # While a command of this client waits (BLPOP ...): its Block; CLIENT
        # UNBLOCK then leaves the reply to give, as a 1-tuple, in ``wakeup``.
        self.blocked: Block | None = None
        self.wakeup: tuple[Any] | None = None
        # CLIENT TRACKING's state while it is on (see tracking.py).
        self.tracking: ClientTracking | None = None
        # The ACL user it is authenticated as (None: the default user), and whether
        # that user may be refused a command: the engine checks only then (acl.py).
        self.user: User | None = None
        self.restricted = False

    @property
    def may_block(self) -> bool:
        """Tell whether a blocking command may block now (not inside EXEC or a script)."""
        return not (self.in_exec or self.in_script)

    def execute(self, argv: list[bytes]) -> Any:
        """Execute one command for this client and return its reply (never blocks)."""
        return self.engine.execute(self, argv)

    def execute_blocking(self, argv: list[bytes]) -> Any:
        """Execute one command, waiting in this thread if it blocks (BLPOP ...) or a CLIENT PAUSE holds it."""
        return self.engine.execute_blocking(self, argv)

    def select(self, index: int) -> None:
        """Switch to database ``index`` (already validated)."""
        self.db = self.engine.databases[index]

    def unwatch(self) -> None:
        """Forget every watched key."""
        if self.watched:
            self.engine.unwatch_all(self)
        self.dirty_cas = False

    def reset_multi(self) -> None:
        """Leave MULTI state and forget watched keys (after EXEC or DISCARD)."""
        self.multi = None
        self.multi_error = False
        self.unwatch()

    def close(self) -> None:
        """Release everything this client holds on the engine."""
        if not self.closed:
            self.closed = True
            self.unwatch()
            if self.tracking is not None:
                from .tracking import tracking

                with self.engine.lock:
                    tracking(self.engine).disable(self)
            self.engine.forget_session(self)
