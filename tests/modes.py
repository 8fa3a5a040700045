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


class Portal:
    """An event loop running in a thread of its own: sync code awaits coroutines in it (``call``).

    The ORM suite's ``async`` mode sends each ORM call of a sync test body
    through the method's ``a``-form, awaited here, so one set of test
    functions checks both APIs (see :func:`route_to_async_forms`).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="orm-async-portal", daemon=True)
        self.thread.start()

    def inside(self) -> bool:
        """Tell whether the caller runs in the portal's loop (its code must not wait on the loop)."""
        return threading.current_thread() is self.thread

    def call(self, coroutine: Any) -> Any:
        """Run ``coroutine`` in the loop and return its result (raise its exception, KeyboardInterrupt included)."""

        async def guarded() -> tuple[Any, BaseException | None]:
            try:
                return await coroutine, None
            except (KeyboardInterrupt, SystemExit) as error:  # would stop the loop itself
                return None, error

        result, error = asyncio.run_coroutine_threadsafe(guarded(), self.loop).result()
        if error is not None:
            raise error
        return result

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


# The ORM's sync methods that have an ``a``-form, with the position of their ``pipe`` argument (None: none).
ASYNC_FORMS: dict[str, dict[str, int | None]] = {
    "ActiveRecord": {"save": 0, "update": 0, "incr": 2, "delete": 0, "refresh": None, "expire": None,
                     "persist": None, "ttl": None},
    "QuerySet": {"count": None, "exists": None, "first": None, "get": None, "get_or_create": None, "delete": None,
                 "update": None},
    "Manager": {"get": None, "get_many": 1, "count": None, "first": None, "exists": None, "delete": None,
                "update": None, "get_or_create": None, "create": 0, "check": None, "migrate": None,
                "rebuild_indexes": None},
}


def route_to_async_forms(monkeypatch: Any, portal: Portal) -> None:
    """Make the ORM's sync methods call their ``a``-forms in ``portal`` (pipelined calls stay as they are).

    Iterating a query goes through ``afetch()``, reading a pointer through
    ``arelated()``; a call made inside the loop (the ORM calling itself) is
    left alone.
    """
    from redpocket.orm.model import ActiveRecord
    from redpocket.orm.query import Manager, QuerySet

    classes = {"ActiveRecord": ActiveRecord, "QuerySet": QuerySet, "Manager": Manager}

    def routed(original: Callable[..., Any], name: str, pipe_at: int | None) -> Callable[..., Any]:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            pipelined = kwargs.get("pipe") is not None or (pipe_at is not None and len(args) > pipe_at and args[pipe_at] is not None)
            if pipelined or portal.inside():
                return original(self, *args, **kwargs)
            kwargs.pop("pipe", None)
            positional = args[:pipe_at] if pipe_at is not None else args
            return portal.call(getattr(self, "a" + name)(*positional, **kwargs))

        return method

    for class_name, methods in ASYNC_FORMS.items():
        cls = classes[class_name]
        for name, pipe_at in methods.items():
            monkeypatch.setattr(cls, name, routed(getattr(cls, name), name, pipe_at))
    create = ActiveRecord.create.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(ActiveRecord, "create", classmethod(routed(create, "create", 0)))
    fetch = QuerySet._fetch
    monkeypatch.setattr(QuerySet, "_fetch", lambda self: fetch(self) if portal.inside() else portal.call(self.afetch()))
    pointer = ActiveRecord._pointer
    monkeypatch.setattr(ActiveRecord, "_pointer", lambda self, attribute: pointer(self, attribute) if portal.inside()
                        else portal.call(self.arelated(attribute.name)))
