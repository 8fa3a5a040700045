"""Raw RESP in, exact bytes out: requests, pipelining, inline commands, protocol errors."""

from __future__ import annotations

import pytest
from server_helpers import Raw

from redpocket.engine.commands.pubsub import Push
from redpocket.engine.replies import NULL_ARRAY, OK, ReplyError, SetReply, SimpleString, VerbatimReply
from redpocket.server.protocol import ProtocolError, RequestParser, encode, split_args

# Payloads that make Redis answer a protocol error and close; checked byte for byte against redis-server 7.0.
PROTOCOL_ERRORS = [
    (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*01\r\n$4\r\nPING\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$600000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$2147483648\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$04\r\nPING\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n:5\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
    (b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
    (b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n=7\r\ntxt:abc\r\n", b"+PONG\r\n-ERR Protocol error: expected '$', got '='\r\n"),
    (b"*2\r\n$4\r\nECHO\r\n*1\r\n", b"-ERR Protocol error: expected '$', got '*'\r\n"),
    (b"*1\r\n$" + b"1" * 70000, b"-ERR Protocol error: too big bulk count string\r\n"),
    (b"*" + b"1" * 70000, b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"A" * 70000, b"-ERR Protocol error: too big inline request\r\n"),
    (b'SET "a b\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"SET 'a'b c\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"*1\r\n$4\r\nPING\r\n*1\r\n:1\r\n", b"+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n"),
]

EXCHANGES = [
    (b"PING\r\n", b"+PONG\r\n"),
    (b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"),
    (b"PING\r\n\r\nPING\r\n", b"+PONG\r\n+PONG\r\n"),
    (b"*-1\r\n*0\r\nPING\r\n", b"+PONG\r\n"),
    (b"*1\r\n$4\r\nPINGxxPING\r\n", b"+PONG\r\n+PONG\r\n"),
    (b"*2\r\n$4\r\nECHO\r\n$3\r\n\x00\x01\x02\r\n", b"$3\r\n\x00\x01\x02\r\n"),
    (b'ECHO "a\\x41\\n"\n', b"$3\r\naA\n\r\n"),
    (b"HSET h f v\nHGET h f\n", b":1\r\n$1\r\nv\r\n"),
    (b"ECHO\r\n", b"-ERR wrong number of arguments for 'echo' command\r\n"),
    (b"NOSUCH a b\r\n", b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n"),
    (b"HGET missing f\r\n", b"$-1\r\n"),
    (b"HELLO 3\r\nHGET missing f\r\nPING\r\n",
     b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n"),
]


@pytest.mark.parametrize(("payload", "expected"), PROTOCOL_ERRORS)
def test_protocol_errors_close_the_connection(raw, payload: bytes, expected: bytes) -> None:
    conn: Raw = raw()
    conn.send(payload)
    assert conn.read_for(0.5) == expected + b"<EOF>"


@pytest.mark.parametrize(("payload", "expected"), PROTOCOL_ERRORS)
def test_protocol_errors_match_redis_server(redis_server, payload: bytes, expected: bytes) -> None:
    conn = Raw(redis_server.port)
    try:
        conn.send(payload)
        assert conn.read_for(0.5) == expected + b"<EOF>"
    finally:
        conn.close()


@pytest.mark.parametrize(("payload", "expected"), EXCHANGES)
def test_exchanges(raw, payload: bytes, expected: bytes) -> None:
    conn: Raw = raw()
    conn.send(payload)
    assert conn.read_for(0.3).startswith(expected)


def test_split_frames_byte_by_byte(raw) -> None:
    conn: Raw = raw()
    payload = b"*3\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n" * 0 + b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$5\r\nhello\r\n"
    payload += b"*3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\nf\r\nPING\r\n"
    for i in range(len(payload)):
        conn.send(payload[i : i + 1])
    assert conn.recv_exact(len(b":1\r\n$5\r\nhello\r\n+PONG\r\n")) == b":1\r\n$5\r\nhello\r\n+PONG\r\n"


def test_pipeline_of_thousands_in_one_write(raw) -> None:
    conn: Raw = raw()
    count = 5000
    conn.send(b"".join(b"*3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(count)))
    expected = b":1\r\n" * count
    assert conn.recv_exact(len(expected)) == expected
    assert conn.roundtrip(b"SCARD s\r\n", b":5000\r\n") == b":5000\r\n"


def test_large_value_over_many_reads(raw) -> None:
    conn: Raw = raw()
    value = bytes(range(256)) * 4096  # 1 MiB of every byte
    frame = b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$%d\r\n%s\r\n" % (len(value), value)
    for i in range(0, len(frame), 10000):
        conn.send(frame[i : i + 10000])
    assert conn.recv_exact(4) == b":1\r\n"
    conn.send(b"HGET h f\r\n")
    header = b"$%d\r\n" % len(value)
    assert conn.recv_exact(len(header) + len(value) + 2) == header + value + b"\r\n"


def test_quit_replies_ok_then_closes(raw) -> None:
    conn: Raw = raw()
    conn.send(b"QUIT\r\nPING\r\n")
    assert conn.read_for(0.5) == b"+OK\r\n<EOF>"


def test_select_is_per_connection(raw) -> None:
    a: Raw = raw()
    b: Raw = raw()
    assert a.roundtrip(b"SELECT 3\r\nHSET h f 1\r\n", b"+OK\r\n:1\r\n") == b"+OK\r\n:1\r\n"
    assert b.roundtrip(b"HGET h f\r\n", b"$-1\r\n") == b"$-1\r\n"
    assert b.roundtrip(b"SELECT 3\r\nHGET h f\r\n", b"+OK\r\n$1\r\n1\r\n") == b"+OK\r\n$1\r\n1\r\n"


def test_multi_exec_over_the_wire(raw) -> None:
    conn: Raw = raw()
    expected = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n"
    assert conn.roundtrip(b"MULTI\r\nSADD s a\r\nHSET h f v\r\nEXEC\r\n", expected) == expected


def test_multi_exec_in_one_read_of_multibulk_requests(raw) -> None:
    # The hot path runs these requests itself: the commands after MULTI must still be queued.
    conn: Raw = raw()
    requests = [[b"multi"], [b"SADD", b"s", b"a"], [b"Hset", b"h", b"f", b"v"], [b"EXEC"], [b"SCARD", b"s"]]
    payload = b"".join(b"*%d\r\n" % len(r) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in r) for r in requests)
    expected = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n:1\r\n"
    assert conn.roundtrip(payload, expected) == expected


@pytest.mark.parametrize("value", [b"a\r\n+b", b"\n=x", b"\n*1234567", b"+\n+"])
def test_values_shaped_like_protocol_items(raw, value: bytes) -> None:
    # Such bytes inside a bulk string send the read to the exact parser, which must run it all the same.
    conn: Raw = raw()
    frame = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" % (len(value), value)
    expected = b"+OK\r\n$%d\r\n%s\r\n" % (len(value), value)
    assert conn.roundtrip(frame, expected) == expected


def test_resp3_replies(raw) -> None:
    conn: Raw = raw()
    conn.send(b"HELLO 3\r\n")
    conn.read_for(0.2)
    assert conn.roundtrip(b"HGET nope f\r\n", b"_\r\n") == b"_\r\n"
    assert conn.roundtrip(b"HSET h a 1\r\nHGETALL h\r\n", b":1\r\n%1\r\n$1\r\na\r\n$1\r\n1\r\n") == (
        b":1\r\n%1\r\n$1\r\na\r\n$1\r\n1\r\n")


def test_encode_values() -> None:
    assert encode(b"ab") == b"$2\r\nab\r\n"
    assert encode(OK) == b"+OK\r\n"
    assert encode(SimpleString(b"a\r\nb")) == b"+a  b\r\n"
    assert encode(-5) == b":-5\r\n"
    assert encode(None) == b"$-1\r\n"
    assert encode(None, 3) == b"_\r\n"
    assert encode(NULL_ARRAY) == b"*-1\r\n"
    assert encode(NULL_ARRAY, 3) == b"_\r\n"
    assert encode([b"a", 1, None, [b"b"]]) == b"*4\r\n$1\r\na\r\n:1\r\n$-1\r\n*1\r\n$1\r\nb\r\n"
    assert encode(ReplyError("ERR bad\nthing")) == b"-ERR bad thing\r\n"
    assert encode({b"a": 1.5}, 3) == b"%1\r\n$1\r\na\r\n,1.5\r\n"
    assert encode({b"a": 1}, 2) == b"*2\r\n$1\r\na\r\n:1\r\n"
    assert encode(float("inf"), 3) == b",inf\r\n"
    assert encode(True, 3) == b"#t\r\n"
    assert encode(False, 2) == b":0\r\n"
    assert encode(SetReply([b"x"]), 3) == b"~1\r\n$1\r\nx\r\n"
    assert encode(SetReply([b"x"]), 2) == b"*1\r\n$1\r\nx\r\n"
    assert encode(VerbatimReply(b"hi"), 3) == b"=6\r\ntxt:hi\r\n"
    assert encode(Push([b"message", b"c", b"m"]), 3) == b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"
    assert encode(Push([b"message", b"c", b"m"]), 2) == b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"


def test_split_args_like_sdssplitargs() -> None:
    assert split_args(b'  set "a b" \'c\\\'d\' "\\x41\\n" x"y z"') == [b"set", b"a b", b"c'd", b"A\n", b"xy z"]
    assert split_args(b'"unterminated') is None
    assert split_args(b'"a"b') is None
    assert split_args(b"") == []


def test_request_parser_keeps_state_across_reads() -> None:
    parser = RequestParser()
    parser.feed(b"*2\r\n$4\r\nECHO\r\n$5\r\nhel")
    assert parser.next_command() is None
    parser.feed(b"lo\r\n")
    assert parser.next_command() == [b"ECHO", b"hello"]
    assert parser.idle
    parser.feed(b"*1\r\n$99999999999\r\n")
    with pytest.raises(ProtocolError):
        parser.next_command()


def test_pipelined_writes_in_one_read_reach_the_append_only_file(tmp_path) -> None:
    # With a propagator listening, writes leave the hot path while reads stay on it: all are logged in order.
    from redpocket.server import Server

    with Server(port=0, dir=str(tmp_path), appendonly="yes", appendfsync="always").run_in_thread() as server:
        conn = Raw(server.port)
        payload = b"".join(
            b"*3\r\n$3\r\nSET\r\n$2\r\nk%d\r\n$1\r\n%d\r\n*2\r\n$3\r\nGET\r\n$2\r\nk%d\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"
            % (i, i, i) for i in range(10))
        expected = b"".join(b"+OK\r\n$1\r\n%d\r\n:%d\r\n" % (i, i + 1) for i in range(10))
        assert conn.roundtrip(payload, expected) == expected
        conn.close()
    with Server(port=0, dir=str(tmp_path), appendonly="yes").run_in_thread() as server:
        conn = Raw(server.port)
        expected = b"*11\r\n" + b"".join(b"$1\r\n%d\r\n" % i for i in range(10)) + b"$2\r\n10\r\n"
        assert conn.roundtrip(b"MGET " + b" ".join(b"k%d" % i for i in range(10)) + b" n\r\n", expected) == expected
        conn.close()
