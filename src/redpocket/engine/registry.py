"""The command table: every command's name, arity, flags and key positions.

One table drives dispatch (unknown command, arity, MULTI queueing, flags such
as ``noscript``), ``COMMAND`` introspection, the append-only file (which logs
``write`` commands only) and cluster key routing.  Handlers register here with
:func:`define`; a container command (``CONFIG``, ``OBJECT`` ...) registers its
subcommands as ``"config|get"``.

Arity follows Redis: ``N`` means exactly N arguments including the name,
``-N`` means at least N.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .session import Session

Handler = Callable[["Session", list[bytes]], Any]
KeyFinder = Callable[[list[bytes]], list[bytes]]
# A decorated handler keeps its own signature (INCR takes an optional increment).
H = TypeVar("H", bound=Handler)


@dataclass(slots=True)
class CommandSpec:
    """One row of the command table."""

    name: str
    handler: Handler | None
    arity: int
    flags: frozenset[str]
    first_key: int = 0
    last_key: int = 0
    step: int = 0
    key_finder: KeyFinder | None = None
    group: str = "generic"
    summary: str = ""
    since: str = "1.0.0"
    complexity: str = ""
    subcommands: dict[bytes, CommandSpec] = field(default_factory=dict)
    parent: CommandSpec | None = None
    calls: int = 0
    failed_calls: int = 0
    rejected_calls: int = 0  # refused before running: arity, ACL (INFO commandstats)
    seconds: float = 0.0  # time spent running it (INFO commandstats)
    write: bool = False
    # The arity as a range of argument counts (name included), for one chained comparison.
    min_argc: int = field(init=False, default=0)
    max_argc: int = field(init=False, default=0)
    logged: bool = field(init=False, default=True)  # may enter the slow log (not skip-slowlog)
    # Quick enough for the TCP server to time runs of it with one clock reading (O(1): "fast", or SET).
    quick: bool = field(init=False, default=False)
    # A command others may hook (HOOK_POINTS): Engine.call runs the engine's hooks for it.
    hooked: bool = field(init=False, default=False)
    # May grow memory: refused with -OOM while maxmemory is exceeded (Redis's CMD_DENYOOM).
    denyoom: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.write = "write" in self.flags
        self.denyoom = "denyoom" in self.flags
        arity = self.arity
        self.min_argc = arity if arity >= 0 else -arity
        self.max_argc = arity if arity >= 0 else sys.maxsize
        self.logged = "skip-slowlog" not in self.flags
        self.quick = "fast" in self.flags or self.name == "set"

    @property
    def fullname(self) -> str:
        """Return the name as Redis prints it in errors: ``get``, ``config|get``."""
        if self.parent is not None:
            return f"{self.parent.name}|{self.name}"
        return self.name

    def arity_ok(self, argc: int) -> bool:
        """Check an argument count, name included, against the arity."""
        return self.min_argc <= argc <= self.max_argc

    def keys(self, argv: list[bytes]) -> list[bytes]:
        """Return the key arguments of one invocation of this command."""
        if self.key_finder is not None:
            return self.key_finder(argv)
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return argv[self.first_key : last + 1 : self.step or 1]


COMMANDS: dict[bytes, CommandSpec] = {}

# The commands whose run other parts of the system take part in, by full name: the
# TCP server turns the reply of QUIT, RESET, CLIENT KILL, ACL DELUSER and ACL LOAD
# into an action on sockets; the append-only file makes EXEC and scripts one block;
# client-side caching invalidates everything once per FLUSHDB / FLUSHALL.  The
# table never changes for them: Engine.call runs the hooks registered with
# Engine.add_hook around the handler (see CommandHook).
HOOK_POINTS: frozenset[str] = frozenset({
    "quit", "reset", "client|kill", "acl|deluser", "acl|load", "flushdb", "flushall",
    "exec", "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro",
})


class CommandHook:
    """Something that takes part in a hooked command's run: ``before`` it, and ``after`` it with its reply.

    ``after`` runs even when the handler raised (``reply`` is then the
    error reply) and returns the reply to give, possibly another one.
    """

    def before(self, session: Session, argv: list[bytes]) -> None:
        """Run before the handler."""

    def after(self, session: Session, argv: list[bytes], reply: Any) -> Any:
        """Run after the handler; return the reply to give."""
        return reply


class CommandTable(dict[bytes, CommandSpec]):
    """An engine's command table (lower-case name -> spec) that also knows names as clients spell them.

    ``spellings`` maps a name exactly as a request sent it (``GET``, ``get``,
    ``Get``) to the spec of a command the TCP server's hot path may run
    itself, so it finds it with one dict lookup and no ``lower()``;
    ``read_spellings`` holds the read-only ones among them, for while writes
    are propagated.  Both are filled by :meth:`learn`, bounded, and
    forgotten whenever the table changes.
    """

    MAX_SPELLINGS = 4096
    # Never run by the hot path: INFO reports counters the hot path adds up
    # once per read, and MULTI, AUTH and HELLO (which may log in as an ACL
    # user the engine must check) change how every later request must run.
    NOT_INLINE = frozenset({"info", "multi", "auth", "hello"})

    def __init__(self, table: dict[bytes, CommandSpec]) -> None:
        super().__init__(table)
        self.spellings: dict[bytes, CommandSpec] = {}
        self.read_spellings: dict[bytes, CommandSpec] = {}

    def __setitem__(self, name: bytes, spec: CommandSpec) -> None:
        super().__setitem__(name, spec)
        self.forget_spellings()

    def __delitem__(self, name: bytes) -> None:
        super().__delitem__(name)
        self.forget_spellings()

    def forget_spellings(self) -> None:
        """Empty the spelling caches in place (the hot path holds references to them)."""
        self.spellings.clear()
        self.read_spellings.clear()

    def learn(self, spelling: bytes) -> None:
        """Remember how a client spelt a command name, when it names a command the hot path may run."""
        spec = self.get(spelling.lower())
        if (spec is not None and not spec.subcommands and spec.name not in self.NOT_INLINE and not spec.hooked
                and len(self.spellings) < self.MAX_SPELLINGS):
            self.spellings[spelling] = spec
            if not spec.write:
                self.read_spellings[spelling] = spec


def _split_flags(flags: str) -> frozenset[str]:
    return frozenset(flags.split())


def define(
    name: str,
    arity: int,
    flags: str = "",
    first_key: int = 0,
    last_key: int = 0,
    step: int = 0,
    *,
    keys: KeyFinder | None = None,
    group: str = "generic",
    summary: str = "",
    since: str = "1.0.0",
    complexity: str = "",
    table: dict[bytes, CommandSpec] | None = None,
) -> Callable[[H], H]:
    """Register the decorated function as the handler of ``name``.

    ``name`` may be ``"container|sub"`` to register a subcommand; the
    container must have been defined first (with ``handler=None`` through
    :func:`define_container`).  ``summary`` defaults to the first line of
    the handler's docstring.
    """
    target = COMMANDS if table is None else table

    def decorate(handler: H) -> H:
        doc_line = (handler.__doc__ or "").strip().splitlines()
        spec = CommandSpec(
            name=name.split("|")[-1].lower(),
            handler=handler,
            arity=arity,
            flags=_split_flags(flags),
            first_key=first_key,
            last_key=last_key,
            step=step,
            key_finder=keys,
            group=group,
            summary=summary or (doc_line[0] if doc_line else ""),
            since=since,
            complexity=complexity,
        )
        if "|" in name:
            parent_name, sub_name = name.lower().split("|", 1)
            parent = target[parent_name.encode()]
            spec.parent = parent
            parent.subcommands[sub_name.encode()] = spec
        else:
            target[name.lower().encode()] = spec
        return handler

    return decorate


def define_container(
    name: str, arity: int = -2, flags: str = "", *, group: str = "server", summary: str = "", since: str = "1.0.0"
) -> CommandSpec:
    """Register a container command (``CONFIG``, ``CLIENT`` ...) whose subcommands register later."""
    spec = CommandSpec(
        name=name.lower(),
        handler=None,
        arity=arity,
        flags=_split_flags(flags),
        group=group,
        summary=summary,
        since=since,
    )
    COMMANDS[name.lower().encode()] = spec
    return spec


def numkeys_finder(numkeys_index: int, first: int | None = None) -> KeyFinder:
    """Return a key finder for commands such as ``EVAL script numkeys key...``.

    ``numkeys_index`` is the position of the count; the keys follow it, or
    start at ``first`` when given.
    """

    def find(argv: list[bytes]) -> list[bytes]:
        try:
            count = int(argv[numkeys_index])
        except (IndexError, ValueError):
            return []
        start = numkeys_index + 1 if first is None else first
        return argv[start : start + max(count, 0)]

    return find
