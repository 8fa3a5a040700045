"""redpocket.pipeline() / apipeline(): deferred results, nesting, callbacks, named connections (RedPipe).

Every test runs in both modes (``mode``: the sync API, or the asyncio one)
on every backend, from one ``async def`` body (see tests/modes.py).
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster

import redpocket
from redpocket import DeferredResult
from redpocket.client import EmbeddedConnection
from redpocket.client_async import AsyncEmbeddedConnection


@pytest.fixture
def default(r: redis.Redis, mode: Any):
    """Make a client of the mode the default connection; yield a sync client of the same backend, for checks."""
    mode.connect()
    yield r
    redpocket.disconnect()


def increment_and_expire(key: str, num: int = 1, expire: int = 60, pipe: Any = None) -> DeferredResult[int]:
    """RedPipe's README example, with the package renamed: it joins a sync or an asyncio root alike."""
    with redpocket.PipelineContext(pipe) as pipe:
        ref = pipe.incrby(key, num)
        pipe.expire(key, expire)
        return ref


def increment_keys(keys: list[str], pipe: Any = None) -> DeferredResult[int]:
    """RedPipe's callback example: a result computed from other results."""
    ref: DeferredResult[int] = redpocket.DeferredResult()
    with redpocket.pipeline(pipe) as pipe:
        results = [pipe.incr(key) for key in keys]

        def cb() -> None:
            ref.set(sum(r.result for r in results))

        pipe.on_execute(cb)
    return ref


async def test_readme_increment_and_expire(mode: Any, default: redis.Redis) -> None:
    async with mode.pipeline() as pipe:
        key1 = increment_and_expire("key1", pipe=pipe)
        key2 = increment_and_expire("key2", pipe=pipe)
        with pytest.raises(redpocket.ResultNotReady):
            _ = key1.result
    assert key1.result == 1 and key2.result == 1
    async with mode.pipeline() as pipe:
        key3 = increment_and_expire("key3", pipe=pipe)
    assert key3.result == 1
    assert default.ttl("key1") == 60

    async with mode.pipeline() as pipe:
        results = [increment_and_expire("key%d" % i, pipe=pipe) for i in range(0, 100)]
    assert [r.result for r in results[:4]] == [1, 2, 2, 2]


async def test_readme_callbacks(mode: Any, default: redis.Redis) -> None:
    async with mode.pipeline() as pipe:
        alone = increment_keys(["key%d" % i for i in range(0, 100)], pipe=pipe)
    assert alone.result == 100
    async with mode.pipeline() as pipe:
        first = increment_keys(["key%d" % i for i in range(0, 100)], pipe=pipe)
        second = increment_keys(["key%d" % i for i in range(100, 200)], pipe=pipe)
    assert first.result == 200
    assert second.result == 100


async def test_response_callbacks_apply(mode: Any, default: redis.Redis) -> None:
    async with mode.pipeline() as pipe:
        pipe.hset("h", mapping={"a": "1", "b": "2"})
        everything = pipe.hgetall("h")
        ok = pipe.set("s", "v")
        exists = pipe.exists("s")
    assert everything.result == {b"a": b"1", b"b": b"2"}
    assert ok.result is True
    assert exists.result == 1


async def test_decode_responses_is_honoured(mode: Any) -> None:
    mode.connect(decode_responses=True)
    try:
        async with mode.pipeline() as pipe:
            pipe.set("name", "Harry")
            name = pipe.get("name")
        assert name.result == "Harry"
    finally:
        redpocket.disconnect()


async def test_error_in_one_command_keeps_the_others(mode: Any, default: redis.Redis) -> None:
    default.set("s", "text")
    async with mode.pipeline() as pipe:
        bad = pipe.incr("s")
        good = pipe.get("s")
    assert good.result == b"text"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        _ = bad.result


async def test_a_queued_command_without_a_result_raises_its_error_at_exit(mode: Any, default: redis.Redis) -> None:
    default.set("s", "text")
    async with mode.pipeline() as pipe:
        pipe.queue_command("SET", "a", "1")
    assert default.get("a") == b"1"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        async with mode.pipeline() as pipe:
            pipe.queue_command("INCR", "s")
            good = pipe.incr("a")
    assert good.result == 2  # the rest of the batch ran


async def test_exception_in_block_sends_nothing(mode: Any, default: redis.Redis) -> None:
    with pytest.raises(RuntimeError):
        async with mode.pipeline() as pipe:
            pipe.set("never", "1")
            raise RuntimeError("boom")
    assert default.exists("never") == 0


async def test_exception_in_nested_block_discards_only_that_block(mode: Any, default: redis.Redis) -> None:
    async with mode.pipeline() as pipe:
        kept = pipe.set("kept", "1")
        try:
            async with mode.pipeline(pipe) as inner:
                inner.set("dropped", "1")
                raise ValueError
        except ValueError:
            pass
        try:
            with redpocket.pipeline(pipe) as inner:  # a plain `with` nests in either kind of root
                inner.set("dropped too", "1")
                raise ValueError
        except ValueError:
            pass
        after = pipe.incr("counter")
    assert kept.result is True and after.result == 1
    assert default.exists("dropped", "dropped too") == 0


async def test_transaction(mode: Any, default: redis.Redis) -> None:
    async with mode.pipeline(transaction=True) as pipe:
        a = pipe.incr("a")
        b = pipe.incr("a")
    assert (a.result, b.result) == (1, 2)


