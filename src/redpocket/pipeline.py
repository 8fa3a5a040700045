"""Pipelines whose every command returns a :class:`DeferredResult` (RedPipe).

::

    def increment_and_expire(key, num=1, expire=60, pipe=None):
        with redpocket.pipeline(pipe) as pipe:
            ref = pipe.incrby(key, num)
            pipe.expire(key, expire)
            return ref

    with redpocket.pipeline() as pipe:
        a = increment_and_expire("k1", pipe=pipe)   # joins the outer pipeline
    print(a.result)                                   # filled when the outer block exits

A context opened with ``pipe=None`` is a *root*: when its ``with`` block
exits it sends everything queued in it and in the contexts nested in it, one
batch per named connection (several connections are sent concurrently), then
fills every :class:`DeferredResult` and runs the ``on_execute`` callbacks
(a command queued with :meth:`PipelineContext.queue_command` has no result:
its error reply, if any, is raised there).
A nested context (``pipeline(pipe)``) passes its commands and callbacks up to
its root.  An exception inside a ``with`` block discards that block's
commands and sends nothing for them.

Commands are queued straight into redis-py pipelines, so redis-py's response
callbacks and ``decode_responses`` apply exactly as they do without redpocket.
The stack of open contexts lives in a :class:`contextvars.ContextVar`, so
threads and asyncio tasks never see each other's pending pipelines.

asyncio: ``async with redpocket.apipeline() as pipe:`` opens a root on the
``connect_async()`` connections, executed when its block exits; everything
else is the same (nested contexts, even ones opened with a plain ``with``
inside a helper, join it).  The execution logic exists once, as step
generators (:mod:`redpocket.steps`): ``_Batch.execute_steps``,
:meth:`ClusterBatch.execute_steps`, :func:`failover_steps`; a sync and an
async driver only perform their I/O steps.

On a Redis Cluster connection the batch goes through redis-py's
``ClusterPipeline``: the commands are grouped by the node that owns their
slot, each node's batch is written before any reply is read (one round trip
per node, concurrently), and a ``MOVED`` / ``ASK`` reply or a connection
error during a resharding or failover is retried transparently.  Scripts
queued with :meth:`PipelineContext.run_script` are loaded on every master
once per client (and again after a ``NOSCRIPT``, e.g. on a promoted
replica).  ``transaction=True`` needs every key of the batch in one slot
(one hash tag: ``{user:1}:a``, ``{user:1}:b``); a command on another slot
raises :class:`PipelineError` when it is queued, before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redis.commands.core import CoreCommands

from .connections import DEFAULT, get_async_client, get_client
from .errors import PipelineError, ResultNotReady
from .steps import Gather, Sleep, Steps, call, run_async, run_sync

T = TypeVar("T")

_NOT_SET: Any = object()
_open_contexts: contextvars.ContextVar[tuple[PipelineContext, ...]] = contextvars.ContextVar(
    "redpocket_open_pipelines", default=()
)


class DeferredResult(Generic[T]):
    """The reply of a queued command, available as :attr:`result` once its pipeline has executed.

    A function may also create one empty and fill it with :meth:`set` from an
    ``on_execute`` callback, to return a value computed from other replies.
    """

    __slots__ = ("_error", "_value")

    def __init__(self) -> None:
        self._value: Any = _NOT_SET
        self._error: BaseException | None = None

    @property
    def ready(self) -> bool:
        """Tell whether the result (or error) is known."""
        return self._value is not _NOT_SET or self._error is not None

    @property
    def result(self) -> T:
        """Return the reply; raise the command's error, or :class:`ResultNotReady` before execution."""
        if self._error is not None:
            raise self._error
        if self._value is _NOT_SET:
            raise ResultNotReady(
                "the pipeline has not executed yet: read .result after the outermost `with redpocket.pipeline()` block exits"
            )
        return self._value  # type: ignore[no-any-return]

    def set(self, value: T) -> None:
        """Fill the result."""
        self._value = value
        self._error = None

    def set_error(self, error: BaseException) -> None:
        """Record the error that reading :attr:`result` will raise."""
        self._error = error

    def __repr__(self) -> str:
        if self._error is not None:
            return f"<DeferredResult error={self._error!r}>"
        if self._value is _NOT_SET:
            return "<DeferredResult pending>"
        return f"<DeferredResult {self._value!r}>"

    def __str__(self) -> str:
        return str(self.result)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DeferredResult):
            other = other.result
        return bool(self.result == other)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return bool(self.result)

    def __int__(self) -> int:
        return int(self.result)  # type: ignore[call-overload,no-any-return]

    def __float__(self) -> float:
        return float(self.result)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.result)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.result)  # type: ignore[call-overload,no-any-return]

    def __contains__(self, item: object) -> bool:
        return item in self.result  # type: ignore[operator]

    def __getitem__(self, item: Any) -> Any:
        return self.result[item]  # type: ignore[index]


