"""Geo commands on both backends, and differential runs against redis-server compared byte for byte.

The byte-level comparison sends the same RESP requests to a redpocket
server and to redis-server over raw sockets (RESP2, and RESP3 after
``HELLO 3``) and compares the reply bytes; the embedded comparison checks
the in-process client's parsed replies against redis-server's.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import SERVER_SETTINGS, RedisServer
from tests.helpers import run

from redpocket.engine import Engine
from redpocket.engine.types import geohash
from redpocket.server import Server

EXAMPLES = int(os.environ.get("REDPOCKET_DIFF_EXAMPLES", "1000")) // 4 or 1


def raw_client(make_client: Callable[..., redis.Redis], protocol: int) -> redis.Redis:
    """Return a client of ``protocol`` without redis-py's response callbacks (replies keep their wire shape)."""
    client = make_client(protocol=protocol)
    client.response_callbacks.clear()
    return client


@pytest.fixture
def r2(make_client: Callable[..., redis.Redis]) -> redis.Redis:
    return raw_client(make_client, 2)


@pytest.fixture
def r3(make_client: Callable[..., redis.Redis]) -> redis.Redis:
    return raw_client(make_client, 3)


def sicily(client: redis.Redis) -> None:
    client.execute_command("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")


# -- GEOADD ------------------------------------------------------------------------------


def test_geoadd_stores_52_bit_geohashes_as_scores(r2: redis.Redis) -> None:
    assert r2.execute_command("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo",
                              "15.087269", "37.502669", "Catania") == 2
    assert r2.execute_command("ZRANGE", "Sicily", 0, -1, "WITHSCORES") == [
        b"Palermo", b"3479099956230698", b"Catania", b"3479447370796909"]
    assert r2.execute_command("TYPE", "Sicily") == b"zset"


def test_geoadd_at_the_limits_of_the_ranges(r2: redis.Redis) -> None:
    # A latitude of exactly 85.05112878 or a longitude of 180 overflows into bit 52/53, as in Redis.
    assert r2.execute_command("GEOADD", "g", "180", "85.05112878", "ne", "-180", "-85.05112878", "sw") == 2
    assert r2.execute_command("ZSCORE", "g", "ne") == b"13510798882111488"
    assert r2.execute_command("ZSCORE", "g", "sw") == b"0"
    assert r2.execute_command("GEOPOS", "g", "ne", "sw") == [
        [b"180", b"85.0511287799999991"], [b"-179.99999731779098511", b"-85.05112751263942528"]]


def test_geoadd_nx_xx_ch(r2: redis.Redis) -> None:
    assert r2.execute_command("GEOADD", "g", "XX", "1", "1", "a") == 0
    assert r2.exists("g") == 0
    assert r2.execute_command("GEOADD", "g", "NX", "1", "1", "a", "2", "2", "b") == 2
    assert r2.execute_command("GEOADD", "g", "NX", "5", "5", "a", "3", "3", "c") == 1
    assert r2.execute_command("GEOADD", "g", "CH", "XX", "6", "6", "a", "4", "4", "d") == 1
    assert r2.execute_command("GEOADD", "g", "ch", "6", "6", "a", "7", "7", "b", "8", "8", "e") == 2
    assert r2.execute_command("ZCARD", "g") == 4


def test_geoadd_errors(r2: redis.Redis) -> None:
    assert run(r2, "GEOADD", "g", "1", "2") == ("error", "wrong number of arguments for 'geoadd' command")
    assert run(r2, "GEOADD", "g", "1", "2", "m", "3") == ("error", "syntax error")
    assert run(r2, "GEOADD", "g", "NX", "XX", "1", "2", "m") == ("error", "syntax error")
    assert run(r2, "GEOADD", "g", "GT", "1", "2", "m") == ("error", "syntax error")
    assert run(r2, "GEOADD", "g", "x", "2", "m") == ("error", "value is not a valid float")
    assert run(r2, "GEOADD", "g", "200", "10", "m") == ("error", "invalid longitude,latitude pair 200.000000,10.000000")
    assert run(r2, "GEOADD", "g", "10", "-86", "m") == ("error", "invalid longitude,latitude pair 10.000000,-86.000000")
    assert run(r2, "GEOADD", "g", "1", "2", "ok", "inf", "1", "m") == ("error", "invalid longitude,latitude pair inf,1.000000")
    assert r2.exists("g") == 0  # the whole command failed
    r2.set("s", "v")
    assert run(r2, "GEOADD", "s", "1", "2", "m") == ("error", "WRONGTYPE Operation against a key holding the wrong kind of value")


