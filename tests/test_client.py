"""The embedded redis-py client: everything a redis-py user does works unchanged."""

from __future__ import annotations

import os
import threading
import time

import pytest
import redis

import redpocket
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


# -- built the ways libraries build a redis.Redis ---------------------------------


def test_client_rebuilt_from_its_own_pool_shares_the_engine() -> None:
    engine = Engine()
    client = EmbeddedRedis(engine, decode_responses=True)
    copy = type(client)(connection_pool=client.connection_pool)  # what rq's scheduler does
    copy.set("k", "v")
    assert client.get("k") == "v"
    assert copy.engine is engine
    assert copy.get("k") == "v"  # the pool's decode_responses is the copy's too
    with pytest.raises(TypeError, match="from the pool"):
        EmbeddedRedis(engine, connection_pool=client.connection_pool)


def test_from_pool_and_plain_redis_over_an_embedded_pool() -> None:
    engine = Engine()
    pool = redis.ConnectionPool(connection_class=EmbeddedConnection, engine=engine)
    EmbeddedRedis.from_pool(pool).set("a", "1")
    assert redis.Redis(connection_pool=pool).get("a") == b"1"
    assert EmbeddedRedis(connection_pool=pool).get("a") == b"1"


def test_from_url_names_engines_and_databases() -> None:
    named = EmbeddedRedis.from_url("memory://from-url-test?db=2", decode_responses=True)
    named.set("k", "v")
    again = EmbeddedRedis.from_url("memory://from-url-test?db=2")
    assert again.engine is named.engine and again.get("k") == b"v"
    assert EmbeddedRedis.from_url("memory://from-url-test").get("k") is None  # database 0
    # A library's redis:// setting: the process-wide engine, the URL's database and options.
    client = EmbeddedRedis.from_url("redis://localhost:6379/3?decode_responses=True")
    assert client.connection_pool.connection_kwargs["db"] == 3
    client.set("url", "x")
    assert client.get("url") == "x"
    with pytest.raises(redpocket.ConfigurationError):
        EmbeddedRedis.from_url("http://example.com")


def test_connection_class_in_a_pool_built_from_a_url() -> None:
    """Django's RedisCache builds ``ConnectionPool.from_url(LOCATION, **OPTIONS)``."""
    engine = Engine()
    pool = redis.ConnectionPool.from_url("redis://localhost:6379/1", connection_class=EmbeddedConnection, engine=engine)
    client = redis.Redis(connection_pool=pool)
    client.set("k", "v")
    assert EmbeddedRedis(engine, db=1).get("k") == b"v"


def test_pool_get_connection_speaks_to_the_engine(r: redis.Redis) -> None:
    conn = r.connection_pool.get_connection()
    try:
        conn.send_command("SET", "k", "v")
        assert conn.read_response() == b"OK"
        conn.send_command("GET", "k")
        assert conn.read_response() == b"v"
    finally:
        r.connection_pool.release(conn)


