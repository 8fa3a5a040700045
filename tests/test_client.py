"""The embedded redis-py client: everything a redis-py user does works unchanged."""

from __future__ import annotations

import threading

import pytest
import redis

from redpocket.client import EmbeddedConnection, EmbeddedRedis
from redpocket.engine import Engine


def test_plain_redis_with_embedded_connection_class() -> None:
    engine = Engine()
    pool = redis.ConnectionPool(connection_class=EmbeddedConnection, engine=engine)
    client = redis.Redis(connection_pool=pool)
    client.set("a", "1")
    assert client.get("a") == b"1"
    assert EmbeddedRedis(engine).get("a") == b"1"


def test_pipeline_without_transaction(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=False)
    pipe.set("a", "1").incr("a").lpush("a", "x").get("a")
    result = pipe.execute(raise_on_error=False)
    assert result[:2] == [True, 2]
    assert isinstance(result[2], redis.ResponseError)
    assert result[3] == b"2"


def test_transaction_pipeline(r: redis.Redis) -> None:
    with r.pipeline() as tx:
        tx.set("a", "1").incr("a").get("a")
        assert tx.execute() == [True, 2, b"2"]


def test_transaction_with_watch(make_client) -> None:
    client = make_client()
    other = make_client()
    client.set("balance", 10)

    def withdraw(pipe: redis.client.Pipeline) -> None:
        balance = int(pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", balance - 3)

    client.transaction(withdraw, "balance")
    assert client.get("balance") == b"7"

    with client.pipeline() as pipe:
        pipe.watch("balance")
        other.set("balance", 100)
        pipe.multi()
        pipe.set("balance", 0)
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert client.get("balance") == b"100"


def test_decode_responses(make_client) -> None:
    client = make_client(decode_responses=True)
    client.hset("h", mapping={"name": "Harry", "age": "17"})
    assert client.hgetall("h") == {"name": "Harry", "age": "17"}
    assert client.keys("*") == ["h"]


@pytest.mark.parametrize("protocol", [2, 3])
def test_both_protocols_give_the_same_python_values(make_client, protocol: int) -> None:
    client = make_client(protocol=protocol)
    client.zadd("z", {"a": 1.5, "b": 2})
    client.hset("h", "f", "v")
    assert [tuple(pair) for pair in client.zrange("z", 0, -1, withscores=True)] == [(b"a", 1.5), (b"b", 2.0)]
    assert client.zscore("z", "a") == 1.5
    assert client.hgetall("h") == {b"f": b"v"}


def test_clients_have_their_own_selected_db(make_client) -> None:
    first = make_client(db=0)
    second = make_client(db=1)
    first.set("k", "zero")
    second.set("k", "one")
    assert first.get("k") == b"zero"
    assert second.get("k") == b"one"


def test_binary_keys_and_values(r: redis.Redis) -> None:
    r.set(b"\xff\xfe", b"\x00\x80\xff")
    assert r.get(b"\xff\xfe") == b"\x00\x80\xff"
    assert r.keys() == [b"\xff\xfe"]


def test_threads_share_one_engine_atomically() -> None:
    client = EmbeddedRedis(Engine())

    def work() -> None:
        for _ in range(2000):
            client.incr("counter")
            with client.pipeline() as tx:
                tx.incr("tx").incr("tx")
                tx.execute()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.get("counter") == b"8000"
    assert client.get("tx") == b"16000"


def test_register_script(r: redis.Redis) -> None:
    incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert incr_by(keys=["n"], args=[5]) == 5
    assert incr_by(keys=["n"], args=[5]) == 10


def test_error_inside_exec_is_returned_in_place(r: redis.Redis) -> None:
    with r.pipeline() as tx:
        tx.set("s", "x").lpush("s", "y").get("s")
        result = tx.execute(raise_on_error=False)
    assert result[0] is True and result[2] == b"x"
    assert isinstance(result[1], redis.ResponseError)
    assert "WRONGTYPE" in str(result[1])


def test_pubsub_through_redis_py(make_client) -> None:
    subscriber = make_client(decode_responses=True)
    publisher = make_client(decode_responses=True)
    pubsub = subscriber.pubsub()
    pubsub.subscribe("news")
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"

    def publish() -> None:
        import time

        time.sleep(0.05)
        publisher.publish("news", "hello")

    thread = threading.Thread(target=publish)
    thread.start()
    message = pubsub.get_message(timeout=5)
    thread.join()
    assert message == {"type": "message", "pattern": None, "channel": "news", "data": "hello"}
    pubsub.psubscribe("n*")
    assert pubsub.get_message(timeout=1)["type"] == "psubscribe"
    assert publisher.publish("nx", "x") == 1
    assert pubsub.get_message(timeout=1) == {"type": "pmessage", "pattern": "n*", "channel": "nx", "data": "x"}
    assert pubsub.get_message(timeout=0.05) is None
    pubsub.close()


def test_keyspace_notifications(make_client) -> None:
    client = make_client(decode_responses=True)
    client.config_set("notify-keyspace-events", "KEA")
    try:
        pubsub = client.pubsub()
        pubsub.psubscribe("__keyevent@0__:*")
        assert pubsub.get_message(timeout=1)["type"] == "psubscribe"
        client.set("k", "1")
        client.incr("k")
        events = [pubsub.get_message(timeout=1) for _ in range(2)]
        assert [e["channel"] for e in events] == ["__keyevent@0__:set", "__keyevent@0__:incrby"]
        assert [e["data"] for e in events] == ["k", "k"]
        pubsub.close()
    finally:
        client.config_set("notify-keyspace-events", "")


def test_new_key_notifications(make_client) -> None:
    client = make_client(decode_responses=True)
    client.config_set("notify-keyspace-events", "EAn")  # "new" is class n, which A does not include
    try:
        pubsub = client.pubsub()
        pubsub.psubscribe("__keyevent@0__:*")
        assert pubsub.get_message(timeout=1)["type"] == "psubscribe"
        client.set("a", 1)
        client.set("a", 2)  # not new
        client.rpush("l", 1)
        client.rename("a", "b")
        client.eval("redis.call('set', 's1', '1') return 1", 0)
        expected = [("new", "a"), ("set", "a"), ("set", "a"), ("new", "l"), ("rpush", "l"), ("new", "b"),
                    ("rename_from", "a"), ("rename_to", "b"), ("new", "s1"), ("set", "s1")]
        events = [pubsub.get_message(timeout=1) for _ in expected]
        assert [(e["channel"].split(":", 1)[1], e["data"]) for e in events] == expected
        client.config_set("notify-keyspace-events", "EA")
        client.set("c", 1)
        assert pubsub.get_message(timeout=1)["channel"] == "__keyevent@0__:set"
        pubsub.close()
    finally:
        client.config_set("notify-keyspace-events", "")


def test_tracking_invalidations_go_to_the_push_handler_not_in_place_of_a_reply(make_client) -> None:
    pool = make_client(protocol=3).connection_pool
    conn = pool.get_connection()
    invalidated: list[object] = []
    conn._parser.set_invalidation_push_handler(invalidated.append)

    def call(*args: str) -> object:
        conn.send_command(*args)
        return conn.read_response()

    try:
        assert call("CLIENT", "TRACKING", "ON") == b"OK"
        assert call("SET", "k", "1") == b"OK"
        assert call("GET", "k") == b"1"  # now tracked
        make_client().set("k", "2")
        assert call("GET", "k") == b"2"  # the invalidation is no reply of GET
        assert call("PING") == b"PONG"
        assert [b"invalidate", [b"k"]] in invalidated
    finally:
        pool.release(conn)
