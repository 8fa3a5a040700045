"""The ZSet type API, checked against a naive model (a sorted list of pairs)."""

from __future__ import annotations

import math
import random

import pytest

from redpocket.engine import Engine
from redpocket.engine.config import Config
from redpocket.engine.keyspace import type_name
from redpocket.engine.types.zset import LEX_MAX, LEX_MIN, ZSet, fits_listpack, zset_encoding


def model_order(scores: dict[bytes, float]) -> list[tuple[bytes, float]]:
    return [(m, s) for s, m in sorted((s, m) for m, s in scores.items())]


def test_basics() -> None:
    zset = ZSet([(b"b", 2.0), (b"a", 1.0), (b"c", 2.0)])
    assert len(zset) == 3 and b"a" in zset and b"x" not in zset
    assert list(zset) == [(b"a", 1.0), (b"b", 2.0), (b"c", 2.0)]
    assert zset.score(b"b") == 2.0 and zset.score(b"x") is None
    assert zset.rank(b"c") == 2 and zset.rank(b"c", reverse=True) == 0 and zset.rank(b"x") is None
    assert zset.add(b"a", 3.0) is False
    assert zset.add(b"d", 0.5) is True
    assert list(zset) == [(b"d", 0.5), (b"b", 2.0), (b"c", 2.0), (b"a", 3.0)]
    assert zset.remove(b"b") is True and zset.remove(b"b") is False
    assert zset.at(0) == (b"d", 0.5)
    assert type_name(zset) == "zset"


def test_copy_is_independent_and_keeps_encoding() -> None:
    zset = ZSet([(b"a", 1.0)])
    zset.skiplist = True
    twin = zset.copy()
    twin.add(b"b", 2.0)
    assert len(zset) == 1 and len(twin) == 2 and twin.skiplist
    assert ZSet.from_scores({b"a": 1.0}) == zset


def test_score_ranges_with_exclusive_bounds_and_infinities() -> None:
    zset = ZSet([(b"n", -math.inf), (b"a", 1.0), (b"b", 2.0), (b"c", 2.0), (b"p", math.inf)])
    assert zset.range_by_score(-math.inf, math.inf) == list(zset)
    assert zset.range_by_score(-math.inf, math.inf, True, True) == [(b"a", 1.0), (b"b", 2.0), (b"c", 2.0)]
    assert zset.range_by_score(1.0, 2.0, low_exclusive=True) == [(b"b", 2.0), (b"c", 2.0)]
    assert zset.range_by_score(1.0, 2.0, high_exclusive=True) == [(b"a", 1.0)]
    assert zset.range_by_score(math.inf, math.inf) == [(b"p", math.inf)]
    assert zset.range_by_score(math.inf, math.inf, True) == []
    assert zset.range_by_score(-math.inf, 2.0, reverse=True, offset=1, count=2) == [(b"b", 2.0), (b"a", 1.0)]
    assert zset.count_by_score(2.0, 1.0) == 0
    assert zset.remove_range_by_score(2.0, 2.0) == 2
    assert [m for m, _ in zset] == [b"n", b"a", b"p"]


def test_lex_ranges() -> None:
    zset = ZSet([(m, 0.0) for m in (b"a", b"b", b"c", b"d")])
    assert zset.range_by_lex(LEX_MIN, LEX_MAX) == list(zset)
    assert [m for m, _ in zset.range_by_lex(b"b", b"d", True, True)] == [b"c"]
    assert [m for m, _ in zset.range_by_lex(b"b", LEX_MAX, reverse=True, count=2)] == [b"d", b"c"]
    assert zset.range_by_lex(LEX_MAX, LEX_MIN) == []
    assert zset.count_by_lex(b"b", b"c") == 2
    assert zset.remove_range_by_lex(LEX_MIN, b"b", False, True) == 1
    assert [m for m, _ in zset] == [b"b", b"c", b"d"]


