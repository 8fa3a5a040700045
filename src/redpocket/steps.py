"""One implementation, two kinds of I/O: logic written as a generator of steps, run by a sync or an async driver.

Code that talks to Redis (executing a pipeline's batches, riding out a
cluster failover, loading scripts) is written once, as a generator that
*yields* each I/O step and receives its outcome at the ``yield``::

    def send_steps(pipe):
        try:
            replies = yield lambda: pipe.execute(raise_on_error=False)
        except redis.RedisError as error:
            replies = [error] * len(pipe)
        return replies

A step is one of

- a callable without arguments: the driver calls it; on a ``redis.asyncio``
  client it returns an awaitable, which the async driver awaits;
- :class:`Sleep`: wait that many seconds;
- :class:`Gather`: run several step generators concurrently (threads, or
  ``asyncio.gather``); the outcome is the list of their results.

:func:`run_sync` drives a generator with blocking calls, :func:`run_async`
with ``await``; an exception raised by a step is thrown into the generator
at its ``yield``.  Both go through one loop (:func:`_drive`): the sync
driver runs that coroutine without an event loop, which works because its
steps never suspend.  A generator must not ``yield`` in a ``finally``
block: a cancelled task abandons it there.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Coroutine, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

Steps = Generator[Any, Any, T]
"""A generator of I/O steps that returns a ``T``."""


class Sleep:
    """A step: wait ``seconds`` (``time.sleep`` or ``asyncio.sleep``)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Gather:
    """A step: run the step generators ``steps`` concurrently; the outcome lists their results in order."""

    __slots__ = ("steps",)

    def __init__(self, steps: Sequence[Steps[Any]]) -> None:
        self.steps = steps


def call(function: Callable[[], Any]) -> Steps[Any]:
    """Return the steps of one call: ``function()`` (awaited when it returns an awaitable, in async runs)."""
    return (yield function)  # type: ignore[no-any-return]


async def _drive(steps: Steps[T], perform: Callable[[Any], Any]) -> T:
    """Run ``steps`` to the end, performing each step with ``perform`` (awaiting what it returns, if awaitable)."""
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            value, error = perform(step), None
            if inspect.isawaitable(value):
                value = await value
        except Exception as caught:
            value, error = None, caught


def _perform_sync(step: Any) -> Any:
    if isinstance(step, Sleep):
        time.sleep(step.seconds)
        return None
    if isinstance(step, Gather):
        with ThreadPoolExecutor(max_workers=len(step.steps)) as pool:
            return list(pool.map(run_sync, step.steps))
    return step()


def _perform_async(step: Any) -> Any:
    if isinstance(step, Sleep):
        return asyncio.sleep(step.seconds)
    if isinstance(step, Gather):
        return asyncio.gather(*(run_async(steps) for steps in step.steps))
    return step()


def run_sync(steps: Steps[T]) -> T:
    """Run ``steps`` with blocking I/O; return what the generator returns."""
    driver = _drive(steps, _perform_sync)
    try:
        driver.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    driver.close()
    raise RuntimeError("a step of a synchronous run returned an awaitable: a redis.asyncio client needs run_async()")


def run_async(steps: Steps[T]) -> Coroutine[Any, Any, T]:
    """Return a coroutine that runs ``steps`` with ``await``."""
    return _drive(steps, _perform_async)