_FAILED = "_redpocket_failed"  # an option marking a command refused before sending (its error)
_SLOT = "_redpocket_slot"  # an option holding the slot of a command, routed when the batch is sent

# Scripts known to be loaded on every master of a cluster client (by SHA).
_cluster_scripts: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

CLUSTERS = (RedisCluster, AsyncRedisCluster)
"""redis-py's cluster clients, sync and asyncio."""

# Commands whose keys follow a numkeys argument: (position of numkeys, keys before it).
_NUMKEYS_COMMANDS = {
    "ZINTERSTORE": (2, 1), "ZUNIONSTORE": (2, 1), "ZDIFFSTORE": (2, 1),
    "ZINTER": (1, 0), "ZUNION": (1, 0), "ZDIFF": (1, 0), "ZINTERCARD": (1, 0), "SINTERCARD": (1, 0),
    "EVAL": (2, 0), "EVALSHA": (2, 0), "EVAL_RO": (2, 0), "EVALSHA_RO": (2, 0), "FCALL": (2, 0), "FCALL_RO": (2, 0),
    "LMPOP": (1, 0), "ZMPOP": (1, 0),
}


def command_keys(args: tuple[Any, ...]) -> list[Any] | None:
    """Return the keys of a command whose keys follow a ``numkeys`` argument (``None`` for other commands).

    redis-py asks a node (``COMMAND GETKEYS``, one round trip per command)
    for the keys of such commands; knowing them here keeps a cluster
    pipeline to one round trip per node.
    """
    name = args[0].upper() if isinstance(args[0], str) else args[0].decode().upper()
    layout = _NUMKEYS_COMMANDS.get(name)
    if layout is None:
        return None
    position, before = layout
    try:
        count = int(args[position])
    except (IndexError, ValueError, TypeError):
        return None
    return [*args[1 : 1 + before], *args[position + 1 : position + 1 + count]]


# Errors of a cluster in the middle of a failover or resharding: worth retrying after a pause.
FAILOVER_ERRORS = (
    redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError,
    redis.exceptions.SlotNotCoveredError, redis.exceptions.MovedError, redis.exceptions.AskError,
)
FAILOVER_TIMEOUT = 20.0
"""Seconds a cluster operation keeps retrying through a failover (redis-py's own retries do not pause)."""


def ride_failover(client: Any, operation: Callable[[], T]) -> T:
    """Run ``operation``; on a cluster, retry it with backoff while a failover or resharding is under way.

    redis-py retries a failed cluster command at once, a few times: a
    master that died is only replaced after ``cluster-node-timeout``, so
    redpocket keeps retrying (refreshing the slot table) for up to
    :data:`FAILOVER_TIMEOUT` seconds.  Only for operations that are safe to
    repeat (reads, and the ORM's save script, which re-checks what it
    writes).  :func:`failover_steps` is the same for sync and async drivers.
    """
    if not isinstance(client, RedisCluster):
        return operation()
    return run_sync(failover_steps(client, lambda: call(operation)))


def failover_steps(client: Any, operation: Callable[[], Steps[T]]) -> Steps[T]:
    """Run the steps ``operation()`` returns; on a cluster, run them again with backoff through a failover."""
    if not isinstance(client, CLUSTERS):
        return (yield from operation())
    deadline = time.monotonic() + FAILOVER_TIMEOUT
    pause = 0.02
    while True:
        try:
            return (yield from operation())
        except FAILOVER_ERRORS:
            if time.monotonic() + pause > deadline:
                raise
            yield Sleep(pause)
            pause = min(pause * 2, 0.5)
            with contextlib.suppress(redis.RedisError):
                yield client.nodes_manager.initialize


