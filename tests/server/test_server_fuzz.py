"""Hostile input: thousands of random and mutated RESP frames never crash the server nor touch stored data."""

from __future__ import annotations

import socket

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

VALID = [
    b"*1\r\n$4\r\nPING\r\n",
    b"*3\r\n$4\r\nHSET\r\n$4\r\nfuzz\r\n$1\r\nf\r\n",
    b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n",
    b"PING\r\n",
    b"*4\r\n$4\r\nSADD\r\n$2\r\nfz\r\n$1\r\na\r\n$1\r\nb\r\n",
    b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    frame = bytearray(b"".join(draw(st.lists(st.sampled_from(VALID), min_size=1, max_size=4))))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "digits", "truncate"]))
        position = draw(st.integers(0, max(len(frame) - 1, 0)))
        if kind == "flip" and frame:
            frame[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            frame[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and frame:
            del frame[position]
        elif kind == "digits":
            frame[position:position] = draw(st.sampled_from([b"9999999999", b"-5", b"2147483648", b"0", b"*", b"$"]))
        elif kind == "truncate":
            del frame[position:]
    return bytes(frame)


FRAMES = st.one_of(mutated(), st.binary(max_size=64))


def _blast(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        try:
            sock.sendall(payload)
            sock.settimeout(0.02)
            while sock.recv(65536):
                pass
        except OSError:
            pass


def test_random_and_mutated_frames(server) -> None:
    client = redis.Redis(port=server.port, db=5)
    client.hset("kept", mapping={"a": "1", "b": "2"})

    @settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(FRAMES, min_size=1, max_size=3))
    def blast(payloads: list[bytes]) -> None:
        _blast(server.port, b"".join(payloads))

    blast()
    assert client.ping() is True
    assert client.hgetall("kept") == {b"a": b"1", b"b": b"2"}
    assert len(server.connections) <= 2
