"""The stored schema: schema changes never give wrong answers; ``migrate()`` applies them online."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import redis

import redpocket
from redpocket import ActiveRecord, IndexNotReady, MigrationError, attributes
from redpocket.orm import schema

RECORDS = 1200


def version(name: str = "Gadget", meta: dict[str, Any] | None = None, **declared: Any) -> Any:
    """Define (or redefine: same module, same name) the model with the given attributes."""
    body: dict[str, Any] = {"__module__": "schema_models", **declared}
    if meta:
        body["Meta"] = type("Meta", (), meta)
    return types.new_class(name, (ActiveRecord,), exec_body=lambda ns: ns.update(body))


def fill(model: Any, count: int = RECORDS, **extra: Any) -> None:
    for offset in range(0, count, 500):
        with redpocket.pipeline() as pipe:
            for n in range(offset, min(count, offset + 500)):
                model.create(pipe=pipe, status="live" if n % 2 else "done", size=n, **extra)


def v1() -> Any:
    return version(status=attributes.Unicode(), size=attributes.Integer())


def test_adding_an_index_raises_index_not_ready_until_migrated(db: redis.Redis) -> None:
    fill(v1())
    Gadget = version(status=attributes.Unicode(index=True), size=attributes.Integer(index=True))
    with pytest.raises(IndexNotReady, match=r"Gadget\.objects\.migrate\(\)|redpocket migrate schema_models:Gadget"):
        Gadget.objects.filter(status="live").count()
    with pytest.raises(IndexNotReady):
        list(Gadget.objects.filter(size__gte=10))
    # Ordering by an attribute whose index is not built sorts in Python: a right answer.
    assert [g.size for g in Gadget.objects.order_by("-size")[:2]] == [RECORDS - 1, RECORDS - 2]
    report = Gadget.objects.migrate(progress=False)
    assert sorted(report.built) == ["size", "status"]
    assert Gadget.objects.filter(status="live").count() == RECORDS // 2
    assert Gadget.objects.filter(size__lt=10).count() == 10
    assert Gadget.objects.check() == []
    # Another process running the new class sees the built index too.
    Again = version(status=attributes.Unicode(index=True), size=attributes.Integer(index=True))
    assert Again.objects.filter(status="done").count() == RECORDS // 2


def test_auto_migrate_builds_the_index_on_first_use(db: redis.Redis) -> None:
    fill(v1(), 300)
    Gadget = version(meta={"migrate": "auto"}, status=attributes.Unicode(index=True), size=attributes.Integer())
    assert Gadget.objects.filter(status="live").count() == 150
    assert Gadget.objects.check() == []


def test_an_interrupted_build_resumes_where_it_stopped(db: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "BATCH", 100)
    fill(v1())
    Gadget = version(status=attributes.Unicode(index=True), size=attributes.Integer())
    batches: list[int] = []

    def crash_after_three(what: str, done: int, total: int) -> None:
        batches.append(done)
        if len(batches) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Gadget.objects.migrate(progress=False, on_batch=crash_after_three)
    with pytest.raises(IndexNotReady):  # still not ready: never a partial answer
        Gadget.objects.filter(status="live").count()
    report = Gadget.objects.migrate(progress=False)
    assert report.indexed == RECORDS - 300  # resumed after the three batches done
    assert Gadget.objects.filter(status="live").count() == RECORDS // 2
    assert Gadget.objects.check() == []


def test_writes_during_a_build_keep_the_index_right(db: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "BATCH", 100)
    fill(v1())
    Gadget = version(status=attributes.Unicode(index=True), size=attributes.Integer(index=True))
    writes = iter(range(1000))

    def write_meanwhile(what: str, done: int, total: int) -> None:
        n = next(writes)
        some = Gadget.objects.get_many([r.id for r in Gadget.objects.all()[n * 3 : n * 3 + 3]])
        some[0].update(status="moved", size=10_000 + n)
        some[1].delete()
        Gadget.create(status="new", size=20_000 + n)

    Gadget.objects.migrate(progress=False, on_batch=write_meanwhile)
    assert Gadget.objects.check() == []
    everything = list(Gadget.objects.all())
    for status in ("live", "done", "moved", "new"):
        assert Gadget.objects.filter(status=status).count() == sum(g.status == status for g in everything)
    assert Gadget.objects.filter(size__gte=10_000).count() == sum(g.size >= 10_000 for g in everything)


def test_a_type_change_is_rewritten_and_reindexed(db: redis.Redis) -> None:
    Old = version(status=attributes.Unicode(), size=attributes.Integer(index=True))
    fill(Old, 50)
    Gadget = version(status=attributes.Unicode(), size=attributes.Unicode(index=True))
    with pytest.raises(IndexNotReady):
        Gadget.objects.filter(size="7").count()
    report = Gadget.objects.migrate(progress=False)
    assert "size" in report.built and "size" in report.rewritten
    assert [g.size for g in Gadget.objects.filter(size="7")] == ["7"]
    assert not db.exists("{redpocket:Gadget}:num:size")  # the old numeric index is gone
    assert Gadget.objects.check() == []


def test_a_type_change_that_does_not_convert_is_refused_before_writing(db: redis.Redis) -> None:
    Old = version(status=attributes.Unicode(index=True), size=attributes.Integer())
    fill(Old, 20)
    Gadget = version(status=attributes.Integer(index=True), size=attributes.Integer())
    with pytest.raises(MigrationError, match="cannot convert"):
        Gadget.objects.migrate(progress=False)
    Back = version(status=attributes.Unicode(index=True), size=attributes.Integer())
    assert Back.objects.filter(status="live").count() == 10  # nothing was rewritten


def test_added_attribute_with_a_default_reads_the_default_before_migrating(db: redis.Redis) -> None:
    fill(v1(), 10)
    Gadget = version(status=attributes.Unicode(), size=attributes.Integer(), colour=attributes.Unicode(default="grey", index=True))
    first = Gadget.objects.all()[0]
    assert first.colour == "grey"
    first.update(size=-1)  # an unrelated save of an old record works
    report = Gadget.objects.migrate(progress=False)
    assert report.filled == {"colour": 10}
    assert db.hget(first.keys()["hash"], "colour") == b"grey"
    assert Gadget.objects.filter(colour="grey").count() == 10
    assert Gadget.objects.check() == []


def test_added_required_attribute_without_default_does_not_break_old_records(db: redis.Redis) -> None:
    fill(v1(), 5)
    Gadget = version(status=attributes.Unicode(), size=attributes.Integer(), owner=attributes.Unicode())
    record = Gadget.objects.all()[0]
    assert record.owner is None
    record.update(size=99)  # not validated against the attribute it does not write
    assert Gadget.objects.get(id=record.id).size == 99
    with pytest.raises(redpocket.ValidationError):
        Gadget.create(status="x", size=1)  # a new record must have it
    report = Gadget.objects.migrate(progress=False)
    assert report.missing_required == {"owner": 5}


def test_removed_attribute_and_index_are_deleted_by_migrate(db: redis.Redis) -> None:
    Old = version(status=attributes.Unicode(index=True), size=attributes.Integer(index=True), bio=attributes.Unicode())
    fill(Old, 10, bio="text")
    Gadget = version(status=attributes.Unicode(), size=attributes.Integer(index=True))
    record = Gadget.objects.all()[0]
    assert db.hget(record.keys()["hash"], "bio") == b"text"
    report = Gadget.objects.migrate(progress=False)
    assert report.removed == ["bio"] and "status" in report.dropped
    assert db.hget(record.keys()["hash"], "bio") is None
    assert not db.exists("{redpocket:Gadget}:eq:status:live")
    assert Gadget.objects.check() == []


def test_an_emptied_model_leaves_no_schema_behind(db: redis.Redis) -> None:
    Gadget = v1()
    record = Gadget.create(status="a", size=1)
    assert db.exists("{redpocket:Gadget}:schema")
    record.delete()
    assert not db.exists("{redpocket:Gadget}:schema")
    Gadget.create(status="b", size=2)  # the next first record stores it again
    assert db.exists("{redpocket:Gadget}:schema")


@pytest.mark.not_cluster("the command line connects with one URL to one server")
def test_command_line_migrate(db: redis.Redis, tmp_path: Path, backend: str) -> None:
    if backend != "redis":
        pytest.skip("another process reaches redis-server only")
    fill(v1(), 30)
    (tmp_path / "cli_models.py").write_text(
        "from redpocket import ActiveRecord, attributes\n"
        "class Gadget(ActiveRecord):\n"
        "    status = attributes.Unicode(index=True)\n"
        "    size = attributes.Integer()\n"
    )
    port = db.connection_pool.connection_kwargs["port"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(redpocket.__file__).parents[1])])}
    done = subprocess.run([sys.executable, "-m", "redpocket", "migrate", "cli_models:Gadget", "--url", f"redis://127.0.0.1:{port}"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "built indexes: status" in done.stdout
    Gadget = version(status=attributes.Unicode(index=True), size=attributes.Integer())
    assert Gadget.objects.filter(status="live").count() == 15
