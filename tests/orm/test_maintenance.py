"""Index storage, Model.objects.check() and Model.objects.rebuild_indexes()."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from redpocket import ActiveRecord, IndexNotReady, attributes


class Wizard(ActiveRecord):
    name = attributes.Unicode(index="prefix")
    house = attributes.Unicode(index=True)
    email = attributes.Unicode(unique=True)
    age = attributes.Integer(index=True)
    bio = attributes.Unicode(null=True)


def make() -> tuple[Wizard, Wizard]:
    return (Wizard.create(name="Harry", house="Gryffindor", email="h@x", age=17),
            Wizard.create(name="Draco", house="Slytherin", email="d@x", age=17))


def test_index_keys_hold_what_the_docs_say(db: redis.Redis) -> None:
    harry, _ = make()
    ident = str(harry.id).encode()
    assert db.smembers("{redpocket:Wizard}:eq:house:Gryffindor") == {ident}
    assert db.zscore("{redpocket:Wizard}:num:age", ident) == 17
    assert b"Harry\0" + ident in db.zrange("{redpocket:Wizard}:pre:name", 0, -1)
    assert db.hget("{redpocket:Wizard}:uniq:email", "h@x") == ident
    assert not db.exists("{redpocket:Wizard}:eq:email:h@x")  # the claims are the unique attribute's index
    assert len(db.smembers("{redpocket:Wizard}:ids")) == 2
    harry.update(house="Ravenclaw", age=18, name="Harold", email="harold@x")
    assert not db.exists("{redpocket:Wizard}:eq:house:Gryffindor")
    assert db.smembers("{redpocket:Wizard}:eq:house:Ravenclaw") == {ident}
    assert db.zscore("{redpocket:Wizard}:num:age", ident) == 18
    assert b"Harry\0" + ident not in db.zrange("{redpocket:Wizard}:pre:name", 0, -1)
    assert db.hget("{redpocket:Wizard}:uniq:email", "h@x") is None
    harry.delete()
    assert db.zscore("{redpocket:Wizard}:num:age", ident) is None
    assert db.hget("{redpocket:Wizard}:uniq:email", "harold@x") is None
    assert not db.exists("{redpocket:Wizard}:eq:house:Ravenclaw")
    assert Wizard.objects.check() == []


def test_check_reports_every_kind_of_discrepancy(db: redis.Redis) -> None:
    harry, draco = make()
    assert Wizard.objects.check() == []
    h, d = str(harry.id), str(draco.id)
    db.srem("{redpocket:Wizard}:eq:house:Gryffindor", h)
    db.sadd("{redpocket:Wizard}:eq:house:Hufflepuff", d)
    db.zadd("{redpocket:Wizard}:num:age", {h: 99})
    db.zrem("{redpocket:Wizard}:pre:name", f"Draco\0{d}")
    db.hset("{redpocket:Wizard}:uniq:email", "h@x", d)
    db.sadd("{redpocket:Wizard}:ids", "00000000-0000-0000-0000-000000000000")
    problems = Wizard.objects.check()
    text = "\n".join(problems)
    assert len(problems) == 6, text
    assert f"record {h} missing from index b'Gryffindor'" in text
    assert f"index b'Hufflepuff' lists {d}" in text
    assert f"numeric index has 99.0 for {h}" in text
    assert "missing from the prefix index" in text
    assert "unique claim b'h@x'" in text
    assert "00000000-0000-0000-0000-000000000000" in text
    db.srem("{redpocket:Wizard}:ids", "00000000-0000-0000-0000-000000000000")
    assert Wizard.objects.rebuild_indexes(progress=False) == 2
    assert Wizard.objects.check() == []


def test_rebuild_deletes_the_equality_sets_an_earlier_layout_kept_for_unique_attributes(db: redis.Redis) -> None:
    harry, _ = make()
    db.sadd("{redpocket:Wizard}:eq:email:h@x", str(harry.id))
    assert Wizard.objects.check() == []  # never read: the claims answer email lookups
    assert [w.name for w in Wizard.objects.filter(email="h@x")] == ["Harry"]
    assert Wizard.objects.rebuild_indexes(progress=False) == 2
    assert not db.exists("{redpocket:Wizard}:eq:email:h@x")
    assert db.hget("{redpocket:Wizard}:uniq:email", "h@x") == str(harry.id).encode()
    assert Wizard.objects.check() == []


def test_rebuild_after_adding_an_index(db: redis.Redis, capsys: Any) -> None:
    class Student(ActiveRecord):
        name = attributes.Unicode()
        year = attributes.Integer()

    for i in range(30):
        Student.create(name=f"s{i % 3}", year=i)

    class Student(ActiveRecord):  # type: ignore[no-redef]  # the same model, now with indexes
        name = attributes.Unicode(index=True)
        year = attributes.Integer(index=True)

    assert len(Student.objects.check()) == 60
    with pytest.raises(IndexNotReady, match=r"Student\.objects\.migrate"):  # never a wrong answer
        Student.objects.filter(name="s1").count()
    assert Student.objects.rebuild_indexes(progress=True) == 30
    assert "rebuilding Student indexes" in capsys.readouterr().err
    assert Student.objects.check() == []
    assert Student.objects.filter(name="s1").count() == 10
    assert [s.year for s in Student.objects.filter(year__gte=27).order_by("-year")] == [29, 28, 27]


@pytest.mark.parametrize("count", [0, 1])
def test_check_on_small_models(db: redis.Redis, count: int) -> None:
    for i in range(count):
        Wizard.create(name=f"w{i}", house="h", email=f"{i}@x", age=i)
    assert Wizard.objects.check() == []
