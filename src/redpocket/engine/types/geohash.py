"""Geohashes as Redis computes them: 52-bit scores, the 9-box search, haversine distances.

A geo key is a plain sorted set whose scores are 52-bit geohashes: the
longitude and latitude, each scaled to 26 bits over Redis's ranges
(``-180..180`` and ``-85.05112878..85.05112878``, the Web Mercator limits),
interleaved (latitude in the even bits, longitude in the odd ones).  Every
other sorted set command sees an ordinary sorted set.

This module reproduces ``geohash.c``, ``geohash_helper.c`` and the search
half of ``geo.c`` operation for operation, in the same order of floating
point operations, so positions, distances and search results are the
same doubles redis-server computes (its libm is ours: Python's ``math``
calls the C library).  The quirks are kept on purpose: a latitude of exactly
``85.05112878`` sets bit 52, a score that is not a geohash decodes as C's
``(uint64_t)`` cast of the double would, the neighbour boxes wrap around
the antimeridian, results are sorted by glibc's merge sort (or Redis's own
partial quicksort when ``COUNT`` cuts them), and distances print through
Redis's ``fixedpoint_d2string``.

No argv parsing here: the command half is :mod:`redpocket.engine.commands.geo`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .zset import ZSet

LONG_MIN: Final = -180.0
LONG_MAX: Final = 180.0
LAT_MIN: Final = -85.05112878
LAT_MAX: Final = 85.05112878
STEP_MAX: Final = 26  # 26 bits per coordinate, 52 in all
EARTH_RADIUS_IN_METERS: Final = 6372797.560856
MERCATOR_MAX: Final = 20037726.37
_D_R: Final = math.pi / 180.0

# (min, max) of each coordinate: Redis's geo ranges, and the standard ones GEOHASH re-encodes with.
Range = tuple[float, float]
WGS84_LONG: Final[Range] = (LONG_MIN, LONG_MAX)
WGS84_LAT: Final[Range] = (LAT_MIN, LAT_MAX)
STANDARD_LAT: Final[Range] = (-90.0, 90.0)

UNITS: Final[dict[bytes, float]] = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}
GEOHASH_ALPHABET: Final = b"0123456789bcdefghjkmnpqrstuvwxyz"

_U64: Final = (1 << 64) - 1
_TWO63: Final = 9.223372036854775808e18
_INT64_MIN: Final = -(1 << 63)


# -- bits -------------------------------------------------------------------------


def interleave64(even: int, odd: int) -> int:
    """Interleave two 32-bit values: ``even``'s bits in the even positions, ``odd``'s in the odd ones."""
    x, y = even & 0xFFFFFFFF, odd & 0xFFFFFFFF
    for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F),
                        (2, 0x3333333333333333), (1, 0x5555555555555555)):
        x = (x | (x << shift)) & mask
        y = (y | (y << shift)) & mask
    return x | (y << 1)


def deinterleave64(bits: int) -> tuple[int, int]:
    """Undo :func:`interleave64` on a 64-bit value: return ``(even bits, odd bits)``."""
    x, y = bits & _U64, (bits & _U64) >> 1
    for shift, mask in ((0, 0x5555555555555555), (1, 0x3333333333333333), (2, 0x0F0F0F0F0F0F0F0F),
                        (4, 0x00FF00FF00FF00FF), (8, 0x0000FFFF0000FFFF), (16, 0x00000000FFFFFFFF)):
        x = (x | (x >> shift)) & mask
        y = (y | (y >> shift)) & mask
    return x, y


def _cvttsd2si(value: float) -> int:
    """Convert a double to a signed 64-bit integer as x86's truncating conversion does."""
    if value != value or not -_TWO63 <= value < _TWO63:
        return _INT64_MIN
    return int(value)


def double_to_uint64(value: float) -> int:
    """Return C's ``(uint64_t)value`` as gcc compiles it on x86-64 (out-of-range values wrap as there)."""
    if value >= _TWO63:
        return (_cvttsd2si(value - _TWO63) ^ (1 << 63)) & _U64
    return _cvttsd2si(value) & _U64


def double_to_int64(value: float) -> int:
    """Return C's ``(long long)value`` on x86-64 (``INT64_MIN`` when out of range)."""
    return _cvttsd2si(value)


# -- encoding and decoding -------------------------------------------------------------


