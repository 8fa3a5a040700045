"""The asyncio embedded client: redis-py's asyncio usage patterns give redis-server's replies, tasks never block the loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
import redis.asyncio

import redpocket
from redpocket.client import default_engine
from redpocket.client_async import AsyncEmbeddedConnection, AsyncEmbeddedRedis, blocked_tasks
from redpocket.engine import Engine

Make = Callable[..., redis.asyncio.Redis]


# -- redis-py's asyncio usage patterns, run on both and compared ---------------------------------

async def basics(make: Make) -> Any:
    r = make()
    return [
        await r.set("k", "v"), await r.get("k"), await r.incr("n"), await r.incrby("n", 5), await r.expire("k", 100),
        await r.ttl("k"), await r.hset("h", mapping={"a": 1, "b": 2}), await r.hgetall("h"), await r.rpush("l", 1, 2, 3),
        await r.lrange("l", 0, -1), await r.sadd("s", "x", "y"), sorted(await r.smembers("s")),
        await r.zadd("z", {"a": 1, "b": 2}), await r.zrange("z", 0, -1, withscores=True), await r.mget("k", "n", "missing"),
        await r.exists("k", "missing"), await r.delete("k"), await r.type("h"), await r.ping(), await r.dbsize(),
    ]


async def scan_iterators(make: Make) -> Any:
    r = make()
    for i in range(30):
        await r.set(f"user:{i}", i)
        await r.hset("big", f"f{i}", i)
    await r.set("other", 1)
    keys = sorted([key async for key in r.scan_iter(match="user:*", count=7)])
    fields = sorted([pair async for pair in r.hscan_iter("big", count=5)])
    return keys, fields


async def pipeline_chaining(make: Make) -> Any:
    r = make()
    async with r.pipeline(transaction=True) as pipe:
        ok1, ok2 = await pipe.set("key1", "value1").set("key2", "value2").execute()
    async with r.pipeline(transaction=False) as pipe:
        pipe.get("key1")
        pipe.mget("key1", "key2")
        pipe.incr("counter")
        replies = await pipe.execute()
    return ok1, ok2, replies


async def pipeline_errors(make: Make) -> Any:
    r = make()
    await r.set("s", "text")
    pipe = r.pipeline(transaction=False)
    pipe.incr("s").get("s").lpush("s", 1).set("after", 1)
    replies = await pipe.execute(raise_on_error=False)
    shown = [f"{type(x).__name__}: {x}" if isinstance(x, Exception) else x for x in replies]
    try:
        async with r.pipeline() as tx:
            await tx.incr("s").set("t", 1).execute()
    except redis.ResponseError as error:
        raised = str(error)
    return shown, raised, await r.get("t")


async def watch_retry_loop(make: Make) -> Any:
    r, other = make(), make()
    await r.set("counter", 1)
    attempts = 0
    async with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch("counter")
                value = int(await pipe.get("counter"))
                attempts += 1
                if attempts == 1:
                    await other.set("counter", 10)  # another client wins the race once
                pipe.multi()
                pipe.set("counter", value + 1)
                result = await pipe.execute()
                break
            except redis.WatchError:
                continue
    return attempts, result, await r.get("counter")


async def transaction_helper(make: Make) -> Any:
    r = make()
    await r.set("balance", 10)

    async def withdraw(pipe: Any) -> None:
        balance = int(await pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", balance - 3)

    result = await r.transaction(withdraw, "balance")
    return result, await r.get("balance")


async def scripts(make: Make) -> Any:
    r = make()
    script = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    first, second = await script(keys=["c"], args=[5]), await script(keys=["c"], args=[2])
    array = await r.eval("return {KEYS[1], ARGV[1], 3, redis.pcall('INCR', KEYS[1])}", 1, "k", "v")
    try:
        await r.evalsha("0" * 40, 0)
    except redis.exceptions.NoScriptError as error:
        missing = str(error)
    await r.script_flush()
    reloaded = await script(keys=["c"], args=[1])  # redis-py loads it again after NOSCRIPT
    return first, second, [str(x) if isinstance(x, Exception) else x for x in array], missing, reloaded


async def decoded_responses(make: Make) -> Any:
    r = make(decode_responses=True)
    await r.hset("h", mapping={"name": "Ünïcode", "n": 1})
    return await r.hgetall("h"), await r.get("missing"), await r.lrange("nope", 0, -1), await r.zadd("z", {"é": 1})


async def resp3_replies(make: Make) -> Any:
    r = make(protocol=3)
    await r.hset("h", "a", 1)
    await r.zadd("z", {"a": 1.5})
    await r.sadd("s", "m")
    return await r.hgetall("h"), await r.zrange("z", 0, -1, withscores=True), await r.zscore("z", "a"), await r.smembers("s")


async def pubsub_get_message(make: Make) -> Any:
    r, publisher = make(), make()
    async with r.pubsub() as p:
        await p.subscribe("news")
        await p.psubscribe("n*")
        got = [await p.get_message(timeout=1) for _ in range(2)]
        receivers = await publisher.publish("news", "hello")
        got += [await p.get_message(timeout=1) for _ in range(2)]
        got.append(await p.get_message(timeout=0.05))  # nothing more
        await p.unsubscribe("news")
        got.append(await p.get_message(timeout=1))
    return receivers, got


async def pubsub_listen(make: Make) -> Any:
    r, publisher = make(), make()
    p = r.pubsub(ignore_subscribe_messages=True)
    await p.subscribe("ch")

    async def publish() -> None:
        for i in range(3):
            await publisher.publish("ch", f"m{i}")
        await publisher.publish("ch", "stop")

    task = asyncio.create_task(publish())
    received = []
    async for message in p.listen():
        if message["data"] == b"stop":
            break
        received.append(message["data"])
    await task
    await p.aclose()
    return received


async def pubsub_handlers(make: Make) -> Any:
    r, publisher = make(), make()
    seen: list[Any] = []
    p = r.pubsub()
    await p.subscribe(**{"ch": lambda message: seen.append(message["data"])})
    confirmation = await p.get_message(timeout=1)
    await publisher.publish("ch", "x")
    handled = await p.get_message(timeout=1)  # the handler ran instead
    await p.aclose()
    return confirmation, handled, seen


async def blocking_pops(make: Make) -> Any:
    r, pusher = make(), make()
    empty = await r.blpop(["q"], timeout=0.05)

    async def push_later() -> None:
        await asyncio.sleep(0.05)
        await pusher.rpush("q", "a", "b")

    task = asyncio.create_task(push_later())
    got = await r.blpop(["q"], timeout=2)
    await task
    await pusher.zadd("z", {"m": 1})
    popped = await r.bzpopmin(["z"], timeout=1)
    moved = await r.blmove("q", "dst", timeout=1, src="LEFT", dest="RIGHT")
    acknowledged = (await r.wait(0, 0), await r.wait(1, 50))  # no replicas: 0, the second after 50 ms
    return empty, got, popped, moved, await r.lrange("dst", 0, -1), await r.brpop(["nothing"], timeout=0.01), acknowledged


async def errors(make: Make) -> Any:
    r = make()
    await r.set("s", "x")
    seen = []
    for call in (lambda: r.incr("s"), lambda: r.lpush("s", 1), lambda: r.execute_command("NOSUCH", "a")):
        try:
            await call()
        except redis.ResponseError as error:
            seen.append((type(error).__name__, str(error)))
    return seen


async def client_as_context_manager(make: Make) -> Any:
    async with make() as r:
        await r.set("k", 1)
        return await r.get("k")


PATTERNS: list[Callable[[Make], Awaitable[Any]]] = [
    basics, scan_iterators, pipeline_chaining, pipeline_errors, watch_retry_loop, transaction_helper, scripts,
    decoded_responses, resp3_replies, pubsub_get_message, pubsub_listen, pubsub_handlers, blocking_pops, errors,
    client_as_context_manager,
]


@pytest.fixture
def async_pair(pair) -> tuple[Make, Make]:
    """Return factories of asyncio clients: the embedded engine's and redis-server's (both emptied)."""
    embedded, real = pair()
    kwargs = real.connection_pool.connection_kwargs
    return (
        lambda **options: AsyncEmbeddedRedis(embedded.engine, **options),
        lambda **options: redis.asyncio.Redis(host=kwargs["host"], port=kwargs["port"], **options),
    )


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda pattern: pattern.__name__)
async def test_redis_py_asyncio_patterns_reply_as_redis_server(pattern: Callable[[Make], Awaitable[Any]], async_pair) -> None:
    replies = []
    for make in async_pair:
        clients: list[redis.asyncio.Redis] = []

        def factory(make: Make = make, clients: list[redis.asyncio.Redis] = clients, **options: Any) -> redis.asyncio.Redis:
            client = make(**options)
            clients.append(client)
            return client

        try:
            replies.append(await asyncio.wait_for(pattern(factory), 20))
        finally:
            for client in clients:
                await client.aclose()
    assert replies[0] == replies[1]


# -- concurrency, on the embedded engine and redis-server -----------------------------------------

async def test_100_tasks_x_100_incr_give_exact_totals(make_async_client) -> None:
    client = make_async_client()
    try:
        async def worker(n: int) -> None:
            for _ in range(100):
                await client.incr("total")
                await client.hincrby("per-worker", str(n), 1)

        await asyncio.gather(*(worker(n) for n in range(100)))
        assert await client.get("total") == b"10000"
        assert set((await client.hgetall("per-worker")).values()) == {b"100"}
    finally:
        await client.aclose()


async def wait_blocked(client: Any, count: int) -> None:
    """Wait until the server or engine counts ``count`` blocked clients."""
    deadline = time.monotonic() + 10
    while (await client.info("clients"))["blocked_clients"] != count:
        assert time.monotonic() < deadline, "the tasks did not block"
        await asyncio.sleep(0.01)


async def test_blocking_commands_in_50_tasks_are_woken_by_another_threads_writes(make_async_client, make_client) -> None:
    client, writer = make_async_client(), make_client()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    async def wait(i: int) -> Any:
        kind, key = i % 3, i % 5
        if kind == 0:
            return (await client.blpop([f"list:{key}"], timeout=20))[1]
        if kind == 1:
            return (await client.bzpopmin([f"zset:{key}"], timeout=20))[1]
        return await client.blmove(f"src:{key}", f"dst:{i}", timeout=20, src="LEFT", dest="RIGHT")

    def write_all() -> None:
        for i in range(50):
            kind, key = i % 3, i % 5
            if kind == 0:
                writer.rpush(f"list:{key}", f"v{i}")
            elif kind == 1:
                writer.zadd(f"zset:{key}", {f"v{i}": i})
            else:
                writer.rpush(f"src:{key}", f"v{i}")

    ticking = asyncio.create_task(ticker())
    try:
        waiting = [asyncio.create_task(wait(i)) for i in range(50)]
        await wait_blocked(client, 50)
        ticks_before = ticks
        await asyncio.sleep(0.05)
        assert ticks > ticks_before  # the loop runs on while 50 tasks wait
        thread = threading.Thread(target=write_all)
        thread.start()
        values = await asyncio.wait_for(asyncio.gather(*waiting), 20)
        thread.join()
        assert sorted(values) == sorted(f"v{i}".encode() for i in range(50))
        await wait_blocked(client, 0)
    finally:
        ticking.cancel()
        await client.aclose()


# -- embedded-only behaviour ------------------------------------------------------------------------

async def test_client_unblock_wakes_a_task_and_cancelling_one_leaves_nothing_behind() -> None:
    async with AsyncEmbeddedRedis(Engine()) as client:
        waiting = asyncio.create_task(client.blpop(["q"], timeout=0))
        await wait_blocked(client, 1)
        blocked_id = next(c["id"] for c in await client.client_list() if c["cmd"] != "client|list")  # (the only other client)
        assert await client.client_unblock(blocked_id) == 1
        assert await asyncio.wait_for(waiting, 5) is None

        waiting = asyncio.create_task(client.brpop(["q"], timeout=0))
        await wait_blocked(client, 1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert client.engine.blocked_clients == 0
        assert not blocked_tasks(client.engine).waiting and not blocked_tasks(client.engine).sessions
        await client.rpush("q", "kept")  # nobody is waiting any more: the element stays
        assert await client.lrange("q", 0, -1) == [b"kept"]


async def test_a_write_held_by_client_pause_suspends_only_its_task() -> None:
    async with AsyncEmbeddedRedis(Engine()) as client:
        await client.client_pause(200, all=False)
        started = time.monotonic()
        write = asyncio.create_task(client.set("k", "v"))
        assert await client.get("k") is None  # reads go on meanwhile
        await write
        assert time.monotonic() - started >= 0.15
        assert await client.get("k") == b"v"


def incr_in_a_thread(engine: Engine, times: int) -> threading.Thread:
    """Start a thread that increments ``shared`` ``times`` times through a sync embedded client."""
    from redpocket.client import EmbeddedRedis

    sync = EmbeddedRedis(engine)
    thread = threading.Thread(target=lambda: [sync.incr("shared") for _ in range(times)])
    thread.start()
    return thread


async def test_sync_and_async_clients_share_one_engine_across_threads() -> None:
    async with AsyncEmbeddedRedis(Engine()) as client:
        thread = incr_in_a_thread(client.engine, 500)
        await asyncio.gather(*(client.incr("shared") for _ in range(500)))
        thread.join()
        assert await client.get("shared") == b"1000"


async def test_plain_redis_asyncio_with_the_embedded_connection_class() -> None:
    pool = redis.asyncio.ConnectionPool(connection_class=AsyncEmbeddedConnection, engine=Engine())
    async with redis.asyncio.Redis(connection_pool=pool) as client:
        await client.set("a", "1")
        assert await client.get("a") == b"1"
        assert repr(await pool.get_connection()).startswith("<redpocket.client_async.AsyncEmbeddedConnection(engine=")


def test_one_client_serves_successive_event_loops() -> None:
    engine = Engine()
    client = AsyncEmbeddedRedis(engine)

    async def pop_what_a_thread_pushes(value: str) -> Any:
        threading.Timer(0.05, lambda: engine.session().execute([b"RPUSH", b"q", value.encode()])).start()
        return await client.blpop(["q"], timeout=5)

    assert asyncio.run(pop_what_a_thread_pushes("first")) == (b"q", b"first")
    assert asyncio.run(pop_what_a_thread_pushes("second")) == (b"q", b"second")  # (its idle connection outlived a loop)
    asyncio.run(client.aclose())


# -- built the ways libraries build a redis.asyncio.Redis (arq: ArqRedis(pool)) -----------------

async def test_client_rebuilt_from_its_own_pool_shares_the_engine() -> None:
    engine = Engine()
    client = AsyncEmbeddedRedis(engine, decode_responses=True)
    copy = type(client)(connection_pool=client.connection_pool)  # (was: TypeError, the pool went to the connection)
    await copy.set("k", "v")
    assert await client.get("k") == "v"
    assert copy.engine is engine
    assert await copy.get("k") == "v"  # the pool's decode_responses is the copy's too
    with pytest.raises(TypeError, match="from the pool"):
        AsyncEmbeddedRedis(engine, connection_pool=client.connection_pool)
    await client.aclose()


async def test_from_url_names_engines_and_databases() -> None:
    named = AsyncEmbeddedRedis.from_url("memory://async-from-url-test?db=2", decode_responses=True)
    await named.set("k", "v")
    again = AsyncEmbeddedRedis.from_url("memory://async-from-url-test?db=2")
    assert again.engine is named.engine
    assert await again.get("k") == b"v"
    from_settings = AsyncEmbeddedRedis.from_url("redis://localhost:6379/2")  # (a library's setting: the process-wide engine)
    assert from_settings.engine is default_engine()
    assert from_settings.connection_pool.connection_kwargs["db"] == 2
    with pytest.raises(redpocket.ConfigurationError, match="memory://"):
        AsyncEmbeddedRedis.from_url("http://example")


async def test_a_subclass_over_an_embedded_pool_as_arq_builds_its_client() -> None:
    class QueueClient(redis.asyncio.Redis):  # (arq's ArqRedis: a redis.asyncio.Redis taking a pool first)
        def __init__(self, pool: redis.asyncio.ConnectionPool) -> None:
            super().__init__(connection_pool=pool)

    pool = redis.asyncio.ConnectionPool(connection_class=AsyncEmbeddedConnection, engine=Engine())
    client = QueueClient(pool)
    async with client.pipeline(transaction=True) as pipe:
        await pipe.watch("job")
        assert not await pipe.exists("job")
        pipe.multi()
        pipe.psetex("job", 1000, b"1")
        assert await pipe.execute() == [True]
    assert await AsyncEmbeddedRedis(connection_pool=pool).get("job") == b"1"
    await client.aclose()
