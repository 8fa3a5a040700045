"""redpocket.pipeline(): deferred results, nesting, callbacks, named connections (RedPipe)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

import redpocket
from redpocket import DeferredResult


@pytest.fixture
def default(r: redis.Redis):
    """Make the backend's client the default connection for the test."""
    redpocket.connect(r)
    yield r
    redpocket.disconnect()


def increment_and_expire(key: str, num: int = 1, expire: int = 60, pipe: Any = None) -> DeferredResult[int]:
    """RedPipe's README example, with the package renamed."""
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


def test_readme_increment_and_expire(default: redis.Redis) -> None:
    with redpocket.PipelineContext() as pipe:
        key1 = increment_and_expire("key1", pipe=pipe)
        key2 = increment_and_expire("key2", pipe=pipe)
        with pytest.raises(redpocket.ResultNotReady):
            _ = key1.result
    assert key1.result == 1 and key2.result == 1
    assert increment_and_expire("key3").result == 1
    assert default.ttl("key1") == 60

    with redpocket.PipelineContext() as pipe:
        results = [increment_and_expire("key%d" % i, pipe=pipe) for i in range(0, 100)]
    assert [r.result for r in results[:4]] == [1, 2, 2, 2]


def test_readme_callbacks(default: redis.Redis) -> None:
    assert increment_keys(["key%d" % i for i in range(0, 100)]).result == 100
    with redpocket.PipelineContext() as pipe:
        first = increment_keys(["key%d" % i for i in range(0, 100)], pipe=pipe)
        second = increment_keys(["key%d" % i for i in range(100, 200)], pipe=pipe)
    assert first.result == 200
    assert second.result == 100


def test_response_callbacks_apply(default: redis.Redis) -> None:
    with redpocket.pipeline() as pipe:
        pipe.hset("h", mapping={"a": "1", "b": "2"})
        everything = pipe.hgetall("h")
        ok = pipe.set("s", "v")
        exists = pipe.exists("s")
    assert everything.result == {b"a": b"1", b"b": b"2"}
    assert ok.result is True
    assert exists.result == 1


def test_decode_responses_is_honoured(make_client) -> None:
    redpocket.connect(make_client(decode_responses=True))
    try:
        with redpocket.pipeline() as pipe:
            pipe.set("name", "Harry")
            name = pipe.get("name")
        assert name.result == "Harry"
    finally:
        redpocket.disconnect()


def test_error_in_one_command_keeps_the_others(default: redis.Redis) -> None:
    default.set("s", "text")
    with redpocket.pipeline() as pipe:
        bad = pipe.incr("s")
        good = pipe.get("s")
    assert good.result == b"text"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        _ = bad.result


def test_a_queued_command_without_a_result_raises_its_error_at_exit(default: redis.Redis) -> None:
    default.set("s", "text")
    with redpocket.pipeline() as pipe:
        pipe.queue_command("SET", "a", "1")
    assert default.get("a") == b"1"
    with pytest.raises(redis.ResponseError, match="not an integer"), redpocket.pipeline() as pipe:
        pipe.queue_command("INCR", "s")
        good = pipe.incr("a")
    assert good.result == 2  # the rest of the batch ran


def test_exception_in_block_sends_nothing(default: redis.Redis) -> None:
    with pytest.raises(RuntimeError), redpocket.pipeline() as pipe:
        pipe.set("never", "1")
        raise RuntimeError("boom")
    assert default.exists("never") == 0


def test_exception_in_nested_block_discards_only_that_block(default: redis.Redis) -> None:
    with redpocket.pipeline() as pipe:
        kept = pipe.set("kept", "1")
        try:
            with redpocket.pipeline(pipe) as inner:
                inner.set("dropped", "1")
                raise ValueError
        except ValueError:
            pass
        after = pipe.incr("counter")
    assert kept.result is True and after.result == 1
    assert default.exists("dropped") == 0


def test_transaction(default: redis.Redis) -> None:
    with redpocket.pipeline(transaction=True) as pipe:
        a = pipe.incr("a")
        b = pipe.incr("a")
    assert (a.result, b.result) == (1, 2)


