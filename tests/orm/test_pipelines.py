"""save/delete/create/get_many joining redpocket.pipeline() and raw redis-py pipelines."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from tests.conftest import every_key

import redpocket
from redpocket import ActiveRecord, DeferredResult, UniqueError, attributes
from redpocket.orm.unit import native_apply


class Member(ActiveRecord):
    name = attributes.Unicode(index=True)
    email = attributes.Unicode(unique=True)
    age = attributes.Integer(index=True, default=0)
    log = attributes.ByteStream()


def test_bulk_work_in_a_redpocket_pipeline_is_a_few_round_trips(db: redis.Redis, round_trips: Any, backend: str) -> None:
    with redpocket.pipeline() as pipe:  # connects and loads the script (on the client pipelines use)
        warm = Member.create(name="warm-up", email="warm@up", pipe=pipe)
    warm.delete()
    with round_trips() as trips:
        with redpocket.pipeline() as pipe:
            members = [Member.create(name=f"m{i}", email=f"m{i}@x", age=i, pipe=pipe) for i in range(200)]
    # SCRIPT EXISTS and the batch; a cluster client remembers that it loaded the script on every master,
    # and redpocket's engine saves through its native command, no script.
    assert trips.count == (1 if backend == "cluster" or native_apply(db) else 2)
    assert Member.objects.count() == 200
    assert all(m.is_saved for m in members)
    with round_trips() as trips:
        with redpocket.pipeline() as pipe:
            loaded = Member.objects.get_many([m.id for m in members], pipe=pipe)
            for m in members:
                m.update(age=m.age + 1, pipe=pipe)
    assert trips.count == (1 if backend == "cluster" or native_apply(db) else 2)
    assert isinstance(loaded, DeferredResult) and [m.age for m in loaded.result] == list(range(200))
    assert sorted(m.age for m in Member.objects.filter(age__gte=1)) == list(range(1, 201))
    with round_trips() as trips:
        with redpocket.pipeline() as pipe:
            counts = [m.delete(pipe=pipe) for m in members]
    assert trips.count == (1 if backend == "cluster" or native_apply(db) else 2)
    assert all(c.result == 1 for c in counts)
    assert every_key(db, "*") == []


def test_nested_helper_joins_the_outer_pipeline(db: redis.Redis, round_trips: Any, backend: str) -> None:
    def register(name: str, pipe: Any = None) -> Member:
        with redpocket.pipeline(pipe) as pipe:
            member = Member.create(name=name, email=f"{name}@x", pipe=pipe)
            member.log.append(b"registered", pipe=pipe)
            return member

    with redpocket.pipeline() as pipe:  # loads the script on the client pipelines use
        Member.create(name="warm", email="warm@x", pipe=pipe)
    with round_trips() as trips:
        with redpocket.pipeline() as pipe:
            register("a", pipe=pipe)
            register("b", pipe=pipe)
    assert trips.count == (1 if backend == "cluster" or native_apply(db) else 2)
    assert Member.objects.count() == 3
    assert Member.objects.get(name="a").log.read() == b"registered"


def test_unique_error_surfaces_when_the_pipeline_executes(db: redis.Redis) -> None:
    Member.create(name="a", email="taken@x")
    with pytest.raises(UniqueError), redpocket.pipeline() as pipe:
        Member.create(name="b", email="taken@x", pipe=pipe)
        Member.create(name="c", email="free@x", pipe=pipe)
    assert sorted(m.name for m in Member.objects.all()) == ["a", "c"]
    assert Member.objects.check() == []


def test_an_error_reply_reaches_the_deleted_count(db: redis.Redis) -> None:
    member = Member.create(name="a", email="a@x")
    db.set("{redpocket:Member}:eq:name:a", "not a set")  # the script's SREM meets the wrong type
    with pytest.raises(redis.ResponseError), redpocket.pipeline() as pipe:
        count = member.delete(pipe=pipe)
    with pytest.raises(redis.ResponseError):
        _ = count.result
    assert member.is_saved


def script_calls(db: Any) -> int:
    """Return how many EVALSHA calls the backend has run (every node's, on a cluster)."""
    if isinstance(db, redis.cluster.RedisCluster):
        stats = db.info("commandstats", target_nodes=db.PRIMARIES)
        return sum(node.get("cmdstat_evalsha", {}).get("calls", 0) for node in stats.values())
    return int(db.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))


def test_saves_queued_together_are_one_script_call(db: redis.Redis, backend: str) -> None:
    with redpocket.pipeline() as pipe:  # (loads the scripts)
        Member.create(name="warm", email="warm@x", pipe=pipe)
    before = script_calls(db)
    with redpocket.pipeline() as pipe:
        created = [Member.create(name=f"m{i}", email=f"m{i}@x", age=i, pipe=pipe) for i in range(301)]
        pipe.set("between", "x")  # another command between saves: the saves after it are another call
        created.append(Member.create(name="last", email="last@x", pipe=pipe))
    assert script_calls(db) - before == (0 if native_apply(db) else 2)
    assert Member.objects.count() == 303 and all(m.is_saved for m in created)  # (and warm)
    with redpocket.pipeline() as pipe:
        counts = [m.delete(pipe=pipe) for m in created]
    assert [c.result for c in counts] == [1] * 302
    assert Member.objects.count() == 1 and Member.objects.check() == []


