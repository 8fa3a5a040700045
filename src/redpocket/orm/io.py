"""The ORM's I/O as steps: one implementation behind ``save()`` and ``await asave()``.

Every ORM operation that talks to Redis is written once, as a generator of
steps (:mod:`redpocket.steps`) taking ``aio``: which client it talks to
(the connection's sync client, or its ``redis.asyncio`` one from
``connect_async()``).  The sync method runs the generator with
:func:`redpocket.steps.run_sync`, its ``a``-form with ``await
run_async(...)``; the planning, validation and decoding between the steps
are the same code in both.  The helpers here are the ORM's I/O primitives:
one call, one raw batch, one Lua script, the model's client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import redis

from ..connections import get_async_client
from ..pipeline import CLUSTERS, ClusterBatch, ensure_scripts_steps, failover_steps
from ..steps import Steps, call, run_async, run_sync

if TYPE_CHECKING:
    from .model import Options

T = TypeVar("T")


class LuaScript:
    """One of the ORM's scripts: its text and SHA1, for EVALSHA on any client (sync or asyncio)."""

    __slots__ = ("script", "sha")

    def __init__(self, source: str) -> None:
        self.script = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


def run(aio: bool, steps: Steps[T]) -> Any:
    """Run ``steps``: now (sync), or return the coroutine that runs them (``aio``)."""
    return run_async(steps) if aio else run_sync(steps)


def client_steps(meta: Options, aio: bool) -> Steps[Any]:
    """Return the model's client: its connection's sync one, or (``aio``) its asyncio one.

    The first use of an asyncio client loads the sweep script on it and
    compares the stored schema with the class, as :meth:`Options.client`
    does for the sync one.
    """
    if not aio:
        return meta.client()
    client = get_async_client(meta.connection)
    if meta._async_schema_client is not client:
        from .loading import ensure_sweep_steps
        from .schema import synchronise_steps

        yield from ensure_sweep_steps(client)
        yield from synchronise_steps(meta, client, aio=True)
        meta._async_schema_client = client
    return client


def ride(client: Any, function: Callable[[], Any]) -> Steps[Any]:
    """Return the steps of one call ``function()`` on ``client``, retried through a cluster failover."""
    return (yield from failover_steps(client, lambda: call(function)))


def execute(batch: Any, raise_on_error: bool = True) -> Steps[list[Any]]:
    """Return the steps sending a raw batch (``pipeline.raw_pipeline()``): its replies in order."""
    if type(batch) is ClusterBatch:
        return (yield from batch.execute_steps(raise_on_error))
    return (yield lambda: batch.execute(raise_on_error=raise_on_error))  # type: ignore[no-any-return]


def script_steps(client: Any, script: LuaScript, keys: list[Any], args: list[Any]) -> Steps[Any]:
    """Return the steps running ``script`` (EVALSHA; loaded first on a cluster's masters or after a NOSCRIPT)."""
    if isinstance(client, CLUSTERS):
        yield from failover_steps(client, lambda: ensure_scripts_steps(client, [script]))

    def evalsha() -> Any:
        return client.evalsha(script.sha, len(keys), *keys, *args)

    try:
        return (yield from ride(client, evalsha))
    except redis.exceptions.NoScriptError:
        yield from ride(client, lambda: client.script_load(script.script))
        return (yield from ride(client, evalsha))


__all__ = ["LuaScript", "client_steps", "execute", "ride", "run", "script_steps"]
