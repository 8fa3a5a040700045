"""The sorted set type: members ordered by (score, member), with O(log n) updates.

A :class:`ZSet` holds the same members twice, like Redis's ``zset``: a dict
``member -> score`` for O(1) score lookups, and a ``SortedList`` of
``(score, member)`` tuples that plays the part of the skiplist (ranks, score
and lexicographic ranges, O(log n) inserts and deletes).  Tuples compare by
score, then by member bytes, which is Redis's order (``memcmp`` on ties).

Ranges are expressed as index intervals ``[lo, hi)`` into that order; the
``range_*`` methods return ``(member, score)`` pairs.  Lexicographic bounds
are ``bytes`` or the sentinels :data:`LEX_MIN` (``-``) and :data:`LEX_MAX`
(``+``), each with an "exclusive" flag.

``skiplist`` records Redis's encoding, which only ever grows from listpack to
skiplist for a live key: the command layer sets it (see
:func:`zset_encoding`), because the encoding shows through ``OBJECT
ENCODING``, ``ZSCAN`` and the way a listpack stores ``-0`` as ``0``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

from sortedcontainers import SortedList

if TYPE_CHECKING:
    from ..config import Config

_INF: Final = math.inf


class LexLimit:
    """One of the two lexicographic sentinels: smaller (``-``) or greater (``+``) than every member."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"LexLimit({self.name!r})"


LEX_MIN: Final = LexLimit("-")
LEX_MAX: Final = LexLimit("+")

LexBound = bytes | LexLimit


def _lex_compare(a: LexBound, b: LexBound) -> int:
    """Compare two lexicographic bounds as Redis's ``sdscmplex`` does."""
    if a is b:
        return 0
    if a is LEX_MIN or b is LEX_MAX:
        return -1
    if a is LEX_MAX or b is LEX_MIN:
        return 1
    assert isinstance(a, bytes) and isinstance(b, bytes)
    return (a > b) - (a < b)


def _score_above(score: float) -> float:
    """Return the smallest double greater than ``score`` (``inf`` stays ``inf``)."""
    return math.nextafter(score, _INF)


