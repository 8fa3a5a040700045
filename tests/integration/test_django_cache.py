"""Django's ``RedisCache`` and django-redis: their documented cache API, on every backend.

Embedded: ``OPTIONS: {"connection_class": redpocket.EmbeddedConnection}``
(Django's ``RedisCache``) and ``OPTIONS: {"CONNECTION_POOL_KWARGS":
{"connection_class": redpocket.EmbeddedConnection}}`` (django-redis);
``LOCATION``'s host is then ignored, and ``engine`` in the same options
picks an engine other than the process-wide one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from integration_helpers import SCALE, Outcomes, Target, Timings, library

from redpocket import EmbeddedConnection

django = library("django")

OPERATIONS = 500 * SCALE


@pytest.fixture(scope="module")
def django_settings() -> Iterator[None]:
    """Point DJANGO_SETTINGS_MODULE at this directory's settings and set Django up."""
    previous = os.environ.get("DJANGO_SETTINGS_MODULE")
    os.environ["DJANGO_SETTINGS_MODULE"] = "django_settings"
    django.setup()
    yield
    if previous is None:
        os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    else:
        os.environ["DJANGO_SETTINGS_MODULE"] = previous


def _cache_settings(flavour: str, target: Target) -> dict[str, Any]:
    if flavour == "django":
        options: dict[str, Any] = {"connection_class": EmbeddedConnection, "engine": target.engine} if target.embedded else {}
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": target.url, "OPTIONS": options}
    location = target.url
    options = {}
    if target.embedded:
        # django-redis keeps one pool per LOCATION for the process: a name of its own for this engine.
        location = f"redis://engine-{uuid.uuid4().hex[:12]}/0"
        options = {"CONNECTION_POOL_KWARGS": {"connection_class": EmbeddedConnection, "engine": target.engine}}
    return {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location, "OPTIONS": options}


def _exercise(cache: Any) -> dict[str, Any]:
    """Use the cache API Django documents, and return what it answered."""
    seen: dict[str, Any] = {}
    cache.set("greeting", "hello", timeout=30)
    seen["get"] = cache.get("greeting")
    seen["default"] = cache.get("missing", "fallback")
    seen["add existing"] = cache.add("greeting", "other")
    seen["add new"] = cache.add("fresh", {"nested": [1, 2.5, "x"]})
    seen["object"] = cache.get("fresh")
    seen["get_or_set"] = (cache.get_or_set("computed", lambda: 42), cache.get_or_set("computed", 0))
    seen["set_many"] = cache.set_many({"a": 1, "b": 2, "c": 3}) or []  # (django-redis answers None)
    seen["get_many"] = cache.get_many(["a", "b", "c", "nope"])
    cache.delete_many(["a", "b"])
    seen["after delete_many"] = cache.get_many(["a", "b", "c"])
    cache.set("count", 10)
    seen["incr/decr"] = (cache.incr("count"), cache.incr("count", 5), cache.decr("count", 3))
    with pytest.raises(ValueError):
        cache.incr("no-such-counter")
    seen["has_key"] = (cache.has_key("count"), cache.has_key("nope"))
    seen["touch"] = (cache.touch("count", 100), cache.touch("nope", 100))
    seen["delete"] = (cache.delete("count"), cache.delete("count"))
    cache.set("forever", "v", timeout=None)
    cache.set("gone", "v", timeout=0)  # a zero timeout expires the key at once
    seen["timeouts"] = (cache.get("forever"), cache.get("gone"))
    cache.set(b"\xff".decode("latin-1"), "latin")
    seen["unicode key"] = cache.get("ÿ")
    cache.clear()
    seen["after clear"] = cache.get("forever")
    return seen


EXPECTED = {
    "get": "hello", "default": "fallback", "add existing": False, "add new": True,
    "object": {"nested": [1, 2.5, "x"]}, "get_or_set": (42, 42), "set_many": [], "get_many": {"a": 1, "b": 2, "c": 3},
    "after delete_many": {"c": 3}, "incr/decr": (11, 16, 13), "has_key": (True, False), "touch": (True, False),
    "delete": (True, False), "timeouts": ("v", None), "unicode key": "latin", "after clear": None,
}


@pytest.mark.parametrize("flavour", ["django", "django-redis"])
def test_django_cache_api(django_settings: None, flavour: str, target: Target, timings: Timings,
                          outcomes: Outcomes) -> None:
    if flavour == "django-redis":
        library("django_redis")
    from django.core.cache import caches
    from django.test import override_settings

    with override_settings(CACHES={"default": _cache_settings(flavour, target)}):
        cache = caches["default"]
        try:
            outcome = _exercise(cache)
            assert outcome == EXPECTED
            cache.set("hits", 0)
            with timings.measure(f"{flavour}: {OPERATIONS} x (set, get, incr, get_many)", target.backend):
                for i in range(OPERATIONS):
                    cache.set(f"key:{i}", {"i": i})
                    cache.get(f"key:{i}")
                    cache.incr("hits")
                    cache.get_many([f"key:{i}", f"key:{i // 2}"])
            outcome["hits"] = cache.get("hits")
            outcome["last"] = cache.get(f"key:{OPERATIONS - 1}")
            assert outcome["hits"] == OPERATIONS and outcome["last"] == {"i": OPERATIONS - 1}
            outcomes.check(flavour, target.backend, outcome)
        finally:
            cache.clear()
            cache.close()