def ensure_scripts(client: RedisCluster, scripts: Any) -> None:
    """Load ``scripts`` (redis-py ``Script`` objects) on every master of ``client`` unless known loaded."""
    run_sync(ensure_scripts_steps(client, scripts))


def ensure_scripts_steps(client: Any, scripts: Any) -> Steps[None]:
    """The steps of :func:`ensure_scripts`, for a sync or an asyncio cluster client."""
    known = _cluster_scripts.setdefault(client, set())
    for script in scripts:
        if script.sha not in known:
            yield functools.partial(client.script_load, script.script)
            known.add(script.sha)


class ClusterBatch(CoreCommands):  # type: ignore[misc]
    """The commands of one cluster connection, handed to a redis-py ``ClusterPipeline`` on execution.

    Holding them here keeps what redpocket needs (discarding a nested block,
    checking a transaction's slot as each command is queued, routing the
    commands whose keys redis-py would look up with a round trip, loading
    scripts) out of redis-py's private queue.  Its command methods queue
    (``batch.zinterstore(...)``) like a redis-py pipeline's, for the ORM's
    internal batches; ``execute()`` returns the replies in order, and
    :meth:`execute_steps` is the same for an asyncio driver.  On a
    ``redis.asyncio`` cluster client, whose slot lookup may need a round
    trip, a command's slot is computed here only for the commands whose
    keys redpocket knows (``numkeys`` commands; the first key in a
    transaction); redis-py routes the others when the batch is sent.
    """

    _event_dispatcher: Any = None

    def __init__(self, client: Any, transaction: bool = False) -> None:
        self.client = client
        self.asynchronous = isinstance(client, AsyncRedisCluster)
        self.transaction = transaction
        self.command_stack: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.scripts: set[Any] = set()
        self.slot: int | None = None
        self.slot_key: Any = None

    def execute_command(self, *args: Any, **options: Any) -> ClusterBatch:
        """Queue one command (redis-py's command methods call this)."""
        self.pipeline_execute_command(*args, **options)
        return self

    def run_script(self, script: Any, keys: list[Any], args: list[Any]) -> None:
        """Queue a redis-py ``Script`` as EVALSHA (loaded on every master before the batch is sent)."""
        self.scripts.add(script)
        self.pipeline_execute_command("EVALSHA", script.sha, len(keys), *keys, *args)

    def __len__(self) -> int:
        return len(self.command_stack)

    def pipeline_execute_command(self, *args: Any, **options: Any) -> None:
        """Queue one command with its response-callback options, routed to the node that owns its slot.

        A command whose keys span several slots is not queued: its result
        becomes the cross-slot error, and the rest of the batch is sent.
        """
        keys = command_keys(args)
        if self.transaction:
            self._check_slot(args, keys)
        elif "target_nodes" not in options and str(args[0]).upper() not in self.client.command_flags:
            try:
                slot = self._one_slot(args, keys) if keys is not None else None if self.asynchronous else self._slot_of(args)
            except redis.RedisClusterException as error:
                options = {_FAILED: error}
            else:
                if slot is not None:
                    options[_SLOT] = slot
        self.command_stack.append((args, options))

    def _slot_of(self, args: tuple[Any, ...]) -> int:
        """Return the slot of a command without ``numkeys`` (an asyncio client: of its first key)."""
        if not self.asynchronous:
            return self.client.determine_slot(*args)  # type: ignore[no-any-return]
        if len(args) < 2:
            raise redis.RedisClusterException(f"{args[0]!s} has no key")
        return self.client.keyslot(args[1])  # type: ignore[no-any-return]

    def _one_slot(self, args: tuple[Any, ...], keys: list[Any]) -> int:
        slots = {self.client.keyslot(key) for key in keys}
        if len(slots) != 1:
            raise redis.RedisClusterException(f"{args[0]!s} - all keys must map to the same key slot")
        return slots.pop()

    def _check_slot(self, args: tuple[Any, ...], keys: list[Any] | None) -> None:
        try:
            slots = {self.client.keyslot(key) for key in keys} if keys else {self._slot_of(args)}
        except redis.RedisError as error:
            raise PipelineError(f"a transaction on a Redis Cluster needs commands with keys: {args[0]!s}: {error}") from None
        key = keys[0] if keys else args[1] if len(args) > 1 else None
        if self.slot is None and len(slots) == 1:
            self.slot, self.slot_key = next(iter(slots)), key
        if slots != {self.slot}:
            raise PipelineError(
                f"transaction=True on a Redis Cluster needs every key in one slot: {args[0]!s} {key!r} is in slot(s) "
                f"{sorted(str(slot) for slot in slots)}, but {self.slot_key!r} is in slot {self.slot}; give the keys one hash tag "
                f"(e.g. {{user:1}}:a and {{user:1}}:b) or drop transaction=True. Nothing was sent."
            )

    def reset(self) -> None:  # type: ignore[override]  # a pipeline's reset(), not the RESET command
        """Forget the queued commands."""
        self.command_stack = []
        self.slot = self.slot_key = None

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send the batch (see :meth:`execute_steps`) and return the replies in order."""
        return run_sync(self.execute_steps(raise_on_error))

    def execute_steps(self, raise_on_error: bool = True) -> Steps[list[Any]]:
        """Send the batch, retrying what meets a failover and reloading lost scripts; return the replies in order."""
        if not self.command_stack:
            return []
        try:
            if self.scripts:
                yield from failover_steps(self.client, lambda: ensure_scripts_steps(self.client, self.scripts))
            replies = yield from self._send(self.command_stack)
            # Commands that met a failover or resharding: send them again, with backoff, until it is over.
            deadline = time.monotonic() + FAILOVER_TIMEOUT
            pause = 0.02
            while not self.transaction:
                retry = [i for i, reply in enumerate(replies) if isinstance(reply, FAILOVER_ERRORS)]
                if not retry or time.monotonic() + pause > deadline:
                    break
                yield Sleep(pause)
                pause = min(pause * 2, 0.5)
                with contextlib.suppress(redis.RedisError):
                    yield self.client.nodes_manager.initialize
                resent = yield from self._send([self.command_stack[i] for i in retry])
                for i, reply in zip(retry, resent, strict=True):
                    replies[i] = reply
            replies = yield from self._reload_scripts(replies)
            if raise_on_error:
                for reply in replies:
                    if isinstance(reply, BaseException):
                        raise reply
            return replies
        finally:
            self.reset()

    def _send(self, commands: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> Steps[list[Any]]:
        """Send ``commands`` in one ClusterPipeline; return one reply (or error) per command."""
        pipe = self.client.pipeline(transaction=self.transaction)
        failed = {i: options[_FAILED] for i, (_, options) in enumerate(commands) if _FAILED in options}
        nodes = self.client.nodes_manager
        try:
            for args, options in commands:
                if _FAILED in options:
                    continue
                options = dict(options)
                slot = options.pop(_SLOT, None)
                if slot is not None:
                    options["target_nodes"] = nodes.get_node_from_slot(slot)
                pipe.execute_command(*args, **options)
            # (redis-py's execute() resets the pipeline, also when it fails)
            sent = (yield lambda: pipe.execute(raise_on_error=False)) if len(failed) < len(commands) else []
        except redis.RedisError as error:  # the batch could not be routed or sent at all
            sent = [error] * (len(commands) - len(failed))
        answers = iter(sent)
        return [failed[i] if i in failed else next(answers) for i in range(len(commands))]

    def _reload_scripts(self, replies: list[Any]) -> Steps[list[Any]]:
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)]
        if missing:
            # A master that lost its script cache (a promoted replica, SCRIPT FLUSH): load and run those again.
            _cluster_scripts.pop(self.client, None)
            yield from failover_steps(self.client, lambda: ensure_scripts_steps(self.client, self.scripts))
            resent = yield from self._send([self.command_stack[i] for i in missing])
            for i, reply in zip(missing, resent, strict=True):
                replies[i] = reply
        return replies


def raw_pipeline(client: Any) -> Any:
    """Return a non-transactional batch for ``client``: a redis-py pipeline, or a :class:`ClusterBatch` on a cluster."""
    if isinstance(client, CLUSTERS):
        return ClusterBatch(client)
    return client.pipeline(transaction=False)


def _current_task() -> Any:
    """Return the running asyncio task (``None`` outside one)."""
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _argument_bytes(value: Any) -> bytes:
    """Encode one command argument as redis-py does (text as UTF-8, numbers as their repr)."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise redis.DataError(f"Invalid input of type: {type(value).__name__!r}. Convert to a bytes, string, int or float first.")
    return repr(value).encode()


