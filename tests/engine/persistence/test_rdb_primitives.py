"""The RDB primitives on their own: CRC-64, LZF, lengths, strings, listpacks, intsets, ziplists, zipmaps."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.rdb_values import crc64_jones

from redpocket.engine.persistence.rdb_listpack import (
    build_intset,
    build_listpack,
    parse_intset,
    parse_listpack,
    parse_ziplist,
    parse_zipmap,
)
from redpocket.engine.persistence.rdb_primitives import (
    RdbFormatError,
    Reader,
    crc64,
    encode_length,
    encode_string,
    lzf_compress,
    lzf_decompress,
)


def test_crc64_check_value_and_continuation() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA  # Redis's crc64 test vector
    data = os.urandom(70_001)  # past the threshold of the interleaved computation
    assert crc64(data) == crc64_jones(data)
    assert crc64(data[30_000:], crc64(data[:30_000])) == crc64(data)


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), st.builds(lambda unit, count: unit * count,
                                                          st.binary(min_size=1, max_size=5), st.integers(1, 400))))
def test_lzf_round_trips(data: bytes) -> None:
    compressed = lzf_compress(data, len(data) + len(data) // 16 + 64)
    assert compressed is not None or not data
    if compressed is not None:
        assert lzf_decompress(compressed, len(data)) == data
        assert lzf_decompress(compressed, len(data) + 1) is None


def test_lzf_refuses_bad_input() -> None:
    assert lzf_decompress(b"\x05abc", 6) is None  # a literal run past the end of the input
    assert lzf_decompress(b"\x00a\x20\x05", 4) is None  # a back-reference before the start
    assert lzf_compress(bytes(range(100)), 96) is None  # incompressible within the limit


@pytest.mark.parametrize("length", [0, 63, 64, 16383, 16384, 2**32 - 1, 2**32])
def test_lengths_round_trip(length: int) -> None:
    encoded = encode_length(length)
    reader = Reader(encoded)
    assert reader.read_length() == length and reader.pos == len(encoded)


@pytest.mark.parametrize("value", [b"", b"0", b"-1", b"127", b"-32768", b"2147483647", b"2147483648", b"012",
                                   b"x" * 30, bytes(range(256)) * 3, b"ab" * 500])
def test_strings_round_trip(value: bytes) -> None:
    encoded = encode_string(value)
    reader = Reader(encoded)
    assert reader.read_string() == value and reader.pos == len(encoded)


def test_cut_strings_name_the_offset() -> None:
    encoded = b"\x00" + encode_string(b"hello world")
    with pytest.raises(RdbFormatError) as raised:
        Reader(encoded[:-3], 1).read_string()
    assert raised.value.offset == 2


@settings(max_examples=100, deadline=None)
@given(items=st.lists(st.one_of(st.binary(max_size=70), st.integers(-(2**63), 2**63 - 1).map(lambda n: b"%d" % n),
                                st.binary(min_size=4000, max_size=4200)), max_size=30))
def test_listpacks_round_trip(items: list[bytes]) -> None:
    assert parse_listpack(build_listpack(items)) == items


def test_intsets_round_trip_and_refuse_bad_widths() -> None:
    values = [5, -3, 70_000, -(2**40)]
    assert parse_intset(build_intset(values)) == [b"%d" % v for v in sorted(values)]
    with pytest.raises(RdbFormatError):
        parse_intset(b"\x03\x00\x00\x00\x00\x00\x00\x00")


def _ziplist(entries: list[bytes]) -> bytes:
    """Build a ziplist by the Redis 6 rules (strings, and the integer encodings)."""
    body = b""
    previous = 0
    tail = 10
    for entry in entries:
        tail = 10 + len(body)
        prevlen = bytes([previous]) if previous < 254 else b"\xfe" + previous.to_bytes(4, "little")
        if entry.lstrip(b"-").isdigit():
            number = int(entry)
            if 0 <= number <= 12:
                encoded = bytes([0xF1 + number])
            elif -128 <= number <= 127:
                encoded = b"\xfe" + number.to_bytes(1, "little", signed=True)
            else:
                encoded = b"\xe0" + number.to_bytes(8, "little", signed=True)
        else:
            encoded = bytes([len(entry)]) + entry if len(entry) < 64 else b"\x80" + len(entry).to_bytes(4, "big") + entry
        previous = len(prevlen) + len(encoded)
        body += prevlen + encoded
    total = 10 + len(body) + 1
    return total.to_bytes(4, "little") + tail.to_bytes(4, "little") + len(entries).to_bytes(2, "little") + body + b"\xff"


def test_ziplists_and_zipmaps_of_older_files_parse() -> None:
    entries = [b"a", b"7", b"-100", b"123456789012", b"x" * 300]
    assert parse_ziplist(_ziplist(entries)) == entries
    with pytest.raises(RdbFormatError):
        parse_ziplist(_ziplist(entries)[:-1] + b"\x00")
    zipmap = b"\x02" + b"\x03foo\x03\x00bar" + b"\x01k\x02\x01vv\x00" + b"\xff"  # one free byte after "vv"
    assert parse_zipmap(zipmap) == [b"foo", b"bar", b"k", b"vv"]


def test_older_value_encodings_load_as_redis_server_loads_them(tmp_path, open_engine) -> None:
    """An RDB 9 file with the encodings Redis 6 and older wrote: both servers read the same values from it."""
    from tests.conftest import start_redis_server
    from tests.engine.rdb_values import read_back

    def string(value: bytes) -> bytes:
        return encode_length(len(value)) + value

    zipped_hash = _ziplist([b"f1", b"v1", b"f2", b"12"])
    body = b"".join([
        b"\xfe\x00",
        b"\x0d" + string(b"hash-ziplist") + string(zipped_hash),
        b"\x0e" + string(b"list-quicklist") + encode_length(2) + string(_ziplist([b"a", b"1"])) + string(_ziplist([b"b"])),
        b"\x0a" + string(b"list-ziplist") + string(_ziplist([b"x", b"-100"])),
        b"\x01" + string(b"list-plain") + encode_length(2) + string(b"p") + string(b"q"),
        b"\x0c" + string(b"zset-ziplist") + string(_ziplist([b"m", b"1.5", b"n", b"3"])),
        b"\x03" + string(b"zset-text") + encode_length(2) + string(b"m") + b"\x031.5" + string(b"n") + b"\xfe",
        b"\x04" + string(b"hash-plain") + encode_length(1) + string(b"f") + string(b"v"),
        b"\x02" + string(b"set-plain") + encode_length(2) + string(b"a") + string(b"b"),
        b"\x09" + string(b"hash-zipmap") + string(b"\x01\x03foo\x03\x00bar\xff"),
        b"\xfd\xff\xff\xff\x7f" + b"\x00" + string(b"old-expire") + string(b"v"),  # EXPIRETIME in seconds (2038)
        b"\xff",
    ])
    data = b"REDIS0009" + body
    data += crc64(data).to_bytes(8, "little")
    (tmp_path / "dump.rdb").write_bytes(data)
    server = start_redis_server(tmp_path)
    try:
        real = server.client()
        keys = sorted(key.decode() for key in real.keys("*"))
        assert len(keys) == 10
        _engine, r = open_engine(appendonly=False)
        assert {key: read_back(r, key) for key in keys} == {key: read_back(real, key) for key in keys}
        assert r.expiretime("old-expire") == real.expiretime("old-expire") == 2**31 - 1
        assert r.zscore("zset-text", "n") == float("inf")
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