def test_lex_range_on_mixed_scores_scans_like_a_listpack() -> None:
    # Redis 7.0 answers ZRANGEBYLEX m [a [b with "a", ZREVRANGEBYLEX m [b [a with "b z a".
    zset = ZSet([(b"a", 0.0), (b"z", 1.0), (b"b", 2.0)])
    assert zset.range_by_lex(b"a", b"b") == [(b"a", 0.0)]
    assert zset.count_by_lex(b"a", b"b") == 1
    assert [m for m, _ in zset.range_by_lex(b"a", b"b", reverse=True)] == [b"b", b"z", b"a"]
    # The head is above the maximum: nothing, whichever the direction.
    other = ZSet([(b"z", 0.0), (b"a", 1.0), (b"b", 2.0)])
    assert other.range_by_lex(b"a", b"b", reverse=True) == []


def test_rank_ranges_and_pops() -> None:
    zset = ZSet([(bytes([97 + i]), float(i)) for i in range(6)])
    assert [m for m, _ in zset.range_by_rank(1, 3)] == [b"b", b"c", b"d"]
    assert [m for m, _ in zset.range_by_rank(0, 1, reverse=True)] == [b"f", b"e"]
    assert zset.pop(1) == [(b"a", 0.0)]
    assert zset.pop(2, highest=True) == [(b"f", 5.0), (b"e", 4.0)]
    assert zset.remove_range_by_rank(0, 0) == 1
    assert zset.pop(10) == [(b"c", 2.0), (b"d", 3.0)]
    assert len(zset) == 0 and zset.scores == {}


def test_against_a_model() -> None:
    rng = random.Random(5)
    zset = ZSet()
    model: dict[bytes, float] = {}
    members = [bytes([rng.randrange(97, 103)]) * rng.randint(1, 2) for _ in range(30)]
    for _ in range(3000):
        member = rng.choice(members)
        action = rng.random()
        if action < 0.5:
            score = float(rng.randint(-5, 5)) / 2
            assert zset.add(member, score) == (member not in model)
            model[member] = score
        elif action < 0.7:
            assert zset.remove(member) == (member in model)
            model.pop(member, None)
        elif action < 0.8:
            low, high = sorted(rng.uniform(-3, 3) for _ in range(2))
            ex1, ex2 = rng.random() < 0.5, rng.random() < 0.5
            expected = [(m, s) for m, s in model_order(model)
                        if (s > low if ex1 else s >= low) and (s < high if ex2 else s <= high)]
            assert zset.range_by_score(low, high, ex1, ex2) == expected
            assert zset.count_by_score(low, high, ex1, ex2) == len(expected)
        elif action < 0.9:
            order = model_order(model)
            if order:
                start = rng.randrange(len(order))
                stop = rng.randrange(start, len(order))
                assert zset.range_by_rank(start, stop) == order[start : stop + 1]
                assert zset.range_by_rank(start, stop, True) == order[::-1][start : stop + 1]
        else:
            order = model_order(model)
            assert [zset.rank(m) for m, _ in order] == list(range(len(order)))
        assert list(zset) == model_order(model)
        assert len(zset) == len(model)


def test_zset_encoding() -> None:
    config = Config()
    small = ZSet([(b"a", 1.0)])
    assert zset_encoding(small, config) == "listpack" and fits_listpack(small, config)
    assert zset_encoding(ZSet([(b"x" * 65, 1.0)]), config) == "skiplist"
    assert zset_encoding(ZSet([(b"%d" % i, 1.0) for i in range(129)]), config) == "skiplist"
    small.skiplist = True  # once converted, never back
    assert zset_encoding(small, config) == "skiplist"
    config.set("zset-max-listpack-entries", "0")
    assert zset_encoding(ZSet([(b"a", 1.0)]), config) == "skiplist"


@pytest.mark.parametrize("count", [128, 129])
def test_commands_record_the_conversion(count: int) -> None:
    engine = Engine()
    session = engine.session()
    session.execute([b"ZADD", b"z", *[x for i in range(count) for x in (b"1", b"m%d" % i)]])
    session.execute([b"ZREMRANGEBYRANK", b"z", b"0", b"100"])
    zset = session.db.data[b"z"]
    assert zset_encoding(zset, engine.config) == ("skiplist" if count > 128 else "listpack")
