"""Geo commands: GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEOSEARCH ... (Redis's geo.c).

A geo key is a sorted set whose scores are 52-bit geohashes
(:mod:`redpocket.engine.types.geohash` holds the math): GEOADD is ZADD with
the score computed from the position, and every other sorted set command
works on a geo key.  The searches parse their options in one loop, left to
right, exactly as ``georadiusGeneric`` does, so the same malformed request
gets the same error at the same point.

Replies follow Redis 7.0 byte for byte: distances are bulk strings with 4
decimals (``fixedpoint_d2string``) in both protocols; coordinates are
``%.17Lf`` with trailing zeros trimmed, bulk strings under RESP2 and
doubles under RESP3 (:class:`~redpocket.engine.replies.HumanDouble`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ..args import to_float, to_int
from ..registry import define
from ..replies import NULL_ARRAY, SYNTAX, HumanDouble, ReplyError
from ..types.geohash import (
    LAT_MAX,
    LAT_MIN,
    LONG_MAX,
    LONG_MIN,
    UNITS,
    GeoPoint,
    Shape,
    decode_score,
    distance,
    double_to_int64,
    format_distance,
    geohash_string,
    score_of,
    search,
    sort_points,
)
from ..types.zset import ZSet, fits_listpack
from .sortedsets import zadd

if TYPE_CHECKING:
    from ..session import Session

GROUP: Final = "geo"

UNSUPPORTED_UNIT: Final = "ERR unsupported unit provided. please use M, KM, FT, MI"
UNKNOWN_MEMBER: Final = "ERR could not decode requested zset member"


# -- arguments --------------------------------------------------------------------


def parse_position(longitude: bytes, latitude: bytes) -> tuple[float, float]:
    """Parse a ``longitude latitude`` pair and check it is inside Redis's ranges (``extractLongLatOrReply``)."""
    lon = to_float(longitude)
    lat = to_float(latitude)
    if lon < LONG_MIN or lon > LONG_MAX or lat < LAT_MIN or lat > LAT_MAX:
        raise ReplyError("ERR invalid longitude,latitude pair %f,%f" % (lon, lat))
    return lon, lat


def parse_unit(unit: bytes) -> float:
    """Return the size of ``m``, ``km``, ``ft`` or ``mi`` in meters (any case)."""
    meters = UNITS.get(unit.lower())
    if meters is None:
        raise ReplyError(UNSUPPORTED_UNIT)
    return meters


def _parse_radius(radius: bytes, unit: bytes) -> tuple[float, float]:
    """Parse ``radius unit`` (``extractDistanceOrReply``): ``(radius, meters per unit)``."""
    value = to_float(radius, "ERR need numeric radius")
    if value < 0:
        raise ReplyError("ERR radius cannot be negative")
    return value, parse_unit(unit)


def _parse_box(width: bytes, height: bytes, unit: bytes) -> tuple[float, float, float]:
    """Parse ``width height unit`` (``extractBoxOrReply``): ``(width, height, meters per unit)``."""
    width_value = to_float(width, "ERR need numeric width")
    height_value = to_float(height, "ERR need numeric height")
    if height_value < 0 or width_value < 0:
        raise ReplyError("ERR height or width cannot be negative")
    return width_value, height_value, parse_unit(unit)


def format_human(value: float) -> bytes:
    """Format like Redis's ``LD_STR_HUMAN`` (``%.17Lf``, no trailing zeros) for a coordinate, always finite."""
    text = (b"%.17f" % value).rstrip(b"0").rstrip(b".")
    return b"0" if text == b"-0" else text


def coordinate_reply(protocol: int, value: float) -> Any:
    """Return a coordinate as ``addReplyHumanLongDouble``: a bulk string (RESP2) or a double (RESP3)."""
    text = format_human(value)
    return HumanDouble(text) if protocol == 3 else text


def _position_of(zset: ZSet, member: bytes) -> tuple[float, float]:
    """Return the position of ``member``, or raise Redis's error for a missing one."""
    score = zset.scores.get(member)
    if score is None:
        raise ReplyError(UNKNOWN_MEMBER)
    return decode_score(score)