# -- GEOPOS GEOHASH GEODIST ---------------------------------------------------------


def test_geopos_geohash_geodist(r2: redis.Redis) -> None:
    sicily(r2)
    assert r2.execute_command("GEOPOS", "Sicily", "Palermo", "nope", "Catania") == [
        [b"13.36138933897018433", b"38.11555639549629859"], None,
        [b"15.08726745843887329", b"37.50266842333162032"]]
    assert r2.execute_command("GEOHASH", "Sicily", "Palermo", "Catania", "nope") == [b"sqc8b49rny0", b"sqdtr74hyu0", None]
    assert r2.execute_command("GEODIST", "Sicily", "Palermo", "Catania") == b"166274.1516"
    assert r2.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "KM") == b"166.2742"
    assert r2.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "mi") == b"103.3182"
    assert r2.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "ft") == b"545518.8700"
    assert r2.execute_command("GEODIST", "Sicily", "Palermo", "Palermo") == b"0.0000"
    assert r2.execute_command("GEODIST", "Sicily", "Palermo", "nope") is None
    assert r2.execute_command("GEODIST", "nokey", "a", "b") is None
    assert r2.execute_command("GEOPOS", "nokey", "a") == [None]
    assert r2.execute_command("GEOHASH", "nokey", "a", "b") == [None, None]
    assert run(r2, "GEODIST", "Sicily", "Palermo", "Catania", "yd") == (
        "error", "unsupported unit provided. please use M, KM, FT, MI")
    assert run(r2, "GEODIST", "Sicily", "Palermo", "Catania", "km", "x") == ("error", "syntax error")


def test_geopos_of_scores_that_are_not_geohashes(r2: redis.Redis) -> None:
    # Any score decodes, as C's (uint64_t) cast of the double reads it.
    r2.execute_command("ZADD", "z", "-1", "neg", "1.5", "frac", "1e300", "huge", "inf", "inf", "-inf", "ninf")
    reply = r2.execute_command("GEOPOS", "z", "neg", "frac", "huge", "inf", "ninf")
    assert reply == [[b"180", b"85.0511287799999991"], [b"-179.99999731779098511", b"-85.05112497791824921"],
                     [b"-179.99999731779098511", b"-85.05112751263942528"],
                     [b"-179.99999731779098511", b"-85.05112751263942528"],
                     [b"180", b"-85.05112751263942528"]]


def test_resp3_coordinates_are_doubles_and_distances_strings(r3: redis.Redis) -> None:
    sicily(r3)
    assert r3.execute_command("GEOPOS", "Sicily", "Palermo", "nope") == [[13.361389338970184, 38.1155563954963], None]
    assert r3.execute_command("GEODIST", "Sicily", "Palermo", "Catania", "km") == b"166.2742"
    assert r3.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "ASC") == [
        [b"Catania", b"56.4413", [15.087267458438873, 37.50266842333162]],
        [b"Palermo", b"190.4424", [13.361389338970184, 38.1155563954963]]]


# -- GEORADIUS GEORADIUSBYMEMBER GEOSEARCH -------------------------------------------------------


