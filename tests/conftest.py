"""Fixtures shared by every test: a real redis-server, a real Redis Cluster and clients for each backend.

``r`` is the fixture most tests use: a redis-py client, parametrized over
the embedded engine and a real ``redis-server``, so one test checks one
behaviour on both.  ``make_client(**kwargs)`` builds more clients of the
same backend (same engine or server), e.g. ``protocol=2`` or
``decode_responses=True``; ``pair`` gives one client of each backend for
differential tests.

The layers above the engine (``tests/orm``, ``tests/pipeline``) run on a
third backend, ``"cluster"``: their conftests override ``backend`` with
``LAYER_BACKENDS``, and ``make_client`` then returns a
``redis.cluster.RedisCluster`` on a session-wide cluster of 3 masters and 3
replicas (``redis_cluster``) whose masters are flushed before each test.  A
test that cannot run on a cluster says why with
``@pytest.mark.not_cluster("reason")`` and is skipped there.  The engine
and server suites stay on two backends: a cluster is not an engine feature.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
from tests.helpers import free_port

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine

BACKENDS = ["embedded", "redis"]
# The ORM, pipeline and keyspace suites also run on a real Redis Cluster.
LAYER_BACKENDS = [*BACKENDS, "cluster"]
# The same settings for both backends: the real server is started with them too.
SERVER_SETTINGS = {"enable-debug-command": "local"}


@dataclass
class RedisServer:
    """A redis-server process started for the test session."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    def client(self, **kwargs: Any) -> redis.Redis:
        """Return a new redis-py client of this server."""
        return redis.Redis(host=self.host, port=self.port, **kwargs)


def start_redis_server(directory: Path, *extra: str) -> RedisServer:
    """Start ``redis-server`` on a free loopback port in ``directory`` and wait until it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no", "--daemonize", "no",
         *[arg for name, value in SERVER_SETTINGS.items() for arg in (f"--{name}", value)], "--logfile", str(directory / "redis.log"), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_connect_timeout=0.2).ping()
            return RedisServer("127.0.0.1", port, process)
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Start one real redis-server for the session; skip (never in CI) when it cannot be had."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; CI must test against a real server")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def _free_cluster_port() -> int:
    """Return a free loopback port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