def _keyword_key(argv: list[bytes], keyword: bytes, start: int) -> list[bytes]:
    """Return the key after the first ``keyword`` from ``start`` on (a key spec's keyword search)."""
    for index in range(start, len(argv) - 1):
        if argv[index].upper() == keyword:
            return [argv[index + 1]]
    return []


def radius_keys(start: int) -> Callable[[list[bytes]], list[bytes]]:
    """Return the key finder of GEORADIUS[BYMEMBER]: the source, then the STORE and STOREDIST keys.

    As Redis 7.0's key specifications find them: the first ``STORE`` and the
    first ``STOREDIST`` from argument ``start`` on, each followed by its key.
    """

    def find(argv: list[bytes]) -> list[bytes]:
        return [argv[1], *_keyword_key(argv, b"STORE", start), *_keyword_key(argv, b"STOREDIST", start)]

    return find


# -- GEOADD GEODIST GEOHASH GEOPOS ----------------------------------------------------


@define("geoadd", -5, "write denyoom", 1, 1, 1, group=GROUP, since="3.2.0")
def geoadd(session: Session, argv: list[bytes]) -> Any:
    """GEOADD key [NX|XX] [CH] longitude latitude member [longitude latitude member ...]"""
    first = 2
    nx = xx = False
    while first < len(argv):
        option = argv[first].lower()
        if option == b"nx":
            nx = True
        elif option == b"xx":
            xx = True
        elif option != b"ch":
            break
        first += 1
    if (len(argv) - first) % 3 or (nx and xx):
        raise ReplyError(SYNTAX)
    # Redis rewrites the command into ZADD with the geohashes as scores and runs ZADD.
    zadd_argv = [b"zadd", *argv[1:first]]
    for index in range(first, len(argv), 3):
        longitude, latitude = parse_position(argv[index], argv[index + 1])
        zadd_argv += [b"%d" % score_of(longitude, latitude), argv[index + 2]]
    return zadd(session, zadd_argv)  # (which announces its zadd event, as Redis's does for GEOADD)


@define("geodist", -4, "readonly", 1, 1, 1, group=GROUP, since="3.2.0")
def geodist(session: Session, argv: list[bytes]) -> Any:
    """GEODIST key member1 member2 [M|KM|FT|MI]"""
    to_meters = 1.0
    if len(argv) == 5:
        to_meters = parse_unit(argv[4])
    elif len(argv) > 5:
        raise ReplyError(SYNTAX)
    zset = session.db.lookup_read(argv[1], ZSet)
    if zset is None:
        return None
    first = zset.scores.get(argv[2])
    second = zset.scores.get(argv[3])
    if first is None or second is None:
        return None
    return format_distance(distance(*decode_score(first), *decode_score(second)) / to_meters)


@define("geohash", -2, "readonly", 1, 1, 1, group=GROUP, since="3.2.0")
def geohash(session: Session, argv: list[bytes]) -> Any:
    """GEOHASH key [member ...]"""
    zset = session.db.lookup_read(argv[1], ZSet)
    scores = {} if zset is None else zset.scores
    reply: list[Any] = []
    for member in argv[2:]:
        score = scores.get(member)
        reply.append(None if score is None else geohash_string(score))
    return reply


@define("geopos", -2, "readonly", 1, 1, 1, group=GROUP, since="3.2.0")
def geopos(session: Session, argv: list[bytes]) -> Any:
    """GEOPOS key [member ...]"""
    zset = session.db.lookup_read(argv[1], ZSet)
    scores = {} if zset is None else zset.scores
    protocol = session.protocol
    reply: list[Any] = []
    for member in argv[2:]:
        score = scores.get(member)
        if score is None:
            reply.append(NULL_ARRAY)
        else:
            longitude, latitude = decode_score(score)
            reply.append([coordinate_reply(protocol, longitude), coordinate_reply(protocol, latitude)])
    return reply


# -- the searches ----------------------------------------------------------------------