def encode(longitude: float, latitude: float, step: int,
           long_range: Range = WGS84_LONG, lat_range: Range = WGS84_LAT) -> int | None:
    """Return the ``2 * step``-bit geohash of a position (``geohashEncode``), or ``None`` outside the ranges."""
    if (longitude > LONG_MAX or longitude < LONG_MIN or latitude > LAT_MAX or latitude < LAT_MIN
            or latitude < lat_range[0] or latitude > lat_range[1]
            or longitude < long_range[0] or longitude > long_range[1]):
        return None
    lat_offset = (latitude - lat_range[0]) / (lat_range[1] - lat_range[0])
    long_offset = (longitude - long_range[0]) / (long_range[1] - long_range[0])
    scale = float(1 << step)
    return interleave64(int(lat_offset * scale), int(long_offset * scale))


def score_of(longitude: float, latitude: float) -> int:
    """Return the sorted set score GEOADD stores for a valid position: its 52-bit geohash."""
    bits = encode(longitude, latitude, STEP_MAX)
    assert bits is not None, "the caller validates the position"
    return bits


@dataclass(frozen=True, slots=True)
class Area:
    """The cell of a geohash: its longitude and latitude intervals."""

    long_min: float
    long_max: float
    lat_min: float
    lat_max: float


def decode(bits: int, step: int, long_range: Range = WGS84_LONG, lat_range: Range = WGS84_LAT) -> Area:
    """Return the cell of a ``2 * step``-bit geohash (``geohashDecode``)."""
    lat_bits, long_bits = deinterleave64(bits)
    lat_scale = lat_range[1] - lat_range[0]
    long_scale = long_range[1] - long_range[0]
    cells = 1 << step
    return Area(
        long_range[0] + (long_bits * 1.0 / cells) * long_scale,
        long_range[0] + (((long_bits + 1) & 0xFFFFFFFF) * 1.0 / cells) * long_scale,  # uint32 arithmetic
        lat_range[0] + (lat_bits * 1.0 / cells) * lat_scale,
        lat_range[0] + (((lat_bits + 1) & 0xFFFFFFFF) * 1.0 / cells) * lat_scale,
    )


def _clamp(value: float, low: float, high: float) -> float:
    if value > high:
        return high
    if value < low:
        return low
    return value


def decode_score(score: float) -> tuple[float, float]:
    """Return the ``(longitude, latitude)`` a sorted set score stands for: its cell's centre, clamped.

    Any score decodes, as in Redis: the double is cast to a 64-bit integer and
    read as a 26-step hash, whatever it holds.
    """
    area = decode(double_to_uint64(score), STEP_MAX)
    longitude = _clamp((area.long_min + area.long_max) / 2, LONG_MIN, LONG_MAX)
    latitude = _clamp((area.lat_min + area.lat_max) / 2, LAT_MIN, LAT_MAX)
    return longitude, latitude


def geohash_string(score: float) -> bytes:
    """Return GEOHASH's 11-character standard geohash of a score (re-encoded over latitudes ``-90..90``)."""
    longitude, latitude = decode_score(score)
    bits = encode(longitude, latitude, STEP_MAX, WGS84_LONG, STANDARD_LAT)
    assert bits is not None
    chars = bytearray(GEOHASH_ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F] for i in range(10))
    chars.append(GEOHASH_ALPHABET[0])  # 52 bits make 10 characters and a bit: Redis pads with '0'
    return bytes(chars)


# -- distances ----------------------------------------------------------------------


def _nan_safe(function: Callable[[float], float], value: float) -> float:
    """Call a math function, returning NaN where C's libm would (Python raises instead)."""
    try:
        return function(value)
    except ValueError:
        return math.nan