_STR_HEADERS = [bytes([0xA0 | n]) for n in range(32)] + [b"\xd9" + bytes([n]) for n in range(32, 256)]


def _msgpack_strings(values: list[Any]) -> bytes:
    """Return ``values`` (command arguments) as a MessagePack array of strings."""
    count = len(values)
    out = [bytes([0x90 | count]) if count < 16 else b"\xdc" + count.to_bytes(2, "big") if count < 65536
           else b"\xdd" + count.to_bytes(4, "big")]
    append = out.append
    headers = _STR_HEADERS
    for value in values:
        if type(value) is not bytes:
            value = value.encode() if type(value) is str else _argument_bytes(value)
        size = len(value)
        if size < 256:
            append(headers[size])
        else:
            append(b"\xda" + size.to_bytes(2, "big") if size < 65536 else b"\xdb" + size.to_bytes(4, "big"))
        append(value)
    return b"".join(out)


class ScriptCalls(DeferredResult[list[Any]]):
    """Calls of one script coalesced into one call of its *batch script*, whose reply fills each call's result.

    A batch script takes ``KEYS``: every call's keys in turn, and ``ARGV``:
    ``ncalls, (nkeys, packed)*`` where ``packed`` is a call's arguments as
    one MessagePack array of strings (``cmsgpack.unpack`` in the script:
    one argument takes far less packing than thirty, on both sides);
    it runs the script once per call and replies with the list of their
    replies, an error reply standing for a call that failed.  The command
    is queued for the first call (as a batch of one) and rewritten with
    all of them just before the pipeline is sent.
    """

    LIMIT = 1000
    """Calls per script call at most (one script call blocks the server for its whole run)."""

    __slots__ = ("calls", "context", "entry", "index", "results", "script", "slot", "target")

    def __init__(self, context: PipelineContext, script: Any, slot: int | None, target: Any, index: int) -> None:
        super().__init__()
        self.context = context
        self.script = script
        self.slot = slot
        self.target = target
        self.index = index
        self.entry = target.command_stack[index]
        self.calls: list[tuple[list[Any], list[Any]]] = []
        self.results: list[DeferredResult[Any]] = []

    def add(self, keys: list[Any], args: list[Any], result: DeferredResult[Any]) -> None:
        """Add one call and the result its reply fills."""
        self.calls.append((keys, args))
        self.results.append(result)

    def finish(self) -> None:
        """Rewrite the queued command with every call (once the pipeline is about to be sent)."""
        stack = self.target.command_stack
        if len(self.calls) == 1 or self.index >= len(stack) or stack[self.index] is not self.entry:
            return  # (a batch of one is queued as it is; a discarded one is gone)
        stack[self.index] = (self.command(self.script, self.calls), self.entry[1])

    @staticmethod
    def command(script: Any, calls: list[tuple[list[Any], list[Any]]]) -> tuple[Any, ...]:
        """Return the EVALSHA of ``script`` running ``calls`` (each its keys and arguments)."""
        keys: list[Any] = []
        args: list[Any] = [len(calls)]
        for call_keys, call_args in calls:
            keys += call_keys
            args += [len(call_keys), _msgpack_strings(call_args)]
        return ("EVALSHA", script.sha, len(keys), *keys, *args)

    def distribute(self) -> None:
        """Fill each call's result with its own reply (or error), or all with the batch's error."""
        if self._error is not None:
            for result in self.results:
                result.set_error(self._error)
            return
        replies = self._value
        if not isinstance(replies, list) or len(replies) != len(self.results):
            error = PipelineError(f"a batch script replied {replies!r} to {len(self.results)} calls")
            for result in self.results:
                result.set_error(error)
            return
        for result, reply in zip(self.results, replies, strict=True):
            if isinstance(reply, BaseException):
                result.set_error(reply)
            else:
                result.set(reply)