_BY_COORDINATES, _BY_MEMBER, _NO_STORE, _GEOSEARCH, _GEOSEARCHSTORE = 1, 2, 4, 8, 16


def _search(session: Session, argv: list[bytes], source_index: int, flags: int) -> Any:
    """Run one geo search: Redis's ``georadiusGeneric``, option by option in the same order."""
    db = session.db
    zset = db.lookup_read(argv[source_index], ZSet)
    argc = len(argv)
    longitude = latitude = 0.0
    radius = width = height = 0.0
    conversion = 0.0
    box = False
    store_key: bytes | None = None
    store_distance = False
    if flags & _BY_COORDINATES:
        base = 6
        longitude, latitude = parse_position(argv[2], argv[3])
        radius, conversion = _parse_radius(argv[4], argv[5])
    elif flags & _BY_MEMBER:
        base = 5
        if zset is not None:
            longitude, latitude = _position_of(zset, argv[2])
            radius, conversion = _parse_radius(argv[3], argv[4])
    else:
        base = 2
        if flags & _GEOSEARCHSTORE:
            base = 3
            store_key = argv[1]
    with_distance = with_hash = with_coordinates = False
    from_member = from_position = by_radius = by_box = False
    order = 0  # 0: as found, 1: ascending, 2: descending
    any_match = False
    count = 0
    remaining = argc - base
    i = 0
    while i < remaining:
        option = argv[base + i].lower()
        can_store = not flags & (_NO_STORE | _GEOSEARCH)
        if option == b"withdist":
            with_distance = True
        elif option == b"withhash":
            with_hash = True
        elif option == b"withcoord":
            with_coordinates = True
        elif option == b"any":
            any_match = True
        elif option == b"asc":
            order = 1
        elif option == b"desc":
            order = 2
        elif option == b"count" and i + 1 < remaining:
            count = to_int(argv[base + i + 1])
            if count <= 0:
                raise ReplyError("ERR COUNT must be > 0")
            i += 1
        elif option in (b"store", b"storedist") and i + 1 < remaining and can_store:
            store_key = argv[base + i + 1]
            store_distance = option == b"storedist"
            i += 1
        elif option == b"storedist" and flags & _GEOSEARCH and flags & _GEOSEARCHSTORE:
            store_distance = True
        elif option == b"frommember" and i + 1 < remaining and flags & _GEOSEARCH and not from_position:
            if zset is not None:
                longitude, latitude = _position_of(zset, argv[base + i + 1])
            from_member = True
            i += 1
        elif option == b"fromlonlat" and i + 2 < remaining and flags & _GEOSEARCH and not from_member:
            longitude, latitude = parse_position(argv[base + i + 1], argv[base + i + 2])
            from_position = True
            i += 2
        elif option == b"byradius" and i + 2 < remaining and flags & _GEOSEARCH and not by_box:
            radius, conversion = _parse_radius(argv[base + i + 1], argv[base + i + 2])
            box = False
            by_radius = True
            i += 2
        elif option == b"bybox" and i + 3 < remaining and flags & _GEOSEARCH and not by_radius:
            width, height, conversion = _parse_box(argv[base + i + 1], argv[base + i + 2], argv[base + i + 3])
            box = True
            by_box = True
            i += 3
        else:
            raise ReplyError(SYNTAX)
        i += 1

    if store_key is not None and (with_distance or with_hash or with_coordinates):
        what = "GEOSEARCHSTORE" if flags & _GEOSEARCHSTORE else "STORE option in GEORADIUS"
        raise ReplyError(f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    name = argv[0].decode("utf-8", "surrogateescape")
    if flags & _GEOSEARCH and not (from_member or from_position):
        raise ReplyError(f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")
    if flags & _GEOSEARCH and not (by_radius or by_box):
        raise ReplyError(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if any_match and not count:
        raise ReplyError("ERR the ANY argument requires COUNT argument")

    if zset is None:
        if store_key is None:
            return []
        if db.delete(store_key):
            db.notify("g", b"del", store_key)
        return 0
    if count and not order and not any_match:
        order = 1  # the nearest COUNT: sort even when no order was asked

    shape = Shape(longitude, latitude, conversion, radius=radius, width=width, height=height, box=box)
    points = search(zset, shape, count if any_match else 0)
    if not points and store_key is None:
        return []
    returned = len(points) if not count or len(points) < count else count
    if order:
        points = sort_points(points, order == 2, returned)
    points = points[:returned]
    if store_key is None:
        return _results_reply(session.protocol, points, conversion, with_distance, with_hash, with_coordinates)
    return _store_results(session, store_key, points, conversion, store_distance, flags)


def _results_reply(protocol: int, points: list[GeoPoint], conversion: float,
                   with_distance: bool, with_hash: bool, with_coordinates: bool) -> list[Any]:
    """Return search results: members, or ``[member, dist?, hash?, [lon, lat]?]`` entries."""
    if not (with_distance or with_hash or with_coordinates):
        return [point.member for point in points]
    reply: list[Any] = []
    for point in points:
        entry: list[Any] = [point.member]
        if with_distance:
            entry.append(format_distance(point.distance / conversion))
        if with_hash:
            entry.append(double_to_int64(point.score))
        if with_coordinates:
            entry.append([coordinate_reply(protocol, point.longitude), coordinate_reply(protocol, point.latitude)])
        reply.append(entry)
    return reply


def _store_results(session: Session, key: bytes, points: list[GeoPoint], conversion: float,
                   store_distance: bool, flags: int) -> int:
    """Store search results at ``key`` as a sorted set (scores: geohashes or distances); return how many."""
    db = session.db
    if not points:
        if db.delete(key):
            db.notify("g", b"del", key)
        return 0
    result = ZSet((point.member, point.distance / conversion if store_distance else point.score) for point in points)
    result.skiplist = not fits_listpack(result, session.engine.config)
    db.set(key, result)
    db.notify("z", b"geosearchstore" if flags & _GEOSEARCH else b"georadiusstore", key)
    return len(points)


@define("georadius", -6, "write denyoom", 1, 1, 1, keys=radius_keys(6), group=GROUP, since="3.2.0")
def georadius(session: Session, argv: list[bytes]) -> Any:
    """GEORADIUS key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]"""
    return _search(session, argv, 1, _BY_COORDINATES)


@define("georadius_ro", -6, "readonly", 1, 1, 1, group=GROUP, since="3.2.10")
def georadius_ro(session: Session, argv: list[bytes]) -> Any:
    """GEORADIUS_RO key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]"""
    return _search(session, argv, 1, _BY_COORDINATES | _NO_STORE)


@define("georadiusbymember", -5, "write denyoom", 1, 1, 1, keys=radius_keys(5), group=GROUP, since="3.2.0")
def georadiusbymember(session: Session, argv: list[bytes]) -> Any:
    """GEORADIUSBYMEMBER key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]"""
    return _search(session, argv, 1, _BY_MEMBER)


@define("georadiusbymember_ro", -5, "readonly", 1, 1, 1, group=GROUP, since="3.2.10")
def georadiusbymember_ro(session: Session, argv: list[bytes]) -> Any:
    """GEORADIUSBYMEMBER_RO key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]"""
    return _search(session, argv, 1, _BY_MEMBER | _NO_STORE)


@define("geosearch", -7, "readonly", 1, 1, 1, group=GROUP, since="6.2.0")
def geosearch(session: Session, argv: list[bytes]) -> Any:
    """GEOSEARCH key FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius unit|BYBOX width height unit [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]"""
    return _search(session, argv, 1, _GEOSEARCH)


@define("geosearchstore", -8, "write denyoom", 1, 2, 1, group=GROUP, since="6.2.0")
def geosearchstore(session: Session, argv: list[bytes]) -> Any:
    """GEOSEARCHSTORE destination source FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius unit|BYBOX width height unit [ASC|DESC] [COUNT count [ANY]] [STOREDIST]"""
    return _search(session, argv, 2, _GEOSEARCH | _GEOSEARCHSTORE)