def latitude_distance(lat1: float, lat2: float) -> float:
    """Return the distance in meters between two latitudes on one meridian (``geohashGetLatDistance``)."""
    return EARTH_RADIUS_IN_METERS * abs(lat2 * _D_R - lat1 * _D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Return the haversine distance in meters between two positions (``geohashGetDistance``)."""
    lon1r = lon1 * _D_R
    lon2r = lon2 * _D_R
    try:
        v = math.sin((lon2r - lon1r) / 2)
        if v == 0.0:
            return latitude_distance(lat1, lat2)
        lat1r = lat1 * _D_R
        lat2r = lat2 * _D_R
        u = math.sin((lat2r - lat1r) / 2)
        a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
        return 2.0 * EARTH_RADIUS_IN_METERS * math.asin(math.sqrt(a))
    except ValueError:  # a domain error: C gives NaN and goes on
        v = _nan_safe(math.sin, (lon2r - lon1r) / 2)
        if v == 0.0:
            return latitude_distance(lat1, lat2)
        lat1r = lat1 * _D_R
        lat2r = lat2 * _D_R
        u = _nan_safe(math.sin, (lat2r - lat1r) / 2)
        a = u * u + _nan_safe(math.cos, lat1r) * _nan_safe(math.cos, lat2r) * v * v
        return 2.0 * EARTH_RADIUS_IN_METERS * _nan_safe(math.asin, _nan_safe(math.sqrt, a))


def format_distance(value: float) -> bytes:
    """Format a distance with 4 decimals as Redis's ``fixedpoint_d2string`` (``llrint`` rounding)."""
    if value == 0:
        return b"0.0000"
    scaled = value * 10000.0
    if scaled != scaled or not -_TWO63 <= scaled < _TWO63:
        units = _INT64_MIN  # llrint of a value it cannot represent, on x86
    else:
        units = round(scaled)  # round half to even, as llrint in the default rounding mode
    sign = b"-" if units < 0 else b""
    whole, fraction = divmod(abs(units), 10000)
    return b"%s%d.%04d" % (sign, whole, fraction)


# -- the search area -----------------------------------------------------------------


@dataclass(slots=True)
class Shape:
    """A search area: a circle (``radius``) or a box (``width`` x ``height``) around a centre.

    Sizes are in the request's unit; ``conversion`` is that unit in meters.
    """

    longitude: float
    latitude: float
    conversion: float
    radius: float = 0.0
    width: float = 0.0
    height: float = 0.0
    box: bool = False

    def bounds(self) -> tuple[float, float, float, float]:
        """Return ``(min_lon, min_lat, max_lon, max_lat)`` of the area (``geohashBoundingBox``)."""
        longitude, latitude = self.longitude, self.latitude
        height = self.conversion * (self.height / 2 if self.box else self.radius)
        width = self.conversion * (self.width / 2 if self.box else self.radius)
        lat_delta = (height / EARTH_RADIUS_IN_METERS) / _D_R
        long_delta_top = (width / EARTH_RADIUS_IN_METERS / _nan_safe(math.cos, (latitude + lat_delta) * _D_R)) / _D_R
        long_delta_bottom = (width / EARTH_RADIUS_IN_METERS / _nan_safe(math.cos, (latitude - lat_delta) * _D_R)) / _D_R
        long_delta = long_delta_bottom if latitude < 0 else long_delta_top
        return longitude - long_delta, latitude - lat_delta, longitude + long_delta, latitude + lat_delta

    def radius_meters(self) -> float:
        """Return the radius, or the half diagonal of the box, in meters."""
        if self.box:
            half_width, half_height = self.width / 2, self.height / 2
            return math.sqrt(half_width * half_width + half_height * half_height) * self.conversion
        return self.radius * self.conversion

    def locate(self, score: float) -> tuple[float, float, float] | None:
        """Return ``(longitude, latitude, distance in meters)`` of a score inside the area, else ``None``."""
        longitude, latitude = decode_score(score)
        if self.box:
            width = self.width * self.conversion
            height = self.height * self.conversion
            if latitude_distance(latitude, self.latitude) > height / 2:
                return None
            if distance(longitude, latitude, self.longitude, latitude) > width / 2:
                return None
            return longitude, latitude, distance(self.longitude, self.latitude, longitude, latitude)
        meters = distance(self.longitude, self.latitude, longitude, latitude)
        if meters > self.radius * self.conversion:
            return None
        return longitude, latitude, meters


def estimate_step(range_meters: float, latitude: float) -> int:
    """Return the geohash precision of the 9 boxes covering a radius (``geohashEstimateStepsByRadius``)."""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if latitude > 66 or latitude < -66:
        step -= 1
        if latitude > 80 or latitude < -80:
            step -= 1
    return min(max(step, 1), 26)


def _move_x(bits: int, step: int, direction: int) -> int:
    """Move a hash one cell east (``1``) or west (``-1``), wrapping around (``0``: stay)."""
    if direction == 0:
        return bits
    x = bits & 0xAAAAAAAAAAAAAAAA
    y = bits & 0x5555555555555555
    zz = 0x5555555555555555 >> (64 - step * 2)
    if direction > 0:
        x = x + (zz + 1)
    else:
        x = ((x | zz) - (zz + 1)) & _U64
    x &= 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
    return x | y


def _move_y(bits: int, step: int, direction: int) -> int:
    """Move a hash one cell north (``1``) or south (``-1``), wrapping around (``0``: stay)."""
    if direction == 0:
        return bits
    x = bits & 0xAAAAAAAAAAAAAAAA
    y = bits & 0x5555555555555555
    zz = 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
    if direction > 0:
        y = y + (zz + 1)
    else:
        y = ((y | zz) - (zz + 1)) & _U64
    y &= 0x5555555555555555 >> (64 - step * 2)
    return x | y


# The neighbours in the order geo.c searches them (after the centre box): (east-west, north-south).
_NEIGHBOURS: Final = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))


