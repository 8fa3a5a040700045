"""Errors the TCP server answers itself (NOAUTH, pub/sub context) are counted as Redis counts them."""

from __future__ import annotations

import pytest
import redis
from server_helpers import Raw, resp
from tests.engine.test_errorstats import CASES, counters, reply_or_error

from redpocket.server import Server


@pytest.mark.parametrize("case", list(CASES))
def test_error_counters_over_tcp_match_redis(server: Server, redis_server, case: str) -> None:
    """The engine's cases again, through the server's own execution paths (its hot path runs handlers itself)."""
    ours = redis.Redis(port=server.port, single_connection_client=True)
    theirs = redis_server.client(single_connection_client=True)
    try:
        for client in (ours, theirs):
            client.flushall()
            client.execute_command("CONFIG", "RESETSTAT")
        for argv in [*CASES[case], *CASES[case]]:  # (twice: the second time, commands run on the hot path)
            assert reply_or_error(ours, argv) == reply_or_error(theirs, argv), argv
        assert counters(ours) == counters(theirs)
    finally:
        ours.close()
        theirs.close()


def _subscribed_get_errors(client: redis.Redis) -> dict[str, object]:
    connection = client.connection
    assert connection is not None
    connection.send_command("SUBSCRIBE", "c")
    connection.read_response()
    connection.send_command("GET", "k")
    try:
        reply = connection.read_response()
    except redis.ResponseError as error:
        reply = str(error)
    connection.send_command("UNSUBSCRIBE", "c")
    connection.read_response()
    stats = client.info("errorstats")
    return {"reply": reply, "errorstats": stats, "get": client.info("commandstats").get("cmdstat_get")}


def test_pubsub_context_error_counted_like_redis(server: Server, redis_server) -> None:
    ours = redis.Redis(port=server.port, single_connection_client=True, protocol=2)
    theirs = redis_server.client(single_connection_client=True, protocol=2)
    try:
        for client in (ours, theirs):
            client.config_resetstat()
        assert _subscribed_get_errors(ours) == _subscribed_get_errors(theirs)
    finally:
        ours.close()
        theirs.close()


def test_noauth_counted_as_a_rejected_call(make_server) -> None:
    server = make_server(requirepass="pw")
    conn = Raw(server.port)
    try:
        assert conn.roundtrip(resp([b"GET", b"k"]), b"-NOAUTH Authentication required.\r\n").startswith(b"-NOAUTH")
        assert conn.roundtrip(resp([b"AUTH", b"pw"]), b"+OK\r\n") == b"+OK\r\n"
        conn.send(resp([b"INFO", b"errorstats"]))
        text = conn.read_for(0.3)
        assert b"errorstat_NOAUTH:count=1\r\n" in text
        conn.send(resp([b"INFO", b"commandstats"]))
        assert b"cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0" in conn.read_for(0.3)
    finally:
        conn.close()
