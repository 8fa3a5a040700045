"""limits: fixed, moving and sliding windows on every backend.

Embedded: ``RedisStorage("redis://", connection_pool=pool)`` with a pool of
``EmbeddedConnection`` (the URL then only names the scheme).
"""

from __future__ import annotations

from integration_helpers import SCALE, Outcomes, Target, Timings, library

limits = library("limits")
from limits.storage import RedisStorage  # noqa: E402
from limits.strategies import (  # noqa: E402
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)

STRATEGIES = {"fixed": FixedWindowRateLimiter, "moving": MovingWindowRateLimiter, "sliding": SlidingWindowCounterRateLimiter}
HITS = 300 * SCALE


def _storage(target: Target) -> RedisStorage:
    if target.embedded:
        return RedisStorage("redis://", connection_pool=target.pool())
    return RedisStorage(target.url)


def test_limits_windows(target: Target, timings: Timings, outcomes: Outcomes) -> None:
    storage = _storage(target)
    assert storage.check()
    ten_a_minute = limits.parse("10/minute")
    outcome = {}
    for name, strategy in STRATEGIES.items():
        limiter = strategy(storage)
        seen = {
            "hits": [limiter.hit(ten_a_minute, name, "alice") for _ in range(12)],
            "test": (limiter.test(ten_a_minute, name, "alice"), limiter.test(ten_a_minute, name, "bob")),
            "remaining": (limiter.get_window_stats(ten_a_minute, name, "alice").remaining,
                          limiter.get_window_stats(ten_a_minute, name, "bob").remaining),
            "cost": [limiter.hit(ten_a_minute, name, "carol", cost=4) for _ in range(3)],
        }
        limiter.clear(ten_a_minute, name, "alice")
        seen["after clear"] = limiter.hit(ten_a_minute, name, "alice")
        outcome[name] = seen
        assert seen == {"hits": [True] * 10 + [False] * 2, "test": (False, True), "remaining": (0, 10),
                        "cost": [True, True, False], "after clear": True}, name
    many = limits.parse(f"{HITS // 2}/hour")
    with timings.measure(f"limits: {HITS} hits x 3 strategies", target.backend):
        allowed = {name: sum(strategy(storage).hit(many, name, "load") for _ in range(HITS)) for name, strategy in STRATEGIES.items()}
    outcome["allowed under load"] = allowed
    assert allowed == {name: HITS // 2 for name in STRATEGIES}
    storage.reset()
    outcomes.check("limits", target.backend, outcome)
