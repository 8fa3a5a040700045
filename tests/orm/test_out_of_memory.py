"""A save refused by Redis's maxmemory writes nothing and says why (issue 18)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from tests.conftest import every_key

import redpocket
from redpocket import ActiveRecord, attributes


class Note(ActiveRecord):
    title = attributes.Unicode(index=True)
    body = attributes.Unicode(null=True)

    class Meta:
        name = "MemoryNote"  # (test_pipelines has a Note of its own)


@pytest.fixture
def full(db: redis.Redis, backend: str) -> Iterator[redis.Redis]:
    """The backend with one saved note, then over a 1-byte maxmemory under noeviction."""
    if backend == "cluster":
        pytest.skip("not on a cluster: CONFIG SET on every node is beyond this test")
    Note(title="first").save()
    db.config_set("maxmemory-policy", "noeviction")
    db.config_set("maxmemory", 1)
    try:
        yield db
    finally:
        db.config_set("maxmemory", 0)


def test_a_save_over_maxmemory_writes_nothing_and_names_the_cause(full: redis.Redis) -> None:
    before = {key: full.type(key) for key in every_key(full)}
    note = Note(title="second", body="text")
    with pytest.raises(redpocket.OutOfMemoryError) as info:
        note.save()
    assert "maxmemory" in str(info.value) and "nothing was written" in str(info.value)
    assert isinstance(info.value, redis.exceptions.OutOfMemoryError)  # code catching redis-py's error still works
    assert {key: full.type(key) for key in every_key(full)} == before
    assert [n.title for n in Note.objects.filter(title="first")] == ["first"]  # reads keep working


def test_an_update_over_maxmemory_keeps_the_stored_values(full: redis.Redis) -> None:
    note = Note.objects.get(title="first")
    note.body = "changed"
    with pytest.raises(redpocket.OutOfMemoryError):
        note.save()
    full.config_set("maxmemory", 0)
    assert Note.objects.get(title="first").body is None