def search_boxes(shape: Shape) -> tuple[int, list[int | None]]:
    """Return the step and the 9 hashes to scan: the centre's box then its neighbours (``None``: skipped).

    ``geohashCalculateAreasByShapeWGS84``: the step comes from the radius, is
    lowered once when a neighbour does not reach the area's edge, and the
    neighbours that lie wholly outside the bounding box are dropped.
    """
    min_lon, min_lat, max_lon, max_lat = shape.bounds()
    longitude, latitude = shape.longitude, shape.latitude
    step = estimate_step(shape.radius_meters(), latitude)
    centre = encode(longitude, latitude, step)
    assert centre is not None, "the centre is a valid position"

    def neighbour(bits: int, east: int, north: int) -> int:
        return _move_y(_move_x(bits, step, east), step, north)

    north = decode(neighbour(centre, 0, 1), step)
    south = decode(neighbour(centre, 0, -1), step)
    east = decode(neighbour(centre, 1, 0), step)
    west = decode(neighbour(centre, -1, 0), step)
    if step > 1 and (north.lat_max < max_lat or south.lat_min > min_lat
                     or east.long_max < max_lon or west.long_min > min_lon):
        step -= 1
        centre = encode(longitude, latitude, step)
        assert centre is not None
    boxes: list[int | None] = [centre, *(neighbour(centre, dx, dy) for dx, dy in _NEIGHBOURS)]
    if step >= 2:
        area = decode(centre, step)
        dropped: set[tuple[int, int]] = set()
        if area.lat_min < min_lat:
            dropped |= {(0, -1), (-1, -1), (1, -1)}
        if area.lat_max > max_lat:
            dropped |= {(0, 1), (1, 1), (-1, 1)}
        if area.long_min < min_lon:
            dropped |= {(-1, 0), (-1, -1), (-1, 1)}
        if area.long_max > max_lon:
            dropped |= {(1, 0), (1, -1), (1, 1)}
        for index, offset in enumerate(_NEIGHBOURS, 1):
            if offset in dropped:
                boxes[index] = None
    return step, boxes


@dataclass(slots=True)
class GeoPoint:
    """One search result: the member, its decoded position, its distance (meters) and its score."""

    member: bytes
    longitude: float
    latitude: float
    distance: float
    score: float


def search(zset: ZSet, shape: Shape, limit: int = 0) -> list[GeoPoint]:
    """Return the members inside ``shape``, box by box in Redis's order; stop at ``limit`` (``ANY``)."""
    step, boxes = search_boxes(shape)
    shift = 52 - step * 2
    found: list[GeoPoint] = []
    ordered = zset.ordered
    last_processed = 0
    for index, bits in enumerate(boxes):
        if bits is None:
            continue
        # Adjacent boxes can be the same cell for huge radii: Redis skips a repeat of the previous one.
        if last_processed and bits == boxes[last_processed]:
            continue
        if found and limit and len(found) >= limit:
            break
        low, high = zset.score_interval(float(bits << shift), False, float((bits + 1) << shift), True)
        for position in range(low, high):
            score, member = ordered[position]
            located = shape.locate(score)
            if located is not None:
                found.append(GeoPoint(member, located[0], located[1], located[2], score))
            if found and limit and len(found) >= limit:
                break
        last_processed = index
    return found


