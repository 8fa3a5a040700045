"""Connections: ``connect(url)``, named connections, and Repocket's ``configure``.

======================================  ======================================
URL                                     client
======================================  ======================================
``memory://`` (or no URL)               embedded engine, in memory
``memory://name``                       a named in-memory engine (one per name)
``file:///path/to/dir``                 embedded engine persisted in that directory
``file:relative/dir``, ``file:./dir``   the same, relative to the working directory
``redis://host:port/db``, ``rediss://``  a Redis or Valkey server
``unix:///path/to/socket``              a Redis server on a Unix socket
``redis+cluster://host:port[,host:port]``  a Redis (or Valkey) Cluster
``rediss+cluster://...``                a Redis Cluster over TLS
======================================  ======================================

``REDPOCKET_URL`` in the environment sets the default URL.  Without it, and
without ``connect()``, the default connection is an in-memory engine whose
data is lost when the process exits: its creation (on first use) logs a
WARNING on the ``redpocket`` logger saying so.  ``file://host/dir`` (a host part) is
refused: write ``file:///abs/dir`` or ``file:relative/dir``.  Every client is
a ``redis.Redis``, except on a cluster, where it is redis-py's
``redis.cluster.RedisCluster`` (the same command API; ``connect()`` also
takes one you built).  The ORM, pipelines and keyspaces run unchanged on
any of them: every key they name carries a hash tag, so the commands of one
save or one keyspace member stay in one cluster slot.

:func:`connect_async` takes the same URLs and returns their ``redis.asyncio``
clients (the embedded engine through :mod:`redpocket.client_async`), kept
in a registry of their own (:func:`get_async_client`) for ``apipeline()``.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any
from urllib.parse import parse_qs, unquote

import redis
import redis.asyncio
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

from .client import EmbeddedRedis, engine_for_url
from .client_async import AsyncEmbeddedRedis
from .errors import ConfigurationError

DEFAULT = "default"

Client = redis.Redis | RedisCluster
"""What a connection holds: a redis-py client of one server (or the embedded engine), or of a cluster."""

_connections: dict[str, Client] = {}
_lock = threading.Lock()
logger = logging.getLogger("redpocket")


def _cluster_from_url(url: str, cluster_class: Any = RedisCluster, node_class: Any = ClusterNode, **options: Any) -> Any:
    """Build a ``RedisCluster`` from ``redis+cluster://host:port[,host:port...][?option=value]``.

    ``cluster_class`` and ``node_class`` are redis-py's asyncio ones for :func:`connect_async`.
    """
    scheme, _, rest = url.partition("://")
    location, _, query = rest.partition("?")
    location = location.rstrip("/")
    credentials, _, hosts = location.rpartition("@")
    nodes: list[Any] = []
    for part in hosts.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigurationError(f"cluster URL {url!r}: give nodes as host:port[,host:port...], not {part!r}")
        nodes.append(node_class(host.strip("[]"), int(port)))
    if credentials:
        username, _, password = credentials.partition(":")
        if password:
            options.setdefault("username", unquote(username) or None)
            options.setdefault("password", unquote(password))
        else:
            options.setdefault("password", unquote(username))
    for key, values in parse_qs(query).items():
        options.setdefault(key, _url_option(values[-1]))
    if scheme.lower().startswith("rediss"):
        options.setdefault("ssl", True)
    if "db" in options and int(options.pop("db")) != 0:
        raise ConfigurationError(f"cluster URL {url!r}: a Redis Cluster has database 0 only")
    return cluster_class(startup_nodes=nodes, **options)


def _url_option(value: str) -> Any:
    if value.lower() in ("true", "yes"):
        return True
    if value.lower() in ("false", "no"):
        return False
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def client_from_url(url: str | None = None, **options: Any) -> Client:
    """Build a redis-py client for ``url`` (see the module docstring for the schemes)."""
    url = url or os.environ.get("REDPOCKET_URL") or "memory://"
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("memory", "file"):
        return EmbeddedRedis.from_url(url, **options)
    if scheme in ("redis", "rediss", "unix"):
        return redis.Redis.from_url(url, **options)
    if scheme in ("redis+cluster", "rediss+cluster"):
        return _cluster_from_url(url, **options)
    raise _unsupported_url(url)


def _unsupported_url(url: str) -> ConfigurationError:
    return ConfigurationError(
        f"unsupported connection URL {url!r}: use memory://, file://, redis://, rediss://, unix:// or redis+cluster://"
    )


def connect(target: str | Client | None = None, *, name: str = DEFAULT, **options: Any) -> Client:
    """Make ``target`` (a URL or a redis-py client) the connection called ``name``; return its client.

    With no target, the default connection is the embedded engine in memory
    (or ``REDPOCKET_URL`` when set).  ``options`` go to the client, e.g.
    ``decode_responses=True``.  A ``redis.cluster.RedisCluster`` (or a
    ``redis+cluster://`` URL) makes a cluster connection.
    """
    client: Client = _client_for(target, options, (redis.Redis, RedisCluster), client_from_url,
                                 "connect() takes a URL, a redis.Redis or a redis.cluster.RedisCluster client")
    with _lock:
        _connections[name] = client
    return client


def _client_for(target: Any, options: dict[str, Any], kinds: tuple[type, ...], from_url: Any, accepted: str) -> Any:
    """Return the client ``target`` names: itself when it is one of ``kinds``, else the one ``from_url`` builds."""
    if isinstance(target, kinds):
        if options:
            raise ConfigurationError("options apply to URLs only; configure the redis-py client you pass instead")
        return target
    if target is None or isinstance(target, str):
        return from_url(target, **options)
    raise ConfigurationError(f"{accepted}, not {type(target).__name__}")


def get_client(name: str = DEFAULT) -> Client:
    """Return the client of connection ``name``; the default one is created on first use."""
    with _lock:
        client = _connections.get(name)
    if client is not None:
        return client
    if name != DEFAULT:
        raise ConfigurationError(f"no connection named {name!r}: call redpocket.connect(..., name={name!r}) first")
    if not os.environ.get("REDPOCKET_URL"):  # once per implicit engine: it stays the default connection
        logger.warning(
            "redpocket: no connect() call and no REDPOCKET_URL: using an in-memory engine whose data is lost when "
            "the process exits; persist it with redpocket.connect(\"file:///path/to/dir\") or connect to a Redis server"
        )
    return connect()


def disconnect(name: str | None = None) -> None:
    """Forget connection ``name`` (all connections when ``None``) and close its client."""
    with _lock:
        names = list(_connections) if name is None else [name]
        clients = [_connections.pop(n) for n in names if n in _connections]
    for client in clients:
        client.close()


class configure:
    """Repocket's configuration API: ``configure.connection_pool(...)`` and ``configure.get_connection()``."""

    @staticmethod
    def connection_pool(hostname: str = "localhost", port: int = 6379, db: int = 0, **options: Any) -> redis.Redis:
        """Connect the default connection to a Redis server."""
        client = redis.Redis(host=hostname, port=port, db=db, **options)
        connect(client)
        return client

    @staticmethod
    def get_connection(name: str = DEFAULT) -> Client:
        """Return the client of the default (or named) connection."""
        return get_client(name)


# -- asyncio -----------------------------------------------------------------------------

AsyncClient = redis.asyncio.Redis | AsyncRedisCluster
"""What an asyncio connection holds: a ``redis.asyncio`` client of one server (or the embedded engine), or of a cluster."""

_async_connections: dict[str, AsyncClient] = {}


def async_client_from_url(url: str | None = None, **options: Any) -> AsyncClient:
    """Build a ``redis.asyncio`` client for ``url`` (the schemes of :func:`client_from_url`).

    ``memory://`` and ``file://`` URLs give an :class:`~redpocket.client_async.AsyncEmbeddedRedis`
    on the very engine (and database) a sync client of the same URL uses.
    """
    url = url or os.environ.get("REDPOCKET_URL") or "memory://"
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("memory", "file"):
        engine, url_options = engine_for_url(url, options.pop("structures", ()), options.pop("engine", None))
        return AsyncEmbeddedRedis(engine, **{**url_options, **options})  # (the engine a sync client of url uses)
    if scheme in ("redis", "rediss", "unix"):
        return redis.asyncio.Redis.from_url(url, **options)
    if scheme in ("redis+cluster", "rediss+cluster"):
        return _cluster_from_url(url, AsyncRedisCluster, AsyncClusterNode, **options)  # type: ignore[no-any-return]
    raise _unsupported_url(url)


def connect_async(target: str | AsyncClient | None = None, *, name: str = DEFAULT, **options: Any) -> AsyncClient:
    """Make ``target`` (a URL or a ``redis.asyncio`` client) the asyncio connection called ``name``; return its client.

    The asyncio counterpart of :func:`connect`, for ``redpocket.apipeline()``
    and the async keyspace methods: the same URLs, the same names, its own
    registry (a sync and an async connection of one name may coexist, and
    on ``memory://`` / ``file://`` they share the engine).
    """
    client: AsyncClient = _client_for(
        target, options, (redis.asyncio.Redis, AsyncRedisCluster), async_client_from_url,
        "connect_async() takes a URL, a redis.asyncio.Redis or a redis.asyncio.cluster.RedisCluster client")
    with _lock:
        _async_connections[name] = client
    return client


def get_async_client(name: str = DEFAULT) -> AsyncClient:
    """Return the asyncio client of connection ``name``.

    Without one, the default connection gets an asyncio client on the same
    engine as the sync default when that is embedded (a ``memory://``
    engine otherwise).
    """
    with _lock:
        client = _async_connections.get(name)
        sync_client = _connections.get(name)
    if client is not None:
        return client
    if isinstance(sync_client, EmbeddedRedis):
        db = sync_client.connection_pool.connection_kwargs.get("db", 0)
        return connect_async(AsyncEmbeddedRedis(sync_client.engine, db=db), name=name)
    if name != DEFAULT or sync_client is not None:
        raise ConfigurationError(f"no asyncio connection named {name!r}: call redpocket.connect_async(..., name={name!r}) first")
    return connect_async()


async def disconnect_async(name: str | None = None) -> None:
    """Forget asyncio connection ``name`` (all of them when ``None``) and close its client."""
    with _lock:
        names = list(_async_connections) if name is None else [name]
        clients = [_async_connections.pop(n) for n in names if n in _async_connections]
    for client in clients:
        await client.aclose()