def test_georadius_options(r2: redis.Redis) -> None:
    sicily(r2)
    assert r2.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH") == [
        [b"Palermo", b"190.4424", 3479099956230698, [b"13.36138933897018433", b"38.11555639549629859"]],
        [b"Catania", b"56.4413", 3479447370796909, [b"15.08726745843887329", b"37.50266842333162032"]]]
    assert r2.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "DESC") == [b"Palermo", b"Catania"]
    assert r2.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1") == [b"Catania"]
    assert r2.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "ANY") == [b"Palermo"]
    assert r2.execute_command("GEORADIUS", "Sicily", "15", "37", "100", "km") == [b"Catania"]
    assert r2.execute_command("GEORADIUS", "Sicily", "15", "37", "1", "m") == []
    assert r2.execute_command("GEORADIUS_RO", "Sicily", "15", "37", "200", "KM", "ASC") == [b"Catania", b"Palermo"]
    assert r2.execute_command("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "WITHDIST", "ASC") == [
        [b"Palermo", b"0.0000"], [b"Catania", b"166.2742"]]
    assert r2.execute_command("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "100", "mi") == [b"Palermo"]
    assert r2.execute_command("GEORADIUS", "nokey", "15", "37", "200", "km") == []
    assert r2.execute_command("GEORADIUSBYMEMBER", "nokey", "x", "bad", "unit") == []


def test_georadius_store_and_storedist(r2: redis.Redis) -> None:
    sicily(r2)
    assert r2.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "dst") == 2
    assert r2.execute_command("ZRANGE", "dst", 0, -1, "WITHSCORES") == [
        b"Palermo", b"3479099956230698", b"Catania", b"3479447370796909"]
    assert r2.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "dst") == 2
    assert r2.execute_command("ZRANGE", "dst", 0, -1, "WITHSCORES") == [
        b"Catania", b"56.441257870158204", b"Palermo", b"190.44242984775784"]
    assert r2.execute_command("GEORADIUSBYMEMBER", "Sicily", "Palermo", "10", "km", "COUNT", "5", "STORE", "dst") == 1
    assert r2.execute_command("ZRANGE", "dst", 0, -1) == [b"Palermo"]
    # Nothing found (or no source): the destination is deleted.
    assert r2.execute_command("GEORADIUS", "Sicily", "0", "0", "1", "km", "STORE", "dst") == 0
    assert r2.exists("dst") == 0
    r2.execute_command("SET", "dst", "x")
    assert r2.execute_command("GEORADIUS", "nokey", "0", "0", "1", "km", "STORE", "dst") == 0
    assert r2.exists("dst") == 0