def test_nested_contexts_are_one_round_trip(make_client, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[int] = []
    client = make_client()
    if backend == "cluster":  # one batch per master, written before any reply is read
        client.ping(target_nodes=client.ALL_NODES)  # connect first: handshakes are not the batch
        connection_class = client.get_default_node().redis_connection.connection_pool.connection_class
        original_method = connection_class.send_packed_command

        def counting_method(self: Any, command: Any, check_health: bool = True) -> None:
            sent.append(1)
            original_method(self, command, check_health)

        monkeypatch.setattr(connection_class, "send_packed_command", counting_method)
        expected = len({client.nodes_manager.get_node_from_slot(client.keyslot(f"k{i}")).name for i in range(100)})
        assert expected == 3
    else:
        connection = client.connection_pool.get_connection()
        original = connection.send_packed_command

        def counting(command: Any, check_health: bool = True) -> None:
            sent.append(1)
            original(command, check_health)

        connection.send_packed_command = counting  # type: ignore[method-assign]
        client.connection_pool.release(connection)
        expected = 1
    redpocket.connect(client)
    try:
        with redpocket.pipeline() as pipe:
            results = [increment_and_expire(f"k{i}", pipe=pipe) for i in range(100)]
        assert len(sent) == expected
        assert all(r.result == 1 for r in results)
    finally:
        redpocket.disconnect()


@pytest.mark.not_cluster("two databases of one server (db=1, db=2); a cluster has db 0 only — tests/cluster covers named cluster connections")
def test_named_connections(make_client) -> None:
    users = redpocket.connect(make_client(db=1), name="users")
    messages = redpocket.connect(make_client(db=2), name="messages")
    try:
        with redpocket.pipeline(name="users") as pipe:
            pipe.hset("u{1}", "name", "joe")
            with redpocket.pipeline(pipe, name="messages") as other:
                other.hset("m{1}", "body", "hi there")
            count = pipe.hlen("u{1}")
        assert count.result == 1
        assert users.hget("u{1}", "name") == b"joe"
        assert messages.hget("m{1}", "body") == b"hi there"
        assert users.exists("m{1}") == 0
    finally:
        redpocket.disconnect()


def test_pipelines_are_per_thread(default: redis.Redis) -> None:
    errors: list[BaseException] = []
    outcomes: dict[int, int] = {}

    def work(n: int) -> None:
        try:
            with redpocket.pipeline() as pipe:
                refs = [pipe.incr(f"thread:{n}") for _ in range(50)]
            outcomes[n] = refs[-1].result
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert outcomes == {0: 50, 1: 50, 2: 50, 3: 50}


def test_using_a_context_from_another_thread_is_refused(default: redis.Redis) -> None:
    failures: list[BaseException] = []
    with redpocket.pipeline() as pipe:
        def intruder() -> None:
            try:
                pipe.set("x", "1")
            except redpocket.PipelineError as error:
                failures.append(error)

        thread = threading.Thread(target=intruder)
        thread.start()
        thread.join()
    assert len(failures) == 1


def test_run_script_fills_the_result_it_is_given(default: redis.Redis) -> None:
    script = default.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    mine: DeferredResult[int] = DeferredResult()
    failures: list[BaseException] = []
    with redpocket.pipeline() as pipe:
        assert pipe.run_script(script, ["counter"], [2], result=mine) is mine
        other = pipe.run_script(script, ["counter"], [3])

        def intruder() -> None:
            try:
                pipe.run_script(script, ["counter"], [100])
            except redpocket.PipelineError as error:
                failures.append(error)

        thread = threading.Thread(target=intruder)
        thread.start()
        thread.join()
    assert (mine.result, other.result) == (2, 5)
    assert len(failures) == 1


def test_current_pipeline(default: redis.Redis) -> None:
    assert redpocket.current_pipeline() is None
    with redpocket.pipeline() as outer:
        assert redpocket.current_pipeline() is outer
        with redpocket.pipeline(outer) as inner:
            assert redpocket.current_pipeline() is inner
    assert redpocket.current_pipeline() is None


def test_pipe_must_be_a_context(default: redis.Redis) -> None:
    with pytest.raises(redpocket.PipelineError, match="pipe= takes a redpocket pipeline context"):
        redpocket.pipeline(default.pipeline())  # type: ignore[arg-type]