class _Batch:
    """Everything a root context will send: redis-py pipelines per connection and the results to fill.

    A batch is sync (``pipeline()``) or asyncio (``apipeline()``): that
    decides only which clients it queues into (:func:`get_client` or
    :func:`get_async_client`), whose thread or task owns it, and which
    driver runs :meth:`execute_steps`.
    """

    __slots__ = ("asynchronous", "callbacks", "open_calls", "opened_by", "owner", "pipes", "results", "script_calls",
                 "transaction")

    def __init__(self, transaction: bool, asynchronous: bool) -> None:
        self.transaction = transaction
        self.asynchronous = asynchronous
        self.owner: Callable[[], Any] = _current_task if asynchronous else threading.get_ident
        self.opened_by = self.owner()
        self.pipes: dict[str, Any] = {}
        self.results: dict[str, list[DeferredResult[Any] | None]] = {}
        self.callbacks: list[Callable[[], Any]] = []
        self.open_calls: ScriptCalls | None = None  # (the batched script calls the next one may join)
        self.script_calls: list[ScriptCalls] = []

    def check_owner(self) -> None:
        """Refuse a command queued from another thread (sync) or task (asyncio) than the one that opened the root."""
        if self.owner() != self.opened_by:
            kind = "asyncio task" if self.asynchronous else "thread"
            raise PipelineError(f"a pipeline context belongs to the {kind} that opened it; open one per {kind}")

    def pipe_for(self, name: str) -> Any:
        """Return the queue of connection ``name``: a redis-py pipeline, or a :class:`ClusterBatch`."""
        pipe = self.pipes.get(name)
        if pipe is None:
            client = get_async_client(name) if self.asynchronous else get_client(name)
            if isinstance(client, CLUSTERS):
                pipe = self.pipes[name] = ClusterBatch(client, self.transaction)
            else:
                pipe = self.pipes[name] = client.pipeline(transaction=self.transaction)
            self.results[name] = []
        return pipe

    def marks(self) -> tuple[dict[str, int], int]:
        """Return the current queue lengths, to discard what is queued after them."""
        return {name: len(pipe.command_stack) for name, pipe in self.pipes.items()}, len(self.callbacks)

    def discard_after(self, marks: tuple[dict[str, int], int]) -> None:
        lengths, callbacks = marks
        for name, pipe in self.pipes.items():
            keep = lengths.get(name, 0)
            del pipe.command_stack[keep:]
            del self.results[name][keep:]
            if keep == 0 and type(pipe) is ClusterBatch:
                pipe.reset()
        del self.callbacks[callbacks:]

    def execute_steps(self) -> Steps[None]:
        """Send each connection's batch (concurrently when there are several), then fill the results."""
        for calls in self.script_calls:
            calls.finish()
        self.script_calls, self.open_calls = [], None
        names = [name for name, pipe in self.pipes.items() if pipe.command_stack]
        try:
            if len(names) > 1:
                sent = yield Gather([self._send(name) for name in names])
                replies = dict(zip(names, sent, strict=True))
            else:
                replies = {}
                for name in names:
                    replies[name] = yield from self._send(name)
        finally:
            for pipe in self.pipes.values():
                if type(pipe) is ClusterBatch:  # (isinstance would walk redis-py's command protocols)
                    pipe.reset()
                else:  # (one redis-py executed has reset itself; this empties one never sent)
                    del pipe.command_stack[:]
        yield from self._fill(replies)

    def _send(self, name: str) -> Steps[list[Any]]:
        pipe = self.pipes[name]
        steps = pipe.execute_steps(False) if type(pipe) is ClusterBatch else call(lambda: pipe.execute(raise_on_error=False))
        try:
            return (yield from steps)
        except redis.RedisError as error:  # EXECABORT, WatchError, connection errors: every command fails
            return [error] * len(self.results[name])

    def _fill(self, replies: dict[str, list[Any]]) -> Steps[None]:
        """Fill every DeferredResult, then run the callbacks; raise the first error nobody else reports.

        A callback may return a generator of steps (an ORM save that must be
        retried): the batch's driver runs them, with its own kind of I/O.
        """
        failures: list[BaseException] = []
        for name, batch_replies in replies.items():
            for deferred, reply in zip(self.results[name], batch_replies, strict=True):
                if isinstance(reply, BaseException):
                    if deferred is None:
                        failures.append(reply)
                    else:
                        deferred._error = reply
                elif deferred is not None:
                    deferred._value = reply
        for callback in self.callbacks:
            try:
                more = callback()
                if inspect.isgenerator(more):
                    yield from more
            except Exception as error:  # every callback runs; the first failure is raised after
                failures.append(error)
        if failures:
            raise failures[0]