@dataclass
class RedisClusterProcesses:
    """A Redis Cluster of redis-server processes (3 masters, 3 replicas) on loopback ports."""

    host: str
    ports: list[int]
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def client(self, **kwargs: Any) -> redis.cluster.RedisCluster:
        """Return a new ``RedisCluster`` client that starts from every node of this cluster."""
        nodes = [redis.cluster.ClusterNode(self.host, port) for port in self.ports if self.processes[port].poll() is None]
        return redis.cluster.RedisCluster(startup_nodes=nodes, **kwargs)

    def node(self, port: int) -> redis.Redis:
        """Return a plain client of one node (for CLUSTER commands)."""
        return redis.Redis(host=self.host, port=port, socket_timeout=5)

    @property
    def url(self) -> str:
        """Return the ``redis+cluster://`` URL naming every node."""
        return "redis+cluster://" + ",".join(f"{self.host}:{port}" for port in self.ports)

    def masters(self) -> list[int]:
        """Return the ports of the live nodes that are masters now."""
        return [port for port in self.live() if self.node(port).execute_command("ROLE")[0] in (b"master", "master")]

    def live(self) -> list[int]:
        return [port for port in self.ports if self.processes[port].poll() is None]

    def replica_of(self, master_port: int) -> int:
        """Return the port of a live replica of the master on ``master_port``."""
        for port in self.live():
            role = self.node(port).execute_command("ROLE")
            if role[0] in (b"slave", "slave") and int(role[2]) == master_port:
                return port
        raise LookupError(f"no replica of {master_port}")

    def wait_ok(self, timeout: float = 20) -> None:
        """Wait until every live node reports ``cluster_state:ok`` and agrees on the slots."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                states = [self.node(port).execute_command("CLUSTER", "INFO") for port in self.live()]
                texts = [s.decode() if isinstance(s, bytes) else s for s in states]
                if all("cluster_state:ok" in t and "cluster_slots_ok:16384" in t for t in texts):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster on ports {self.ports} did not reach cluster_state:ok")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill every node (SIGKILL: nothing is persisted anyway) and reap it."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)


def start_redis_cluster(directory: Path, masters: int = 3, replicas: int = 1) -> RedisClusterProcesses:
    """Start a Redis Cluster from ``redis-server`` and ``redis-cli --cluster create`` in ``directory``."""
    binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if binary is None or cli is None:
        raise FileNotFoundError("redis-server / redis-cli")
    cluster = RedisClusterProcesses("127.0.0.1", [])
    try:
        for _ in range(masters * (1 + replicas)):
            port = _free_cluster_port()
            node_dir = directory / str(port)
            node_dir.mkdir()
            cluster.processes[port] = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", "2000", "--cluster-replica-validity-factor", "0",
                 "--save", "", "--appendonly", "no", "--daemonize", "no",
                 *[arg for name, value in SERVER_SETTINGS.items() for arg in (f"--{name}", value)],
                 "--logfile", str(node_dir / "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            cluster.ports.append(port)
        deadline = time.monotonic() + 10
        for port in cluster.ports:
            while True:
                try:
                    cluster.node(port).ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or cluster.processes[port].poll() is not None:
                        raise RuntimeError(f"cluster node on port {port} did not start") from None
                    time.sleep(0.02)
        created = subprocess.run(
            [cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in cluster.ports],
             "--cluster-replicas", str(replicas), "--cluster-yes"],
            capture_output=True, timeout=60,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout.decode()[-2000:]}{created.stderr.decode()}")
        cluster.wait_ok()
        # Replicas must have synced before a test relies on a failover.
        deadline = time.monotonic() + 20
        while any(cluster.node(p).info("replication").get("master_link_status") not in (None, "up") for p in cluster.ports):
            if time.monotonic() > deadline:
                raise RuntimeError("cluster replicas did not sync")
            time.sleep(0.05)
        return cluster
    except BaseException:
        cluster.stop()
        raise


def _need_cluster_binaries() -> None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server/redis-cli are not installed; CI must test against a real cluster")
        pytest.skip("redis-server/redis-cli are not installed (apt-get install redis-server redis-tools)")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcesses]:
    """Start one Redis Cluster (3 masters + 3 replicas) for the session; stop it at the end, also on failure."""
    _need_cluster_binaries()
    cluster = start_redis_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], RedisClusterProcesses]]:
    """Start private clusters for tests that break them (failover, SIGKILL); stop them after the test."""
    _need_cluster_binaries()
    started: list[RedisClusterProcesses] = []

    def start() -> RedisClusterProcesses:
        cluster = start_redis_cluster(tmp_path_factory.mktemp("cluster"))
        started.append(cluster)
        return cluster

    try:
        yield start
    finally:
        for cluster in started:
            cluster.stop()


def every_key(client: Any, pattern: str = "*") -> list[Any]:
    """Return the keys matching ``pattern`` on a server, or on every master of a cluster (``KEYS`` reads one node)."""
    if isinstance(client, redis.cluster.RedisCluster):
        return list(client.keys(pattern, target_nodes=redis.cluster.RedisCluster.PRIMARIES))
    return list(client.keys(pattern))


def flush_cluster(client: redis.cluster.RedisCluster) -> None:
    """Empty every master of a cluster."""
    client.flushall(target_nodes=redis.cluster.RedisCluster.PRIMARIES)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "not_cluster(reason): skip this test on the Redis Cluster backend, for the reason given")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("not_cluster")
        callspec = getattr(item, "callspec", None)
        if marker is None or callspec is None or callspec.params.get("backend") != "cluster":
            continue
        reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.not_cluster needs a reason")
        item.add_marker(pytest.mark.skip(reason=f"not on a cluster: {reason}"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: ``"embedded"`` or ``"redis"`` (``"cluster"`` too where a conftest says so)."""
    return str(request.param)