def test_georadius_errors(r2: redis.Redis) -> None:
    sicily(r2)
    cases = [
        (("GEORADIUS", "Sicily", "15", "37", "200", "yd"), "unsupported unit provided. please use M, KM, FT, MI"),
        (("GEORADIUS", "Sicily", "15", "37", "x", "km"), "need numeric radius"),
        (("GEORADIUS", "Sicily", "15", "37", "-1", "km"), "radius cannot be negative"),
        (("GEORADIUS", "Sicily", "190", "37", "1", "km"), "invalid longitude,latitude pair 190.000000,37.000000"),
        (("GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "0"), "COUNT must be > 0"),
        (("GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "x"), "value is not an integer or out of range"),
        (("GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT"), "syntax error"),
        (("GEORADIUS", "Sicily", "15", "37", "1", "km", "ANY"), "the ANY argument requires COUNT argument"),
        (("GEORADIUS", "Sicily", "15", "37", "1", "km", "WITHDIST", "STORE", "d"),
         "STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        (("GEORADIUS_RO", "Sicily", "15", "37", "1", "km", "STORE", "d"), "syntax error"),
        (("GEORADIUS", "Sicily", "15", "37", "1", "km", "FROMMEMBER", "Palermo"), "syntax error"),
        (("GEORADIUSBYMEMBER", "Sicily", "nope", "1", "km"), "could not decode requested zset member"),
    ]
    for command, message in cases:
        assert run(r2, *command) == ("error", message), command


def test_geosearch_by_radius_and_box(r2: redis.Redis) -> None:
    sicily(r2)
    r2.execute_command("GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2")
    assert r2.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC") == [
        b"Catania", b"Palermo"]
    assert r2.execute_command("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km",
                              "ASC", "WITHCOORD", "WITHDIST") == [
        [b"Catania", b"56.4413", [b"15.08726745843887329", b"37.50266842333162032"]],
        [b"Palermo", b"190.4424", [b"13.36138933897018433", b"38.11555639549629859"]],
        [b"edge2", b"279.7403", [b"17.24151045083999634", b"38.78813451624225195"]],
        [b"edge1", b"279.7405", [b"12.7584877610206604", b"38.78813451624225195"]]]
    assert r2.execute_command("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "100", "100", "km") == [b"Palermo"]
    assert r2.execute_command("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "400", "km",
                              "DESC", "COUNT", "2", "WITHHASH") == [[b"edge2", 3481342659049484], [b"Catania", 3479447370796909]]
    assert r2.execute_command("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km") == []


def test_geosearch_errors(r2: redis.Redis) -> None:
    sicily(r2)
    cases = [
        (("GEOSEARCH", "Sicily", "BYRADIUS", "1", "km", "ASC", "FROMLONLAT"), "syntax error"),
        (("geosearch", "Sicily", "BYRADIUS", "1", "km", "ASC", "DESC"), "exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "ASC", "WITHDIST"), "exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"), "syntax error"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"), "syntax error"),
        (("GEOSEARCH", "Sicily", "FROMMEMBER", "nope", "BYRADIUS", "1", "km"), "could not decode requested zset member"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "x", "1", "km"), "need numeric width"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "x", "km"), "need numeric height"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "-1", "km"), "height or width cannot be negative"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "STORE", "x"), "syntax error"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "STOREDIST"), "syntax error"),
        (("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "WITHDIST"),
         "GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
    ]
    for command, message in cases:
        assert run(r2, *command) == ("error", message), command


def test_geosearchstore(r2: redis.Redis) -> None:
    sicily(r2)
    assert r2.execute_command("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km",
                              "ASC", "COUNT", "1") == 1
    assert r2.execute_command("ZRANGE", "d", 0, -1, "WITHSCORES") == [b"Catania", b"3479447370796909"]
    assert r2.execute_command("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
                              "STOREDIST") == 2
    assert r2.execute_command("ZRANGE", "d", 0, -1, "WITHSCORES") == [
        b"Catania", b"56.441257870158204", b"Palermo", b"190.44242984775784"]
    r2.expire("d", 100)
    assert r2.execute_command("GEOSEARCHSTORE", "d", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "m") == 1
    assert r2.ttl("d") == -1  # the destination is replaced, TTL and all
    assert r2.execute_command("GEOSEARCHSTORE", "d", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "m") == 0
    assert r2.exists("d") == 0


def test_searches_across_the_antimeridian_and_near_the_poles(r2: redis.Redis) -> None:
    r2.execute_command("GEOADD", "g", "179.9", "0", "east", "-179.9", "0", "west", "0", "85", "north",
                       "180", "85.05", "corner", "-180", "-85.05112878", "south")
    # Redis's boxes around a centre on the antimeridian do not all wrap: "west" is missed here, as there.
    assert r2.execute_command("GEORADIUS", "g", "180", "0", "50", "km", "ASC", "WITHDIST") == [[b"east", b"11.1227"]]
    assert r2.execute_command("GEOSEARCH", "g", "FROMLONLAT", "-180", "0", "BYBOX", "40", "40", "km", "ASC") == [
        b"east", b"west"]
    assert r2.execute_command("GEORADIUSBYMEMBER", "g", "east", "30", "km", "WITHDIST") == [
        [b"east", b"0.0000"], [b"west", b"22.2454"]]
    assert r2.execute_command("GEORADIUS", "g", "90", "85", "1000", "km", "ASC") == [b"north"]
    assert r2.execute_command("GEORADIUSBYMEMBER", "g", "south", "1", "km") == [b"south"]


# -- keyspace events, command table -------------------------------------------------------


def _events(pubsub: Any) -> list[tuple[bytes, bytes]]:
    found = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.05)
        if message is None:
            if found:
                break
            continue
        if message["type"] == "pmessage":
            found.append((message["channel"], message["data"]))
    return found