class PipelineContext(CoreCommands):  # type: ignore[misc]
    """A pipeline context: every redis-py command method on it returns a :class:`DeferredResult`.

    ``pipe`` is an enclosing context to join (``None`` opens a root that
    executes when its block exits); ``name`` picks a named connection
    (default: the enclosing context's, else ``"default"``); ``transaction``
    wraps each connection's batch in MULTI/EXEC (roots only);
    ``asynchronous`` makes a root an asyncio one (see :func:`apipeline`).

    A root runs with ``with`` (sync) or ``async with`` (asyncio); a nested
    context sends nothing, so it takes either, whatever its root: a
    function written with ``with redpocket.pipeline(pipe)`` joins an
    ``apipeline()`` root unchanged.
    """

    _event_dispatcher: Any = None

    def __init__(self, pipe: PipelineContext | None = None, name: str | None = None, transaction: bool = False,
                 asynchronous: bool = False) -> None:
        if pipe is not None and not isinstance(pipe, PipelineContext):
            raise PipelineError(
                f"pipe= takes a redpocket pipeline context, not {type(pipe).__name__}; "
                "open one with `with redpocket.pipeline() as pipe:`"
            )
        if pipe is not None and transaction and not pipe._batch.transaction:
            raise PipelineError("transaction=True can only be set on the outermost pipeline context")
        self.parent = pipe
        self.name: str = name or (pipe.name if pipe is not None else DEFAULT)
        self._batch: _Batch = pipe._batch if pipe is not None else _Batch(transaction, asynchronous)
        self._marks: tuple[dict[str, int], int] | None = None
        self._token: contextvars.Token[tuple[PipelineContext, ...]] | None = None
        self._target = self._batch.pipe_for(self.name)
        self._results = self._batch.results[self.name]

    @property
    def is_root(self) -> bool:
        """Tell whether this context executes its batch itself."""
        return self.parent is None

    @property
    def asynchronous(self) -> bool:
        """Tell whether this context's root is an asyncio one (executed with ``async with`` / ``await``)."""
        return self._batch.asynchronous

    def _open(self) -> PipelineContext:
        if self.parent is None:  # (the task or thread that enters a root owns it)
            self._batch.opened_by = self._batch.owner()
        self._marks = self._batch.marks()
        self._token = _open_contexts.set((*_open_contexts.get(), self))
        return self

    def _close(self, failed: bool) -> bool:
        """Leave the block (discarding its commands when it ``failed``); tell whether the batch must execute now."""
        if self._token is not None:
            _open_contexts.reset(self._token)
            self._token = None
        if failed:
            if self._marks is not None:
                self._batch.discard_after(self._marks)
            return False
        return self.parent is None

    def __enter__(self) -> PipelineContext:
        if self.parent is None and self._batch.asynchronous:
            raise PipelineError("an apipeline() root executes with `async with redpocket.apipeline() as pipe:`")
        return self._open()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._close(exc_type is not None):
            run_sync(self._batch.execute_steps())

    async def __aenter__(self) -> PipelineContext:
        if self.parent is None and not self._batch.asynchronous:
            raise PipelineError("a pipeline() root executes with `with`; open `async with redpocket.apipeline()`")
        return self._open()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._close(exc_type is not None):
            await run_async(self._batch.execute_steps())

    def execute_command(self, *args: Any, **options: Any) -> DeferredResult[Any]:
        """Queue one command and return the DeferredResult its reply will fill."""
        self._batch.check_owner()
        self._target.pipeline_execute_command(*args, **options)
        deferred: DeferredResult[Any] = DeferredResult()
        self._results.append(deferred)
        return deferred

    def run_command(self, result: DeferredResult[T], *args: Any) -> DeferredResult[T]:
        """Queue one command whose reply fills ``result`` (a DeferredResult of the caller's own kind); return it."""
        self._batch.check_owner()
        self._target.pipeline_execute_command(*args)
        self._results.append(result)
        return result

    def queue_command(self, *args: Any) -> None:
        """Queue one command whose reply nobody reads; an error reply is raised when the pipeline executes."""
        self._batch.check_owner()
        self._target.pipeline_execute_command(*args)
        self._results.append(None)

    def then(self, source: DeferredResult[Any], transform: Callable[[Any], T]) -> DeferredResult[T]:
        """Return a DeferredResult filled with ``transform(source.result)`` once executed.

        An error of ``source`` (or of ``transform``) becomes the error of the
        new result instead of escaping from the pipeline's execution.
        """
        derived: DeferredResult[T] = DeferredResult()

        def fill() -> None:
            try:
                derived.set(transform(source.result))
            except Exception as error:
                derived.set_error(error)

        self.on_execute(fill)
        return derived

    def run_script(self, script: Any, keys: list[Any], args: list[Any], result: DeferredResult[Any] | None = None,
                   batch: Any = None) -> DeferredResult[Any]:
        """Queue a redis-py ``Script`` (EVALSHA, loaded first when the server lacks it).

        Its reply fills ``result`` (a new DeferredResult by default), which is returned.
        With ``batch`` (a ``Script`` that runs ``script`` once per call, see
        :class:`ScriptCalls`), calls queued one after another in this
        context on one slot go to one call of ``batch``; each still gets
        its own reply, or its own error.
        """
        self._batch.check_owner()
        if result is None:
            result = DeferredResult()
        if batch is not None:
            self._queue_batched(batch, keys, args, result)
            return result
        self._target.scripts.add(script)
        self._target.pipeline_execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        self._results.append(result)
        return result

    def _queue_batched(self, batch: Any, keys: list[Any], args: list[Any], result: DeferredResult[Any]) -> None:
        """Add a call to the open :class:`ScriptCalls` of ``batch`` when it is the last command queued, else open one."""
        target = self._target
        slot = target.client.keyslot(keys[0]) if type(target) is ClusterBatch else None
        calls = self._batch.open_calls
        stack = target.command_stack
        if (calls is not None and calls.context is self and calls.script is batch and calls.slot == slot
                and stack and stack[-1] is calls.entry and len(calls.results) < ScriptCalls.LIMIT):
            calls.add(keys, args, result)
            return
        target.scripts.add(batch)
        target.pipeline_execute_command(*ScriptCalls.command(batch, [(keys, args)]))
        calls = ScriptCalls(self, batch, slot, target, len(stack) - 1)
        calls.add(keys, args, result)
        self._batch.open_calls = calls
        self._batch.script_calls.append(calls)
        self._results.append(calls)
        self.on_execute(calls.distribute)

    def on_execute(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` after the root has executed and every result is filled."""
        self._batch.callbacks.append(callback)

    def execute(self) -> Any:
        """Execute now, for a root used without ``with`` (nested contexts cannot); ``await`` it on an asyncio root."""
        steps = self.execute_steps()
        return run_async(steps) if self._batch.asynchronous else run_sync(steps)

    def execute_steps(self) -> Steps[None]:
        """Return the steps of :meth:`execute`, for a caller that drives them itself (the ORM's bulk operations)."""
        if self.parent is not None:
            raise PipelineError("only the outermost pipeline context executes; exit the `with` block instead")
        return self._batch.execute_steps()

    def discard(self) -> None:
        """Discard everything queued in this context's batch."""
        self._batch.discard_after(({}, 0))

    def __len__(self) -> int:
        return sum(len(pipe.command_stack) for pipe in self._batch.pipes.values())

    def __repr__(self) -> str:
        kind = "root" if self.parent is None else "nested"
        mode = " asyncio" if self._batch.asynchronous else ""
        return f"<PipelineContext {kind}{mode} name={self.name!r} queued={len(self)}>"


def pipeline(pipe: PipelineContext | None = None, name: str | None = None, transaction: bool = False) -> PipelineContext:
    """Open a pipeline context (see :class:`PipelineContext`); use it in a ``with`` block."""
    return PipelineContext(pipe, name=name, transaction=transaction)


def apipeline(pipe: PipelineContext | None = None, name: str | None = None, transaction: bool = False) -> PipelineContext:
    """Open an asyncio pipeline context on the ``connect_async()`` connections; use it in an ``async with`` block.

    Everything else is :func:`pipeline`'s: DeferredResults filled when the
    root's block exits, nesting, callbacks, ``transaction``; contexts are
    per task.  With ``pipe``, the context joins ``pipe``'s root, sync or asyncio.
    """
    return PipelineContext(pipe, name=name, transaction=transaction, asynchronous=True)


def current_pipeline() -> PipelineContext | None:
    """Return the innermost pipeline context open in this thread or asyncio task, if any.

    An asyncio task inherits its parent's context variables, not its
    pipelines: a context its parent opened is not the task's.
    """
    stack = _open_contexts.get()
    if not stack:
        return None
    batch = stack[-1]._batch
    return stack[-1] if batch.owner() == batch.opened_by else None
