"""One test body for the sync and the asyncio API: the ``mode`` fixture's helper.

A test written once as ``async def`` runs in both modes::

    async def test_transaction(mode, default):
        async with mode.pipeline(transaction=True) as pipe:
            a = pipe.incr("a")
        assert a.result == 1
        assert (await mode.call(Visits("x").incr)).result == 1

In ``sync`` mode, ``mode.pipeline()`` is ``redpocket.pipeline()`` (entered
with its own ``with``, so the sync driver does the I/O) and ``mode.call``
calls the method; in ``async`` mode they are ``redpocket.apipeline()`` and
the method's ``a``-form, awaited.  Connections made with
:meth:`Mode.connect` are ``connect()`` or ``connect_async()`` ones.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import redpocket


class _SyncRoot:
    """``async with`` around a sync pipeline root: its own ``with`` sends the batch, blocking."""

    def __init__(self, context: redpocket.PipelineContext) -> None:
        self.context = context

    async def __aenter__(self) -> redpocket.PipelineContext:
        return self.context.__enter__()

    async def __aexit__(self, *exc_info: Any) -> None:
        self.context.__exit__(*exc_info)


class Mode:
    """The API a test goes through: ``"sync"`` or ``"async"``."""

    def __init__(self, name: str, make_client: Callable[..., Any], make_async_client: Callable[..., Any]) -> None:
        self.name = name
        self.asynchronous = name == "async"
        self.make_client = make_client
        self.make_async_client = make_async_client

    def __repr__(self) -> str:
        return f"<Mode {self.name}>"

    def connect(self, name: str = "default", **client_options: Any) -> Any:
        """Make a client of this mode (and the test's backend) the connection ``name``; return it."""
        if self.asynchronous:
            return redpocket.connect_async(self.make_async_client(**client_options), name=name)
        return redpocket.connect(self.make_client(**client_options), name=name)

    def pipeline(self, pipe: Any = None, name: str | None = None, transaction: bool = False) -> Any:
        """Open a root (or nested) pipeline context of this mode, for ``async with``."""
        if self.asynchronous:
            return redpocket.apipeline(pipe, name=name, transaction=transaction)
        return _SyncRoot(redpocket.pipeline(pipe, name=name, transaction=transaction))

    async def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a keyspace method (``Visits("x").incr``): itself, or its awaited ``a``-form."""
        if self.asynchronous:
            return await getattr(method.__self__, "a" + method.__name__)(*args, **kwargs)  # type: ignore[attr-defined]
        return method(*args, **kwargs)

    async def concurrently(self, *workers: Callable[[], Awaitable[Any]]) -> list[Any]:
        """Run ``workers`` at once: each in a thread of its own (sync), or each as a task (async)."""
        if self.asynchronous:
            return list(await asyncio.gather(*(worker() for worker in workers)))
        results: list[Any] = [None] * len(workers)
        errors: list[BaseException] = []

        def run(index: int) -> None:
            try:
                results[index] = asyncio.run(workers[index]())  # type: ignore[arg-type]
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    async def elsewhere(self, function: Callable[[], Any]) -> None:
        """Call ``function`` from another owner than the test's: another thread (sync) or another task (async)."""
        if self.asynchronous:
            async def in_task() -> None:
                function()

            await asyncio.create_task(in_task())
            return
        thread = threading.Thread(target=function)
        thread.start()
        thread.join()