def test_each_save_of_a_batch_keeps_its_own_outcome(db: redis.Redis) -> None:
    Member.create(name="a", email="taken@x")
    db.set("{redpocket:Member}:eq:name:broken", "not a set")  # that save's SADD meets the wrong type
    with pytest.raises(UniqueError), redpocket.pipeline() as pipe:
        before = Member.create(name="b", email="b@x", pipe=pipe)
        clash = Member.create(name="c", email="taken@x", pipe=pipe)
        Member.create(name="broken", email="broken@x", pipe=pipe)  # fails alone (WRONGTYPE)
        after = Member.create(name="d", email="d@x", pipe=pipe)
    assert before.is_saved and after.is_saved and not clash.is_saved
    assert sorted(m.name for m in Member.objects.filter(name__in=["a", "b", "c", "d"])) == ["a", "b", "d"]
    assert Member.objects.get(email="d@x").name == "d"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"), redpocket.pipeline() as pipe:
        count = Member.objects.get(name="b").delete(pipe=pipe)
        Member.objects.get(name="d").delete(pipe=pipe)
        Member.create(name="broken", email="broken2@x", pipe=pipe)
    assert count.result == 1
    assert sorted(m.name for m in Member.objects.filter(name__in=["a", "b", "d"])) == ["a"]


def test_a_batch_carries_any_bytes_in_its_values(db: redis.Redis) -> None:
    names = ["", "a,b", "3,0", "nul\0byte", "\0absent", "é ü 漢字", "x" * 5000, "12", "-1"]
    with redpocket.pipeline() as pipe:
        for i, name in enumerate(names):
            Member.create(name=name, email=f"{name}@{i}", age=i, pipe=pipe)
    assert sorted(m.name for m in Member.objects.all()) == sorted(names)
    for i, name in enumerate(names):
        assert Member.objects.get(name=name).email == f"{name}@{i}"
    assert Member.objects.check() == []


def test_a_command_queued_after_a_save_sees_it(db: redis.Redis) -> None:
    with redpocket.pipeline() as pipe:
        first = Member.create(name="x", email="x@x", pipe=pipe)
        seen = pipe.hget(f"{{redpocket:Member}}:id:{first.id}", "name")
        Member.create(name="y", email="y@x", pipe=pipe)
    assert seen.result == b"x"


def test_a_failed_nested_block_drops_its_saves_from_the_batch(db: redis.Redis) -> None:
    with redpocket.pipeline() as pipe:
        Member.create(name="kept", email="kept@x", pipe=pipe)
        with pytest.raises(RuntimeError), redpocket.pipeline(pipe) as inner:
            Member.create(name="dropped", email="dropped@x", pipe=inner)
            raise RuntimeError("abandon the block")
        Member.create(name="kept2", email="kept2@x", pipe=pipe)
    assert sorted(m.name for m in Member.objects.all()) == ["kept", "kept2"]
    assert Member.objects.check() == []


class Note(ActiveRecord):
    text = attributes.Unicode(null=True)  # no index: an update is one HSET (or HDEL)


def test_an_error_of_a_plain_write_is_raised_when_the_pipeline_executes(db: redis.Redis) -> None:
    note = Note.create(text="a")
    with redpocket.pipeline() as pipe:
        note.update(text="b", pipe=pipe)
    assert Note.objects.get(id=note.id).text == "b"
    db.delete(note.keys()["hash"])
    db.set(note.keys()["hash"], "not a hash")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"), redpocket.pipeline() as pipe:
        note.update(text="c", pipe=pipe)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"), redpocket.pipeline() as pipe:
        note.update(text=None, pipe=pipe)


def test_raw_redis_py_pipeline(db: redis.Redis) -> None:
    existing = Member.create(name="old", email="old@x")
    pipe = db.pipeline()
    member = Member.create(name="raw", email="raw@x", pipe=pipe)
    pending = Member.objects.get_many([existing.id, member.id], pipe=pipe)
    assert existing.delete(pipe=pipe) is None
    results = pipe.execute()
    assert results[0][0] == b"ok"  # the save script's raw reply lands in the results
    old, new = pending.resolve(results)
    assert old.name == "old" and new.name == "raw"  # queued after the save: sees it
    assert Member.objects.get(id=member.id).name == "raw"
    assert Member.objects.filter(name="old").count() == 0
    assert Member.objects.check() == []
    member.update(age=5)  # the record was not marked saved: the save re-reads what it needs
    assert Member.objects.get(id=member.id).age == 5
    assert Member.objects.check() == []
    pipe = db.pipeline()
    Member.create(name="dup", email="raw@x", pipe=pipe)
    assert pipe.execute()[-1][0] == b"unique"  # not raised: the reply is the caller's
    assert Member.objects.filter(name="dup").count() == 0