class ZSet:
    """A Redis sorted set."""

    __slots__ = ("ordered", "scores", "skiplist")

    type_name = "zset"

    def __init__(self, pairs: Iterable[tuple[bytes, float]] = ()) -> None:
        self.scores: dict[bytes, float] = {}
        self.ordered: SortedList = SortedList()
        self.skiplist = False
        for member, score in pairs:
            self.add(member, score)

    @classmethod
    def from_scores(cls, scores: dict[bytes, float]) -> ZSet:
        """Build a sorted set from a ``member -> score`` dict (taken over, not copied)."""
        zset = cls.__new__(cls)
        zset.scores = scores
        zset.ordered = SortedList([(score, member) for member, score in scores.items()])
        zset.skiplist = False
        return zset

    # -- the basics -----------------------------------------------------------
    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member: object) -> bool:
        return member in self.scores

    def __iter__(self) -> Iterator[tuple[bytes, float]]:
        """Yield ``(member, score)`` pairs from the lowest score to the highest."""
        for score, member in self.ordered:
            yield member, score

    def __repr__(self) -> str:
        return f"ZSet({list(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZSet) and self.scores == other.scores

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> ZSet:
        """Return an independent copy (same members, scores and encoding)."""
        zset = ZSet.__new__(ZSet)
        zset.scores = self.scores.copy()
        zset.ordered = self.ordered.copy()
        zset.skiplist = self.skiplist
        return zset

    def score(self, member: bytes) -> float | None:
        """Return the score of ``member``, or ``None`` when absent."""
        return self.scores.get(member)

    def add(self, member: bytes, score: float) -> bool:
        """Set the score of ``member``; tell whether it is a new member."""
        scores = self.scores
        old = scores.get(member)
        if old is None:
            scores[member] = score
            self.ordered.add((score, member))
            return True
        if old != score:
            ordered = self.ordered
            ordered.remove((old, member))
            ordered.add((score, member))
            scores[member] = score
        return False

    def remove(self, member: bytes) -> bool:
        """Remove ``member``; tell whether it was there."""
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.ordered.remove((score, member))
        return True

    def rank(self, member: bytes, reverse: bool = False) -> int | None:
        """Return the 0-based rank of ``member`` (from the highest score when ``reverse``)."""
        score = self.scores.get(member)
        if score is None:
            return None
        rank: int = self.ordered.index((score, member))
        return len(self.scores) - 1 - rank if reverse else rank

    def at(self, index: int) -> tuple[bytes, float]:
        """Return the ``(member, score)`` pair at rank ``index``."""
        score, member = self.ordered[index]
        return member, score

    # -- index intervals ---------------------------------------------------------
    def score_interval(self, low: float, low_exclusive: bool, high: float, high_exclusive: bool) -> tuple[int, int]:
        """Return the rank interval ``[lo, hi)`` of the scores between ``low`` and ``high``."""
        bisect = self.ordered.bisect_left
        if low_exclusive:
            lo = len(self.scores) if low == _INF else bisect((_score_above(low),))
        else:
            lo = bisect((low,))
        if high_exclusive:
            hi = bisect((high,))
        else:
            hi = len(self.scores) if high == _INF else bisect((_score_above(high),))
        return lo, hi

    def lex_interval(
        self, low: LexBound, low_exclusive: bool, high: LexBound, high_exclusive: bool, reverse: bool = False
    ) -> tuple[int, int]:
        """Return the rank interval ``[lo, hi)`` of the members between ``low`` and ``high``.

        As in Redis, the members are assumed to share one score (the order is
        then lexicographic).  With mixed scores Redis's answer depends on the
        encoding: a listpack is scanned linearly (from the head, or from the
        tail when ``reverse``), which is reproduced exactly; for a skiplist
        the result is a binary search's.
        """
        ordered = self.ordered
        size = len(ordered)
        if not size:
            return 0, 0
        if ordered[0][0] != ordered[-1][0] and not self.skiplist:
            return self._lex_scan(low, low_exclusive, high, high_exclusive, reverse)
        lo = self._lex_index(low, low_exclusive)
        hi = self._lex_index(high, not high_exclusive)
        return lo, hi

    def _lex_index(self, bound: LexBound, after: bool) -> int:
        """Return the first rank whose member is > ``bound`` (``after``) or >= ``bound``."""
        if bound is LEX_MIN:
            return 0
        if bound is LEX_MAX:
            return len(self.scores)
        assert isinstance(bound, bytes)
        ordered = self.ordered
        first = ordered[0][0]
        if first == ordered[-1][0]:
            # One score for all: the order is lexicographic, bisect directly.
            if after:
                return int(ordered.bisect_right((first, bound)))
            return int(ordered.bisect_left((first, bound)))
        lo, hi = 0, len(ordered)
        while lo < hi:
            mid = (lo + hi) // 2
            member = ordered[mid][1]
            if member > bound if after else member >= bound:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _lex_scan(
        self, low: LexBound, low_exclusive: bool, high: LexBound, high_exclusive: bool, reverse: bool
    ) -> tuple[int, int]:
        """Find a lexicographic range by a linear scan, as Redis does in a listpack."""
        members = [member for _score, member in self.ordered]
        order = _lex_compare(low, high)
        if order > 0 or (order == 0 and (low_exclusive or high_exclusive)):
            return 0, 0

        def above_low(member: bytes) -> bool:
            if isinstance(low, LexLimit):
                return low is LEX_MIN
            return member > low if low_exclusive else member >= low

        def below_high(member: bytes) -> bool:
            if isinstance(high, LexLimit):
                return high is LEX_MAX
            return member < high if high_exclusive else member <= high

        size = len(members)
        if not above_low(members[-1]) or not below_high(members[0]):
            return 0, 0
        if reverse:
            last = size - 1
            while last >= 0 and not below_high(members[last]):
                last -= 1
            if last < 0 or not above_low(members[last]):
                return 0, 0
            first = last
            while first > 0 and above_low(members[first - 1]):
                first -= 1
            return first, last + 1
        first = 0
        while first < size and not above_low(members[first]):
            first += 1
        if first == size or not below_high(members[first]):
            return 0, 0
        end = first + 1
        while end < size and below_high(members[end]):
            end += 1
        return first, end

    def slice(self, lo: int, hi: int, reverse: bool = False, offset: int = 0, count: int = -1) -> list[tuple[bytes, float]]:
        """Return the pairs of ranks ``[lo, hi)``, skipping ``offset`` and keeping at most ``count`` (``< 0``: all).

        With ``reverse`` the interval is walked from ``hi - 1`` down to ``lo``.
        """
        if offset:
            if reverse:
                hi -= offset
            else:
                lo += offset
        if count >= 0:
            if reverse:
                lo = max(lo, hi - count)
            else:
                hi = min(hi, lo + count)
        if lo >= hi:
            return []
        pairs = self.ordered[lo:hi]  # far cheaper than SortedList.islice() for a short range
        if reverse:
            pairs.reverse()
        return [(member, score) for score, member in pairs]

    # -- ranges -----------------------------------------------------------------
    def range_by_rank(self, start: int, stop: int, reverse: bool = False) -> list[tuple[bytes, float]]:
        """Return the pairs of ranks ``start..stop`` (inclusive, already within bounds)."""
        if reverse:
            size = len(self.scores)
            return self.slice(size - 1 - stop, size - start, True)
        return self.slice(start, stop + 1)

    def range_by_score(
        self,
        low: float,
        high: float,
        low_exclusive: bool = False,
        high_exclusive: bool = False,
        reverse: bool = False,
        offset: int = 0,
        count: int = -1,
    ) -> list[tuple[bytes, float]]:
        """Return the pairs whose score is between ``low`` and ``high``, LIMIT ``offset count``."""
        lo, hi = self.score_interval(low, low_exclusive, high, high_exclusive)
        return self.slice(lo, hi, reverse, offset, count)

    def range_by_lex(
        self,
        low: LexBound,
        high: LexBound,
        low_exclusive: bool = False,
        high_exclusive: bool = False,
        reverse: bool = False,
        offset: int = 0,
        count: int = -1,
    ) -> list[tuple[bytes, float]]:
        """Return the pairs whose member is between ``low`` and ``high``, LIMIT ``offset count``."""
        lo, hi = self.lex_interval(low, low_exclusive, high, high_exclusive, reverse)
        return self.slice(lo, hi, reverse, offset, count)

    def count_by_score(self, low: float, high: float, low_exclusive: bool = False, high_exclusive: bool = False) -> int:
        """Count the members whose score is between ``low`` and ``high``."""
        lo, hi = self.score_interval(low, low_exclusive, high, high_exclusive)
        return max(hi - lo, 0)

    def count_by_lex(self, low: LexBound, high: LexBound, low_exclusive: bool = False, high_exclusive: bool = False) -> int:
        """Count the members between ``low`` and ``high`` lexicographically."""
        lo, hi = self.lex_interval(low, low_exclusive, high, high_exclusive)
        return max(hi - lo, 0)

    # -- removal ------------------------------------------------------------------
    def remove_interval(self, lo: int, hi: int) -> int:
        """Remove the members of ranks ``[lo, hi)``; return how many went."""
        if lo >= hi:
            return 0
        ordered = self.ordered
        scores = self.scores
        if lo == 0 and hi >= len(ordered):
            removed = len(ordered)
            ordered.clear()
            scores.clear()
            return removed
        for _score, member in ordered[lo:hi]:
            del scores[member]
        del ordered[lo:hi]
        return hi - lo

    def remove_range_by_rank(self, start: int, stop: int) -> int:
        """Remove the members of ranks ``start..stop`` (inclusive, within bounds)."""
        return self.remove_interval(start, stop + 1)

    def remove_range_by_score(self, low: float, high: float, low_exclusive: bool = False, high_exclusive: bool = False) -> int:
        """Remove the members whose score is between ``low`` and ``high``."""
        return self.remove_interval(*self.score_interval(low, low_exclusive, high, high_exclusive))

    def remove_range_by_lex(self, low: LexBound, high: LexBound, low_exclusive: bool = False, high_exclusive: bool = False) -> int:
        """Remove the members between ``low`` and ``high`` lexicographically."""
        return self.remove_interval(*self.lex_interval(low, low_exclusive, high, high_exclusive))

    def pop(self, count: int, highest: bool = False) -> list[tuple[bytes, float]]:
        """Remove and return up to ``count`` members with the lowest (or ``highest``) scores, in pop order."""
        ordered = self.ordered
        size = len(ordered)
        if count > size:
            count = size
        if count == 1:
            score, member = ordered.pop(-1 if highest else 0)
            del self.scores[member]
            return [(member, score)]
        if highest:
            pairs = self.slice(size - count, size, True)
            self.remove_interval(size - count, size)
        else:
            pairs = self.slice(0, count)
            self.remove_interval(0, count)
        return pairs