@pytest.fixture
def make_client(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., redis.Redis]]:
    """Build clients of the current backend; all clients of one test share one engine or server."""
    clients: list[redis.Redis] = []
    if backend == "embedded":
        engine = Engine(config=SERVER_SETTINGS)

        def make(**kwargs: Any) -> redis.Redis:
            client = EmbeddedRedis(engine, **kwargs)
            clients.append(client)
            return client
    elif backend == "cluster":
        cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
        admin = cluster.client()
        flush_cluster(admin)
        admin.close()

        def make(**kwargs: Any) -> redis.Redis:
            if "db" in kwargs:
                raise pytest.UsageError("a Redis Cluster has database 0 only: mark the test not_cluster")
            client = cluster.client(**kwargs)
            clients.append(client)
            return client  # type: ignore[return-value]
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        admin = server.client()
        admin.flushall()
        admin.script_flush()
        admin.function_flush()
        admin.config_resetstat()

        def make(**kwargs: Any) -> redis.Redis:
            client = server.client(**kwargs)
            clients.append(client)
            return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def r(make_client: Callable[..., redis.Redis]) -> redis.Redis:
    """A redis-py client (bytes replies, redis-py's default protocol) on the current backend."""
    return make_client()


@pytest.fixture
def engine() -> Engine:
    """A fresh engine, for tests of engine internals."""
    return Engine(config=SERVER_SETTINGS)


@pytest.fixture
def pair(redis_server: RedisServer) -> Iterator[Callable[..., tuple[redis.Redis, redis.Redis]]]:
    """Return a factory of (embedded, real) client pairs for differential tests."""
    engine = Engine(config=SERVER_SETTINGS)
    admin = redis_server.client()
    admin.flushall()
    admin.script_flush()
    admin.function_flush()
    clients: list[redis.Redis] = []

    def make(**kwargs: Any) -> tuple[redis.Redis, redis.Redis]:
        embedded = EmbeddedRedis(engine, **kwargs)
        real = redis_server.client(**kwargs)
        clients.extend((embedded, real))
        return embedded, real

    yield make
    for client in clients:
        client.close()


# -- asyncio ---------------------------------------------------------------------------------


@pytest.fixture
def make_async_client(backend: str, make_client: Callable[..., redis.Redis], request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Build ``redis.asyncio`` clients of the current backend, on the engine or server ``make_client``'s clients use.

    The clients connect lazily, in the event loop of the test that uses
    them; an ``async def`` test closes the ones it registered with
    ``redpocket.connect_async`` (see :func:`pytest_pyfunc_call`).
    """
    if backend == "embedded":
        from redpocket.client_async import AsyncEmbeddedRedis

        engine = make_client().engine  # type: ignore[attr-defined]
        return lambda **kwargs: AsyncEmbeddedRedis(engine, **kwargs)
    if backend == "cluster":
        cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")

        def make_cluster(**kwargs: Any) -> Any:
            if "db" in kwargs:
                raise pytest.UsageError("a Redis Cluster has database 0 only: mark the test not_cluster")
            nodes = [redis.asyncio.cluster.ClusterNode(cluster.host, port) for port in cluster.live()]
            return redis.asyncio.cluster.RedisCluster(startup_nodes=nodes, **kwargs)

        return make_cluster
    server: RedisServer = request.getfixturevalue("redis_server")
    return lambda **kwargs: redis.asyncio.Redis(host=server.host, port=server.port, **kwargs)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test in an event loop of its own; close its asyncio connections in that loop."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    import redpocket

    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def main() -> None:
        try:
            await pyfuncitem.obj(**arguments)
        finally:
            await redpocket.disconnect_async()

    asyncio.run(main())
    return True


MODES = ["sync", "async"]
"""The APIs the pipeline and keyspace suites (and the ORM's, in time) run through."""


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, make_client: Callable[..., redis.Redis], make_async_client: Callable[..., Any]) -> Any:
    """The API under test, ``sync`` or ``async`` (a :class:`tests.modes.Mode`), for one ``async def`` test body."""
    from tests.modes import Mode

    return Mode(str(request.param), make_client, make_async_client)
