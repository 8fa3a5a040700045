"""The RDB building blocks: CRC-64, lengths, strings, LZF, checked against redis-server's own payloads."""

from __future__ import annotations

import pytest
import redis

from redpocket.engine.persistence.rdb_primitives import (
    RdbFormatError,
    RdbReader,
    add_footer,
    check_footer,
    crc64,
    encode_length,
    encode_string,
    lzf_decompress,
)


def test_crc64_check_value() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64(b"6789", crc64(b"12345")) == crc64(b"123456789")


@pytest.mark.parametrize("length", [0, 1, 63, 64, 16383, 16384, 2**32 - 1, 2**32])
def test_lengths_round_trip(length: int) -> None:
    reader = RdbReader(encode_length(length))
    assert reader.read_length() == (length, False)
    assert reader.remaining() == 0


def test_redis_dump_payloads_decode(redis_server) -> None:
    client: redis.Redis = redis_server.client()
    values = [b"", b"x", b"12", b"-128", b"32767", b"-2147483648", b"a" * 100, b"abc" * 1000, bytes(range(256)) * 3]
    for index, value in enumerate(values):
        key = f"rdb-primitive-{index}"
        client.set(key, value)
        payload = client.dump(key)
        client.delete(key)
        assert check_footer(payload) is not None
        reader = RdbReader(payload, 0, len(payload) - 10)
        assert reader.read_type() == 0  # RDB_TYPE_STRING
        assert reader.read_string() == value
        assert reader.remaining() == 0
        ours = add_footer(b"\x00" + encode_string(value))
        assert client.restore(key, 0, ours)
        assert client.get(key) == value
        client.delete(key)


def test_damage_is_detected() -> None:
    payload = add_footer(b"\x00" + encode_string(b"hello"))
    assert check_footer(payload) == 10
    assert check_footer(payload[:-1] + b"\x00") is None
    assert check_footer(add_footer(b"", version=11)) is None
    assert check_footer(b"short") is None
    with pytest.raises(RdbFormatError):
        RdbReader(encode_string(b"hello")[:-1]).read_string()
    with pytest.raises(RdbFormatError):
        lzf_decompress(b"\x20\x00", 3)  # a back reference before any output
    with pytest.raises(RdbFormatError):
        lzf_decompress(b"\x01ab", 3)  # expands to fewer bytes than stated