async def test_execute_without_with(mode: Any, default: redis.Redis) -> None:
    pipe = redpocket.apipeline() if mode.asynchronous else redpocket.pipeline()
    ref = pipe.incr("plain")
    outcome = pipe.execute()
    if mode.asynchronous:
        await outcome
    assert ref.result == 1


def _connection_class(mode: Any, client: Any, backend: str) -> type:
    """Return the connection class whose ``send_packed_command`` one batch goes through."""
    if backend == "cluster":
        return redis.asyncio.connection.Connection if mode.asynchronous else client.get_default_node().redis_connection.connection_pool.connection_class
    if backend == "embedded":
        return AsyncEmbeddedConnection if mode.asynchronous else EmbeddedConnection
    return redis.asyncio.connection.Connection if mode.asynchronous else redis.connection.Connection


async def test_nested_contexts_are_one_round_trip(mode: Any, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[int] = []
    client = mode.connect()
    # Connect first: handshakes are not the batch.
    if backend == "cluster":
        ping = client.ping(target_nodes=client.ALL_NODES)
        if mode.asynchronous:
            await ping
        expected = len({client.nodes_manager.get_node_from_slot(client.keyslot(f"k{i}")).name for i in range(100)})
        assert expected == 3  # one batch per master, written before any reply is read
    else:
        pool = client.connection_pool
        if mode.asynchronous:
            await pool.release(await pool.get_connection())
        else:
            pool.release(pool.get_connection())
        expected = 1
    connection_class = _connection_class(mode, client, backend)
    original = connection_class.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> Any:
        sent.append(1)
        return original(self, command, check_health)

    monkeypatch.setattr(connection_class, "send_packed_command", counting)
    try:
        async with mode.pipeline() as pipe:
            results = [increment_and_expire(f"k{i}", pipe=pipe) for i in range(100)]
        assert len(sent) == expected
        assert all(r.result == 1 for r in results)
    finally:
        redpocket.disconnect()


@pytest.mark.not_cluster("two databases of one server (db=1, db=2); a cluster has db 0 only — tests/cluster covers named cluster connections")
async def test_named_connections(mode: Any, make_client) -> None:
    mode.connect(name="users", db=1)
    mode.connect(name="messages", db=2)
    users, messages = make_client(db=1), make_client(db=2)
    try:
        async with mode.pipeline(name="users") as pipe:
            pipe.hset("u{1}", "name", "joe")
            async with mode.pipeline(pipe, name="messages") as other:
                other.hset("m{1}", "body", "hi there")
            count = pipe.hlen("u{1}")
        assert count.result == 1
        assert users.hget("u{1}", "name") == b"joe"
        assert messages.hget("m{1}", "body") == b"hi there"
        assert users.exists("m{1}") == 0
    finally:
        redpocket.disconnect()


async def test_pipelines_are_per_thread_or_task(mode: Any, default: redis.Redis) -> None:
    async def work(n: int) -> int:
        async with mode.pipeline() as pipe:
            assert redpocket.current_pipeline() is pipe
            refs = [pipe.incr(f"worker:{n}") for _ in range(50)]
        return int(refs[-1].result)

    assert await mode.concurrently(*[lambda n=n: work(n) for n in range(4)]) == [50, 50, 50, 50]


async def test_using_a_context_from_another_thread_or_task_is_refused(mode: Any, default: redis.Redis) -> None:
    failures: list[BaseException] = []
    seen: list[Any] = []
    async with mode.pipeline() as pipe:
        def intruder() -> None:
            seen.append(redpocket.current_pipeline())
            try:
                pipe.set("x", "1")
            except redpocket.PipelineError as error:
                failures.append(error)

        await mode.elsewhere(intruder)
    assert len(failures) == 1
    assert seen == [None]  # (a task inherits its parent's context variables, not its pipelines)


async def test_run_script_fills_the_result_it_is_given(mode: Any, default: redis.Redis) -> None:
    script = default.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    mine: DeferredResult[int] = DeferredResult()
    failures: list[BaseException] = []
    async with mode.pipeline() as pipe:
        assert pipe.run_script(script, ["counter"], [2], result=mine) is mine
        other = pipe.run_script(script, ["counter"], [3])

        def intruder() -> None:
            try:
                pipe.run_script(script, ["counter"], [100])
            except redpocket.PipelineError as error:
                failures.append(error)

        await mode.elsewhere(intruder)
    assert (mine.result, other.result) == (2, 5)
    assert len(failures) == 1


async def test_current_pipeline(mode: Any, default: redis.Redis) -> None:
    assert redpocket.current_pipeline() is None
    async with mode.pipeline() as outer:
        assert redpocket.current_pipeline() is outer
        async with mode.pipeline(outer) as inner:
            assert redpocket.current_pipeline() is inner
    assert redpocket.current_pipeline() is None


async def test_a_root_takes_its_own_kind_of_with(mode: Any, default: redis.Redis) -> None:
    if mode.asynchronous:
        with pytest.raises(redpocket.PipelineError, match="async with"), redpocket.apipeline():
            pass
    else:
        with pytest.raises(redpocket.PipelineError, match=r"async with redpocket\.apipeline"):
            async with redpocket.pipeline():
                pass


async def test_pipe_must_be_a_context(mode: Any, default: redis.Redis) -> None:
    with pytest.raises(redpocket.PipelineError, match="pipe= takes a redpocket pipeline context"):
        mode.pipeline(default.pipeline())