def zset_encoding(value: ZSet, config: Config) -> str:
    """Return the ``OBJECT ENCODING`` of a sorted set: ``listpack`` or ``skiplist``.

    Redis keeps a small set (at most ``zset-max-listpack-entries`` members,
    each at most ``zset-max-listpack-value`` bytes) as a listpack, and never
    converts a live set back once it outgrew that.
    """
    if value.skiplist or not fits_listpack(value, config):
        return "skiplist"
    return "listpack"


def fits_listpack(value: ZSet, config: Config) -> bool:
    """Tell whether every member and the size of ``value`` are within the listpack limits."""
    if len(value) > config.get_int("zset-max-listpack-entries"):
        return False
    limit = config.get_int("zset-max-listpack-value")
    return all(len(member) <= limit for member in value.scores)


def outgrows_listpack(value: ZSet, member: bytes, config: Config) -> bool:
    """Tell whether adding the new ``member`` to a listpack ``value`` converts it to a skiplist (``zsetAdd``)."""
    return len(value) >= config.get_int("zset-max-listpack-entries") or len(member) > config.get_int(
        "zset-max-listpack-value"
    )


def set_score(value: ZSet, member: bytes, score: float, new: bool, config: Config) -> None:
    """Give ``member`` its score as ZADD does: a new member may outgrow the listpack, which keeps "-0" as 0."""
    if new and not value.skiplist and outgrows_listpack(value, member, config):
        value.skiplist = True
    value.add(member, 0.0 if score == 0.0 and not value.skiplist else score)


def settle_encoding(value: ZSet, config: Config) -> None:
    """Give a computed sorted set (ZUNIONSTORE ...) the encoding Redis would: listpack ("-0" reads back as 0) or skiplist."""
    if fits_listpack(value, config):
        for member, score in list(value.scores.items()):
            if score == 0.0 and math.copysign(1.0, score) < 0:
                value.remove(member)
                value.add(member, 0.0)
    else:
        value.skiplist = True
