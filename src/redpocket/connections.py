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
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any
from urllib.parse import parse_qs, unquote

import redis
from redis.cluster import ClusterNode, RedisCluster

from .client import EmbeddedRedis
from .errors import ConfigurationError

DEFAULT = "default"

Client = redis.Redis | RedisCluster
"""What a connection holds: a redis-py client of one server (or the embedded engine), or of a cluster."""

_connections: dict[str, Client] = {}
_lock = threading.Lock()
logger = logging.getLogger("redpocket")


def _cluster_from_url(url: str, **options: Any) -> RedisCluster:
    """Build a ``RedisCluster`` from ``redis+cluster://host:port[,host:port...][?option=value]``."""
    scheme, _, rest = url.partition("://")
    location, _, query = rest.partition("?")
    location = location.rstrip("/")
    credentials, _, hosts = location.rpartition("@")
    nodes: list[ClusterNode] = []
    for part in hosts.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigurationError(f"cluster URL {url!r}: give nodes as host:port[,host:port...], not {part!r}")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
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
    return RedisCluster(startup_nodes=nodes, **options)


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
    raise ConfigurationError(
        f"unsupported connection URL {url!r}: use memory://, file://, redis://, rediss://, unix:// or redis+cluster://"
    )


def connect(target: str | Client | None = None, *, name: str = DEFAULT, **options: Any) -> Client:
    """Make ``target`` (a URL or a redis-py client) the connection called ``name``; return its client.

    With no target, the default connection is the embedded engine in memory
    (or ``REDPOCKET_URL`` when set).  ``options`` go to the client, e.g.
    ``decode_responses=True``.  A ``redis.cluster.RedisCluster`` (or a
    ``redis+cluster://`` URL) makes a cluster connection.
    """
    if isinstance(target, redis.Redis | RedisCluster):
        if options:
            raise ConfigurationError("options apply to URLs only; configure the redis-py client you pass instead")
        client: Client = target
    elif target is None or isinstance(target, str):
        client = client_from_url(target, **options)
    else:
        raise ConfigurationError(
            f"connect() takes a URL, a redis.Redis or a redis.cluster.RedisCluster client, not {type(target).__name__}"
        )
    with _lock:
        _connections[name] = client
    return client


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
