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
fills every :class:`DeferredResult` and runs the ``on_execute`` callbacks.
A nested context (``pipeline(pipe)``) passes its commands and callbacks up to
its root.  An exception inside a ``with`` block discards that block's
commands and sends nothing for them.

Commands are queued straight into redis-py pipelines, so redis-py's response
callbacks and ``decode_responses`` apply exactly as they do without redpocket.
The stack of open contexts lives in a :class:`contextvars.ContextVar`, so
threads and asyncio tasks never see each other's pending pipelines.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import redis
from redis.commands.core import CoreCommands

from .connections import DEFAULT, get_client
from .errors import PipelineError, ResultNotReady

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


class _Batch:
    """Everything a root context will send: redis-py pipelines per connection and the results to fill."""

    __slots__ = ("callbacks", "pipes", "results", "transaction")

    def __init__(self, transaction: bool) -> None:
        self.transaction = transaction
        self.pipes: dict[str, redis.client.Pipeline] = {}
        self.results: dict[str, list[DeferredResult[Any]]] = {}
        self.callbacks: list[Callable[[], Any]] = []

    def pipe_for(self, name: str) -> redis.client.Pipeline:
        pipe = self.pipes.get(name)
        if pipe is None:
            pipe = self.pipes[name] = get_client(name).pipeline(transaction=self.transaction)
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
        del self.callbacks[callbacks:]

    def execute(self) -> None:
        """Send each connection's batch (concurrently when there are several), then fill the results."""
        names = [name for name, pipe in self.pipes.items() if pipe.command_stack]
        try:
            if len(names) > 1:
                with ThreadPoolExecutor(max_workers=len(names)) as pool:
                    replies = dict(zip(names, pool.map(self._send, names), strict=True))
            else:
                replies = {name: self._send(name) for name in names}
        finally:
            for pipe in self.pipes.values():
                pipe.reset()
        for name, batch_replies in replies.items():
            for deferred, reply in zip(self.results[name], batch_replies, strict=True):
                if isinstance(reply, BaseException):
                    deferred.set_error(reply)
                else:
                    deferred.set(reply)
        failures: list[BaseException] = []
        for callback in self.callbacks:
            try:
                callback()
            except Exception as error:  # every callback runs; the first failure is raised after
                failures.append(error)
        if failures:
            raise failures[0]

    def _send(self, name: str) -> list[Any]:
        pipe = self.pipes[name]
        try:
            return pipe.execute(raise_on_error=False)
        except redis.RedisError as error:  # EXECABORT, WatchError, connection errors: every command fails
            return [error] * len(self.results[name])


class PipelineContext(CoreCommands):  # type: ignore[misc]
    """A pipeline context: every redis-py command method on it returns a :class:`DeferredResult`.

    ``pipe`` is an enclosing context to join (``None`` opens a root that
    executes when its block exits); ``name`` picks a named connection
    (default: the enclosing context's, else ``"default"``); ``transaction``
    wraps each connection's batch in MULTI/EXEC (roots only).
    """

    _event_dispatcher: Any = None

    def __init__(self, pipe: PipelineContext | None = None, name: str | None = None, transaction: bool = False) -> None:
        if pipe is not None and not isinstance(pipe, PipelineContext):
            raise PipelineError(
                f"pipe= takes a redpocket pipeline context, not {type(pipe).__name__}; "
                "open one with `with redpocket.pipeline() as pipe:`"
            )
        if pipe is not None and transaction and not pipe._batch.transaction:
            raise PipelineError("transaction=True can only be set on the outermost pipeline context")
        self.parent = pipe
        self.name: str = name or (pipe.name if pipe is not None else DEFAULT)
        self._batch: _Batch = pipe._batch if pipe is not None else _Batch(transaction)
        self._owner = threading.get_ident()
        self._marks: tuple[dict[str, int], int] | None = None
        self._token: contextvars.Token[tuple[PipelineContext, ...]] | None = None
        self._target = self._batch.pipe_for(self.name)
        self._results = self._batch.results[self.name]

    @property
    def is_root(self) -> bool:
        """Tell whether this context executes its batch itself."""
        return self.parent is None

    def __enter__(self) -> PipelineContext:
        self._marks = self._batch.marks()
        self._token = _open_contexts.set((*_open_contexts.get(), self))
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._token is not None:
            _open_contexts.reset(self._token)
            self._token = None
        if exc_type is not None:
            if self._marks is not None:
                self._batch.discard_after(self._marks)
            return
        if self.parent is None:
            self._batch.execute()

    def execute_command(self, *args: Any, **options: Any) -> DeferredResult[Any]:
        """Queue one command and return the DeferredResult its reply will fill."""
        if threading.get_ident() != self._owner:
            raise PipelineError("a pipeline context belongs to the thread that opened it; open one per thread")
        self._target.pipeline_execute_command(*args, **options)
        deferred: DeferredResult[Any] = DeferredResult()
        self._results.append(deferred)
        return deferred

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

    def run_script(self, script: Any, keys: list[Any], args: list[Any]) -> DeferredResult[Any]:
        """Queue a redis-py ``Script`` (EVALSHA, loaded first when the server lacks it)."""
        self._target.scripts.add(script)
        return self.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)

    def on_execute(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` after the root has executed and every result is filled."""
        self._batch.callbacks.append(callback)

    def execute(self) -> None:
        """Execute now, for a root used without ``with`` (nested contexts cannot)."""
        if self.parent is not None:
            raise PipelineError("only the outermost pipeline context executes; exit the `with` block instead")
        self._batch.execute()

    def discard(self) -> None:
        """Discard everything queued in this context's batch."""
        self._batch.discard_after(({}, 0))

    def __len__(self) -> int:
        return sum(len(pipe.command_stack) for pipe in self._batch.pipes.values())

    def __repr__(self) -> str:
        kind = "root" if self.parent is None else "nested"
        return f"<PipelineContext {kind} name={self.name!r} queued={len(self)}>"


def pipeline(pipe: PipelineContext | None = None, name: str | None = None, transaction: bool = False) -> PipelineContext:
    """Open a pipeline context (see :class:`PipelineContext`); use it in a ``with`` block."""
    return PipelineContext(pipe, name=name, transaction=transaction)


def current_pipeline() -> PipelineContext | None:
    """Return the innermost pipeline context open in this thread or asyncio task, if any."""
    stack = _open_contexts.get()
    return stack[-1] if stack else None