# -- sorting as Redis does ---------------------------------------------------------------


def _compare(a: GeoPoint, b: GeoPoint) -> int:
    """Redis's ``sort_gp_asc``: 1, 0 or -1 (NaN compares as smaller both ways, as in C)."""
    if a.distance > b.distance:
        return 1
    if a.distance == b.distance:
        return 0
    return -1


def _merge_sort(points: list[GeoPoint], compare: Callable[[GeoPoint, GeoPoint], int]) -> list[GeoPoint]:
    """Sort as glibc's ``qsort`` (a top-down merge sort), which matters only for inconsistent comparisons."""
    if len(points) <= 1:
        return points
    half = len(points) // 2
    left = _merge_sort(points[:half], compare)
    right = _merge_sort(points[half:], compare)
    merged: list[GeoPoint] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if compare(left[i], right[j]) <= 0:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    merged.extend(left[i:])
    merged.extend(right[j:])
    return merged


def _partial_sort(items: list[GeoPoint], compare: Callable[[GeoPoint, GeoPoint], int], last: int) -> None:
    """Sort ``items`` in place enough that ranks ``0..last`` are right: Redis's ``pqsort`` (Bentley-McIlroy)."""

    def swap(i: int, j: int) -> None:
        items[i], items[j] = items[j], items[i]

    def vecswap(i: int, j: int, count: int) -> None:
        for offset in range(count):
            swap(i + offset, j + offset)

    def med3(a: int, b: int, c: int) -> int:
        if compare(items[a], items[b]) < 0:
            if compare(items[b], items[c]) < 0:
                return b
            return c if compare(items[a], items[c]) < 0 else a
        if compare(items[b], items[c]) > 0:
            return b
        return a if compare(items[a], items[c]) < 0 else c

    def sort(start: int, count: int) -> None:
        while True:
            if count < 7:
                for m in range(start + 1, start + count):
                    pos = m
                    while pos > start and compare(items[pos - 1], items[pos]) > 0:
                        swap(pos, pos - 1)
                        pos -= 1
                return
            middle = start + count // 2
            if count > 7:
                low, high = start, start + count - 1
                if count > 40:
                    d = count // 8
                    low = med3(low, low + d, low + 2 * d)
                    middle = med3(middle - d, middle, middle + d)
                    high = med3(high - 2 * d, high - d, high)
                middle = med3(low, middle, high)
            swap(start, middle)
            pa = pb = start + 1
            pc = pd = start + count - 1
            while True:
                while pb <= pc:
                    result = compare(items[pb], items[start])
                    if result > 0:
                        break
                    if result == 0:
                        swap(pa, pb)
                        pa += 1
                    pb += 1
                while pb <= pc:
                    result = compare(items[pc], items[start])
                    if result < 0:
                        break
                    if result == 0:
                        swap(pc, pd)
                        pd -= 1
                    pc -= 1
                if pb > pc:
                    break
                swap(pb, pc)
                pb += 1
                pc -= 1
            end = start + count
            r = min(pa - start, pb - pa)
            vecswap(start, pb - r, r)
            r = min(pd - pc, end - pd - 1)
            vecswap(pb, end - r, r)
            r = pb - pa
            # Redis recurses only into parts that overlap the ranks wanted (0..last).
            if r > 1 and last >= start:
                sort(start, r)
            r = pd - pc
            if r <= 1:
                return
            start, count = end - r, r
            if last < start:
                return

    sort(0, len(items))


def sort_points(points: list[GeoPoint], descending: bool, keep: int) -> list[GeoPoint]:
    """Order search results by distance as Redis does; only the first ``keep`` are used afterwards.

    All of them: glibc's stable ``qsort`` (Python's stable sort gives the same
    order unless a distance is NaN).  Fewer: Redis's partial quicksort,
    whose order among equal distances is its own.
    """
    if descending:
        def compare(a: GeoPoint, b: GeoPoint) -> int:
            return -_compare(a, b)
    else:
        compare = _compare
    if keep < len(points):
        items = list(points)
        _partial_sort(items, compare, keep - 1)
        return items
    if any(point.distance != point.distance for point in points):
        return _merge_sort(points, compare)
    return sorted(points, key=lambda point: point.distance, reverse=descending)