def test_close_ends_the_sessions_of_every_thread() -> None:
    engine = Engine()
    watcher = EmbeddedRedis(engine)
    client = EmbeddedRedis(engine)
    threads = [threading.Thread(target=client.ping) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.ping()
    assert len(watcher.client_list()) == 5  # the watcher, this thread's and three threads' connections
    client.close()
    assert len(watcher.client_list()) == 1
    assert client.ping()  # a closed redis.Redis connects again when used


def test_connection_class_option_takes_a_subclass() -> None:
    class Counting(EmbeddedConnection):
        made = 0

        def _connect(self):  # type: ignore[no-untyped-def]
            Counting.made += 1
            return super()._connect()

    client = EmbeddedRedis(Engine(), connection_class=Counting)
    assert client.ping() and Counting.made == 1


@pytest.mark.parametrize("options", [
    {"host": "cache.internal", "port": 6380}, {"socket_timeout": 3, "socket_connect_timeout": 2},
    {"ssl": True, "ssl_cert_reqs": "none"}, {"unix_socket_path": "/run/redis.sock"}, {"socket_keepalive": True},
    {"max_connections": 4, "health_check_interval": 10, "retry_on_timeout": True}, {"client_name": "worker-1"},
])
def test_redis_options_a_library_passes_are_accepted(options: dict[str, object]) -> None:
    """Options that configure a socket mean nothing in-process; they must not stop the client being built."""
    client = EmbeddedRedis(Engine(), **options)
    assert client.set("k", "v") and client.get("k") == b"v"
    if "client_name" in options:
        assert client.client_getname() == "worker-1"


def test_single_connection_client() -> None:
    client = EmbeddedRedis(Engine(), single_connection_client=True)
    assert client.connection is not None
    assert client.incr("n") == 1 and client.incr("n") == 2


def test_many_threads_on_one_pool_and_one_client() -> None:
    engine = Engine()
    shared = EmbeddedRedis(engine)
    plain = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=EmbeddedConnection, engine=engine))

    def work(index: int) -> None:
        for _ in range(300):
            shared.incr("shared")
            plain.incr("plain")
            plain.sadd("members", index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shared.get("plain") == b"2400" and plain.get("shared") == b"2400"
    assert shared.scard("members") == 8


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_fork_gets_a_copy_of_the_engine_between_two_commands() -> None:
    client = EmbeddedRedis(Engine())
    client.set("before", "1")
    stop = threading.Event()

    def busy() -> None:  # another thread keeps the engine busy while we fork
        while not stop.is_set():
            client.incr("busy")

    thread = threading.Thread(target=busy)
    thread.start()
    try:
        time.sleep(0.05)
        pid = os.fork()
        if pid == 0:  # the child: its own copy, usable at once (no lock left held by the busy thread)
            code = 0
            try:
                child = type(client)(connection_pool=client.connection_pool)
                code = 0 if child.get("before") == b"1" and child.set("child", "1") and child.get("child") == b"1" else 1
            except BaseException:
                code = 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
    finally:
        stop.set()
        thread.join()
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.get("child") is None  # the child's writes stay in the child


# -- waiters are woken by any thread's activity -------------------------------------


def test_reader_in_get_message_wakes_on_another_threads_unsubscribe(make_client) -> None:
    pubsub = make_client().pubsub()
    pubsub.subscribe("news")
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    sent: list[float] = []

    def unsubscribe() -> None:
        time.sleep(0.2)
        sent.append(time.monotonic())
        pubsub.unsubscribe("news")

    thread = threading.Thread(target=unsubscribe)
    thread.start()
    message = pubsub.get_message(timeout=5)
    returned = time.monotonic()
    thread.join()
    assert message is not None and message["type"] == "unsubscribe"
    assert returned - sent[0] < 0.1
    pubsub.close()


def test_listen_wakes_on_another_threads_subscribe_and_unsubscribe(make_client) -> None:
    publisher = make_client()
    pubsub = make_client().pubsub()
    pubsub.subscribe("first")
    seen: list[tuple[str, bytes]] = []

    def listen() -> None:
        for message in pubsub.listen():  # ends once nothing is subscribed
            seen.append((message["type"], message["channel"]))

    reader = threading.Thread(target=listen)
    reader.start()
    pubsub.subscribe("second")
    deadline = time.monotonic() + 5
    while publisher.publish("second", "x") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    pubsub.unsubscribe()
    reader.join(5)
    assert not reader.is_alive() and time.monotonic() - started < 1
    assert ("subscribe", b"first") in seen and ("subscribe", b"second") in seen
    assert ("message", b"second") in seen
    assert [kind for kind, _ in seen].count("unsubscribe") == 2
    pubsub.close()


def test_run_in_thread_handles_messages_and_stops(make_client) -> None:
    publisher = make_client(decode_responses=True)
    pubsub = make_client(decode_responses=True).pubsub()
    received: list[str] = []
    arrived = threading.Event()

    def handle(message: dict[str, str]) -> None:
        received.append(message["data"])
        if len(received) == 3:
            arrived.set()

    pubsub.subscribe(jobs=handle)
    worker = pubsub.run_in_thread(sleep_time=0.05, daemon=True)
    deadline = time.monotonic() + 5
    while publisher.pubsub_numsub("jobs")[0][1] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    for data in ("a", "b", "c"):
        publisher.publish("jobs", data)
    assert arrived.wait(5)
    worker.stop()
    worker.join(5)
    assert not worker.is_alive()
    assert received == ["a", "b", "c"]


def test_a_reader_is_woken_when_another_thread_closes_the_connection() -> None:
    pubsub = EmbeddedRedis(Engine()).pubsub()
    pubsub.subscribe("news")
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    connection = pubsub.connection
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(connection.read_response())
        except redis.ConnectionError as error:
            outcome.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.1)
    connection.disconnect()
    reader.join(2)
    assert not reader.is_alive()
    assert isinstance(outcome[0], redis.ConnectionError)