def test_keyspace_events(make_client: Callable[..., redis.Redis]) -> None:
    r = make_client()
    r.config_set("notify-keyspace-events", "KEzg")
    pubsub = make_client().pubsub()
    pubsub.psubscribe("__keyevent@0__:*")
    pubsub.get_message(timeout=1)
    sicily(r)
    r.execute_command("GEOADD", "Sicily", "NX", "13.361389", "38.115556", "Palermo")  # no change: no event
    r.execute_command("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d1")
    r.execute_command("GEOSEARCHSTORE", "d2", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km")
    r.execute_command("GEOSEARCHSTORE", "d2", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km")
    events = _events(pubsub)
    pubsub.close()
    assert events == [(b"__keyevent@0__:zadd", b"Sicily"), (b"__keyevent@0__:georadiusstore", b"d1"),
                      (b"__keyevent@0__:geosearchstore", b"d2"), (b"__keyevent@0__:del", b"d2")]


def test_command_table_entries(r2: redis.Redis) -> None:
    assert r2.execute_command("COMMAND", "GETKEYS", "GEORADIUS", "src", "1", "2", "3", "km", "STORE", "a",
                              "STOREDIST", "b", "STORE", "c") == [b"src", b"a", b"b"]
    assert r2.execute_command("COMMAND", "GETKEYS", "GEOSEARCHSTORE", "dst", "src", "FROMMEMBER", "m",
                              "BYRADIUS", "1", "km") == [b"dst", b"src"]
    info = r2.execute_command("COMMAND", "INFO", "georadius", "geosearch", "geoadd")
    assert [entry[:6] for entry in info] == [
        [b"georadius", -6, [b"write", b"denyoom", b"movablekeys"], 1, 1, 1],
        [b"geosearch", -7, [b"readonly"], 1, 1, 1],
        [b"geoadd", -5, [b"write", b"denyoom"], 1, 1, 1]]


# -- the math, against values Redis computed -------------------------------------------------


def test_geohash_helpers() -> None:
    assert geohash.format_distance(0.00004) == b"0.0000"
    assert geohash.format_distance(0.5 / 10000 + 1e-12) == b"0.0001"
    assert geohash.format_distance(-0.0007) == b"-0.0007"
    assert geohash.format_distance(1234.56789) == b"1234.5679"
    assert geohash.format_distance(float("nan")) == b"-922337203685477.5808"
    assert geohash.double_to_uint64(-1.0) == 2**64 - 1
    assert geohash.double_to_uint64(2.0**64) == 0
    assert geohash.interleave64(0xFFFFFFFF, 0) == 0x5555555555555555
    assert geohash.deinterleave64(0xAAAAAAAAAAAAAAAA) == (0, 0xFFFFFFFF)


# -- differential: random coordinates over the whole range, byte for byte ----------------------

MEMBERS = [b"m%d" % i for i in range(12)]
member = st.sampled_from(MEMBERS)
edge_longitudes = [b"180", b"-180", b"0", b"-0", b"179.99999", b"-179.99999", b"179.5", b"-179.5", b"0.0000001", b"90"]
edge_latitudes = [b"85.05112878", b"-85.05112878", b"0", b"85.05", b"-85.05", b"85.0511287", b"-85.0511287", b"80.5",
                  b"-66.5", b"1e-10"]
longitude = st.one_of(st.sampled_from(edge_longitudes),
                      st.floats(-180, 180, allow_nan=False).map(lambda value: repr(value).encode()))
latitude = st.one_of(st.sampled_from(edge_latitudes),
                     st.floats(geohash.LAT_MIN, geohash.LAT_MAX, allow_nan=False).map(lambda value: repr(value).encode()))
bad_coordinate = st.sampled_from([b"180.0000001", b"-85.06", b"x", b"inf", b"1e400", b" 1", b""])
radius = st.one_of(st.sampled_from([b"0", b"1", b"10", b"500", b"5000", b"20000", b"1e6", b"2e7", b"1e9", b"-1", b"x", b"inf"]),
                   st.floats(0, 25_000_000, allow_nan=False).map(lambda value: repr(value).encode()))
unit = st.sampled_from([b"m", b"km", b"ft", b"mi", b"KM", b"Mi", b"yd"])
key = st.sampled_from([b"g", b"g2", b"str"])
store_key = st.sampled_from([b"dst", b"g2", b"str"])
search_options = st.lists(st.sampled_from([
    [b"WITHDIST"], [b"WITHCOORD"], [b"WITHHASH"], [b"ASC"], [b"DESC"], [b"COUNT", b"1"], [b"COUNT", b"3"],
    [b"COUNT", b"3", b"ANY"], [b"COUNT", b"0"], [b"ANY"]]), max_size=4).map(lambda groups: [a for g in groups for a in g])


def cmd(*parts: Any) -> st.SearchStrategy[list[bytes]]:
    """Build a strategy for one command from fixed words, strategies and lists of arguments."""
    strategies = [st.just([p]) if isinstance(p, bytes) else p.map(lambda v: v if isinstance(v, list) else [v]) for p in parts]
    return st.tuples(*strategies).map(lambda chunks: [arg for chunk in chunks for arg in chunk])


# Positions clustered around a few centres (the poles, the antimeridian, the origin), so searches find
# many members, equal distances included (COUNT then goes through Redis's partial quicksort).
CENTRES = [(179.9, 0.0), (-179.9, 0.0), (0.0, 85.0), (0.0, -85.0), (0.0, 0.0), (13.36, 38.11)]
near = st.tuples(st.sampled_from(CENTRES), st.sampled_from([0.0, 0.0, 0.001, 0.05, 0.3, 2.0]),
                 st.integers(-3, 3), st.integers(-3, 3)).map(
    lambda t: [repr(max(-180.0, min(180.0, t[0][0] + t[1] * t[2]))).encode(),
               repr(max(geohash.LAT_MIN, min(geohash.LAT_MAX, t[0][1] + t[1] * t[3]))).encode()])
position = st.one_of(st.tuples(longitude, latitude).map(list), near, near,
                     st.tuples(bad_coordinate, latitude).map(list), st.tuples(longitude, bad_coordinate).map(list))
origin = st.one_of(cmd(b"FROMLONLAT", position), cmd(b"FROMMEMBER", member))
area = st.one_of(cmd(b"BYRADIUS", radius, unit), cmd(b"BYBOX", radius, radius, unit))
GEO_COMMANDS = st.one_of(
    cmd(b"GEOADD", key, st.sampled_from([[], [b"NX"], [b"XX"], [b"CH"], [b"NX", b"CH"]]),
        st.lists(cmd(position, member), min_size=1, max_size=6).map(lambda groups: [a for g in groups for a in g])),
    cmd(b"GEOADD", b"g", st.lists(cmd(longitude, latitude, member), min_size=1, max_size=6)
        .map(lambda groups: [a for g in groups for a in g])),
    cmd(b"ZADD", b"g", st.sampled_from([b"-1", b"1.5", b"4503599627370495", b"4503599627370496", b"1e300", b"inf"]), member),
    cmd(b"GEOPOS", key, member, member), cmd(b"GEOHASH", key, member, member),
    cmd(b"GEODIST", key, member, member, st.sampled_from([[], [b"km"], [b"ft"], [b"mi"], [b"M"], [b"x"]])),
    cmd(st.sampled_from([b"GEORADIUS", b"GEORADIUS_RO"]), key, position, radius, unit, search_options),
    cmd(st.sampled_from([b"GEORADIUSBYMEMBER", b"GEORADIUSBYMEMBER_RO"]), key, member, radius, unit, search_options),
    cmd(b"GEORADIUS", key, position, radius, unit, st.sampled_from([b"STORE", b"STOREDIST"]), store_key,
        st.sampled_from([[], [b"COUNT", b"2"], [b"DESC"]])),
    cmd(b"GEOSEARCH", key, origin, area, search_options),
    cmd(b"GEOSEARCHSTORE", store_key, key, origin, area, st.sampled_from([[], [b"STOREDIST"], [b"COUNT", b"2", b"DESC"]])),
    cmd(b"ZRANGE", store_key, b"0", b"-1", b"WITHSCORES"),
)


def resp_request(argv: list[bytes]) -> bytes:
    """Encode one request."""
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in argv)


class RawConnection:
    """A socket that sends requests and returns each reply's exact bytes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def _line(self, start: int) -> int:
        while True:
            end = self.buffer.find(b"\r\n", start)
            if end >= 0:
                return end
            self._fill()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buffer += chunk

    def _skip(self, start: int) -> int:
        """Return the offset just after the reply that starts at ``start``."""
        while len(self.buffer) <= start:
            self._fill()
        end = self._line(start)
        kind, header = self.buffer[start:start + 1], self.buffer[start + 1:end]
        position = end + 2
        if kind in b"$=!" and header != b"-1":
            position += int(header) + 2
            while len(self.buffer) < position:
                self._fill()
        elif kind in b"*~>" and header != b"-1":
            for _ in range(int(header)):
                position = self._skip(position)
        elif kind in b"%|":
            for _ in range(2 * int(header)):
                position = self._skip(position)
        return position

    def command(self, argv: list[bytes]) -> bytes:
        """Send one request and return its reply's bytes."""
        self.sock.sendall(resp_request(argv))
        end = self._skip(0)
        reply, self.buffer = self.buffer[:end], self.buffer[end:]
        return reply

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def pocket() -> Iterator[Server]:
    """One redpocket server for the module, configured as the real server is."""
    with Server(port=0, engine=Engine(config=SERVER_SETTINGS)).run_in_thread() as server:
        yield server


@pytest.fixture
def raw_pair(pocket: Server, redis_server: RedisServer) -> Iterator[Callable[[int], tuple[RawConnection, RawConnection]]]:
    """Return (redpocket, redis-server) raw connections speaking ``protocol``, made once per test."""
    made: dict[int, tuple[RawConnection, RawConnection]] = {}

    def make(protocol: int) -> tuple[RawConnection, RawConnection]:
        if protocol not in made:
            pair = (RawConnection(pocket.port), RawConnection(redis_server.port))
            if protocol == 3:
                for connection in pair:
                    connection.command([b"HELLO", b"3"])
            made[protocol] = pair
        return made[protocol]

    yield make
    for pair in made.values():
        for connection in pair:
            connection.close()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", [2, 3])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=bool(os.environ.get("CI")))
@given(commands=st.lists(GEO_COMMANDS, min_size=1, max_size=30))
def test_random_geo_commands_are_byte_identical(
    raw_pair: Callable[[int], tuple[RawConnection, RawConnection]], protocol: int, commands: list[list[bytes]]
) -> None:
    ours, real = raw_pair(protocol)
    for connection in (ours, real):
        connection.command([b"FLUSHALL"])
        connection.command([b"SET", b"str", b"x"])
    for argv in commands:
        expected = real.command(argv)
        got = ours.command(argv)
        assert got == expected, f"{argv!r}: redpocket {got!r} != redis {expected!r}"


@pytest.mark.slow
@pytest.mark.parametrize("protocol", [2, 3])
@settings(max_examples=max(EXAMPLES // 3, 1), deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=bool(os.environ.get("CI")))
@given(commands=st.lists(GEO_COMMANDS, min_size=1, max_size=20))
def test_random_geo_commands_match_on_the_embedded_client(pair: Any, protocol: int, commands: list[list[bytes]]) -> None:
    embedded, real = pair(protocol=protocol)
    for client in (embedded, real):
        client.response_callbacks.clear()
        client.flushall()
        client.set("str", "x")
    for argv in commands:
        expected = run(real, *argv)
        got = run(embedded, *argv)
        assert got == expected, f"{argv!r}: embedded {got!r} != redis {expected!r}"


def test_geo_replies_inside_scripts(r2: redis.Redis) -> None:
    sicily(r2)
    assert r2.execute_command("EVAL", "return redis.call('GEOPOS', KEYS[1], 'Palermo', 'x')", 1, "Sicily") == [
        [b"13.36138933897018433", b"38.11555639549629859"], None]
    script = ("redis.setresp(3); local p = redis.call('GEOPOS', KEYS[1], 'Palermo', 'x'); "
              "return {type(p[1][1]), tostring(p[1][1]['double']), type(p[2])}")
    assert r2.execute_command("EVAL", script, 1, "Sicily") == [b"table", b"13.36138933897", b"nil"]
