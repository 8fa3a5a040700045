"""Records: save/delete/update, byte streams, optimistic concurrency, inheritance, key names."""

from __future__ import annotations

import pytest
import redis
from tests.conftest import every_key

import redpocket
from redpocket import ActiveRecord, ConflictError, UniqueError, ValidationError, attributes


class Project(ActiveRecord):
    name = attributes.Unicode(unique=True)
    git_uri = attributes.Bytes(null=True)
    metadata = attributes.JSON(default=dict)


class Build(ActiveRecord):
    project = attributes.Pointer(Project, index=True, related_name="builds", null=True)
    status = attributes.Unicode(index=True, choices=["queued", "running", "ok", "failed"], default="queued")
    duration = attributes.Float(index=True, null=True)
    stdout = attributes.ByteStream()
    stderr = attributes.ByteStream()


def test_save_returns_the_keys_and_every_key_shares_the_hash_tag(db: redis.Redis) -> None:
    build = Build(status="running")
    keys = build.save()
    ident = str(build.id)
    assert keys == {
        "hash": f"{{redpocket:Build}}:id:{ident}",
        "strings": {"stdout": f"{{redpocket:Build}}:stream:stdout:{ident}", "stderr": f"{{redpocket:Build}}:stream:stderr:{ident}"},
    }
    build.stdout.append(b"hello ")
    build.duration = 1.5
    build.save()
    for key in every_key(db, "*"):
        assert key.startswith(b"{redpocket:Build}:"), key
    assert set(every_key(db, "*")) == {
        keys["hash"].encode(), b"{redpocket:Build}:ids", b"{redpocket:Build}:eq:status:running",
        b"{redpocket:Build}:num:duration", keys["strings"]["stdout"].encode(),
        b"{redpocket:Build}:schema",  # the stored schema (orm/schema.py), there while the model has records
    }


def test_byte_streams_live_in_their_own_keys(db: redis.Redis, round_trips: object) -> None:
    build = Build(stdout=b"compiling\n")
    build.stdout.append(b"more\n")  # buffered until the first save
    build.save()
    assert db.get(build.keys()["strings"]["stdout"]) == b"compiling\nmore\n"
    assert b"stdout" not in db.hgetall(build.keys()["hash"])
    loaded = Build.objects.get(id=build.id)
    with round_trips() as trips:  # type: ignore[operator]
        assert loaded.stdout.append(b"done\n") == len(b"compiling\nmore\ndone\n")
    assert trips.count == 1
    assert loaded.stdout.read() == b"compiling\nmore\ndone\n"
    assert loaded.stdout == b"compiling\nmore\ndone\n"
    assert len(loaded.stdout) == len(b"compiling\nmore\ndone\n")
    assert loaded.stderr.read() == b""
    with db.pipeline() as pipe:
        loaded.stderr.append(b"warning", pipe=pipe)
        pipe.execute()
    assert bytes(loaded.stderr) == b"warning"
    loaded.stdout = b"replaced"
    loaded.save()
    assert db.get(build.keys()["strings"]["stdout"]) == b"replaced"
    assert loaded.delete() == 3  # the hash and both streams
    assert every_key(db, "*") == []


def test_delete_returns_the_number_of_keys_deleted(db: redis.Redis) -> None:
    project = Project.create(name="redpocket")
    assert project.delete() == 1
    assert project.delete() == 0
    assert every_key(db, "*") == []


def test_delete_of_a_record_not_loaded_removes_its_index_entries(db: redis.Redis) -> None:
    build = Build.create(status="ok", duration=2.0)
    stranger = Build(id=build.id)  # same id, values not loaded
    assert stranger.delete() == 1
    assert every_key(db, "*") == []


def test_save_is_one_round_trip(db: redis.Redis, round_trips: object) -> None:
    Project.create(name="warm-up")  # loads the script into the server
    project = Project(name="a", metadata={"x": 1})
    with round_trips() as trips:  # type: ignore[operator]
        project.save()
    assert trips.count == 1
    with round_trips() as trips:  # type: ignore[operator]
        project.update(name="b")
    assert trips.count == 1
    with round_trips() as trips:  # type: ignore[operator]
        project.delete()
    assert trips.count == 1


def test_save_writes_only_what_changed(db: redis.Redis) -> None:
    project = Project.create(name="one", metadata={"v": 1})
    other = Project.objects.get(id=project.id)
    other.metadata = {"v": 2}
    other.save()
    project.git_uri = b"git://x"
    project.save()  # does not overwrite metadata with its stale value
    assert Project.objects.get(id=project.id).metadata == {"v": 2}
    assert Project.objects.get(id=project.id).git_uri == b"git://x"


def test_update_applies_only_the_changes_and_keeps_other_assignments_pending(db: redis.Redis) -> None:
    project = Project.create(name="one", metadata={"v": 1})
    project.metadata = {"v": "pending"}
    project.update(git_uri=b"git://y")
    stored = Project.objects.get(id=project.id)
    assert stored.git_uri == b"git://y" and stored.metadata == {"v": 1}
    assert "metadata" in project._dirty
    project.save()
    assert Project.objects.get(id=project.id).metadata == {"v": "pending"}
    with pytest.raises(ValidationError):
        project.update(name=3)
    with pytest.raises(TypeError, match=r"no attribute 'nope'"):
        project.update(nope=1)


def _snapshot(db: redis.Redis) -> dict[bytes, object]:
    """Return every key's type and contents (DUMP is not portable to the embedded engine)."""
    readers = {b"hash": db.hgetall, b"set": db.smembers, b"string": db.get,
               b"zset": lambda k: db.zrange(k, 0, -1, withscores=True)}
    return {key: (db.type(key), readers[db.type(key)](key)) for key in every_key(db, "*")}


def test_unique_conflict_raises_and_writes_nothing(db: redis.Redis) -> None:
    Project.create(name="taken")
    snapshot = _snapshot(db)
    with pytest.raises(UniqueError) as caught:
        Project.create(name="taken", metadata={"a": 1})
    assert caught.value.attribute == "name" and caught.value.value == "taken"
    assert "Project.name" in str(caught.value)
    assert _snapshot(db) == snapshot
    second = Project.create(name="free")
    with pytest.raises(UniqueError):
        second.update(name="taken")
    assert Project.objects.get(id=second.id).name == "free"
    assert Project.objects.check() == []


def test_unique_value_is_released_on_change_and_delete(db: redis.Redis) -> None:
    first = Project.create(name="a")
    first.update(name="b")
    Project.create(name="a")
    first.delete()
    Project.create(name="b")
    assert Project.objects.count() == 2
    assert Project.objects.check() == []


class Login(ActiveRecord):
    user = attributes.Unicode(unique=True)
    email = attributes.Unicode(unique=True)
    level = attributes.Integer(index=True, default=0)


def test_a_unique_conflict_on_a_later_attribute_writes_nothing(db: redis.Redis) -> None:
    Login.create(user="harry", email="taken@x")
    snapshot = _snapshot(db)
    with pytest.raises(UniqueError) as caught:
        Login.create(user="ron", email="taken@x")  # "ron" is free, but no claim is taken before both are checked
    assert caught.value.attribute == "email"
    assert _snapshot(db) == snapshot
    with pytest.raises(UniqueError) as caught:
        Login.create(user="harry", email="free@x")
    assert caught.value.attribute == "user"
    assert _snapshot(db) == snapshot
    with pytest.raises(UniqueError), redpocket.pipeline() as pipe:
        Login.create(user="ron", email="taken@x", pipe=pipe)
        Login.create(user="hermione", email="free@x", pipe=pipe)
    assert sorted(login.user for login in Login.objects.all()) == ["harry", "hermione"]
    assert Login.create(user="ron", email="ron@x").user == "ron"
    assert Login.objects.check() == []


def test_saving_a_new_record_whose_id_exists_replaces_it_and_its_index_entries(db: redis.Redis) -> None:
    first = Login.create(user="harry", email="h@x", level=1)
    Login(id=first.id, user="harry", email="potter@x", level=2).save()  # not loaded: the save re-reads the stored values
    with redpocket.pipeline() as pipe:
        Login(id=first.id, user="harry", email="hp@x", level=3).save(pipe=pipe)
    raw = db.pipeline()
    Login(id=first.id, user="harry", email="raw@x").save(pipe=raw)
    assert raw.execute()[-1] == [b"stale", b""]  # a raw pipeline's reply is the caller's: nothing was written
    stored = Login.objects.get(id=first.id)
    assert (stored.email, stored.level) == ("hp@x", 3)
    assert Login.objects.filter(level=1).count() == Login.objects.filter(email="h@x").count() == 0
    assert Login.objects.count() == 1
    assert Login.objects.check() == []
    with pytest.raises(UniqueError):  # the claim of another record is still checked
        Login(id=first.id, user="ron", email=Login.create(user="ron", email="ron@x").email).save()
    assert Login.objects.get(id=first.id).user == "harry"
    assert Login.objects.check() == []


def test_a_claim_this_record_already_holds_is_kept(db: redis.Redis) -> None:
    login = Login(user="harry", email="h@x")  # two claims: checked, then taken
    db.hset("{redpocket:Login}:uniq:user", "harry", str(login.id))  # e.g. left by an interrupted migration
    login.save()
    assert Login.objects.get(user="harry") == login
    assert Login.objects.check() == []
    project = Project(name="p")  # one claim: taken with HSETNX
    db.hset("{redpocket:Project}:uniq:name", "p", str(project.id))
    project.save()
    assert Project.objects.get(name="p") == project
    assert Project.objects.check() == []


class Account(ActiveRecord):
    class Meta:
        versioned = True

    owner = attributes.Unicode(index=True)
    balance = attributes.Integer(default=0)


def test_versioned_save_raises_conflict_error(db: redis.Redis) -> None:
    account = Account.create(owner="harry")
    first = Account.objects.get(id=account.id)
    second = Account.objects.get(id=account.id)
    first.balance = 10
    first.save()
    second.balance = 20
    with pytest.raises(ConflictError, match=r"changed in Redis since it was loaded"):
        second.save()
    with pytest.raises(ConflictError):
        second.update(owner="ron")
    with pytest.raises(ConflictError):
        second.delete()
    assert Account.objects.get(id=account.id).balance == 10
    second.refresh()
    second.update(balance=30)
    assert Account.objects.get(id=account.id).balance == 30
    with pytest.raises(ConflictError):  # first is stale too
        first.delete()
    assert Account.objects.filter(owner="harry").count() == 1
    with pytest.raises(ConflictError):  # creating an id that exists
        Account(id=account.id, owner="x").save()


def test_unversioned_concurrent_index_change_is_retried_consistently(db: redis.Redis) -> None:
    build = Build.create(status="queued")
    a = Build.objects.get(id=build.id)
    b = Build.objects.get(id=build.id)
    a.update(status="running")
    b.update(status="ok")  # stale: re-reads, then moves the index entry from running to ok
    assert Build.objects.get(id=build.id).status == "ok"
    assert Build.objects.filter(status="running").count() == 0
    assert Build.objects.filter(status="ok").count() == 1
    assert Build.objects.check() == []


def test_refresh_to_dict_matches_and_equality(db: redis.Redis) -> None:
    project = Project.create(name="p", metadata={"a": 1})
    copy = Project.objects.get(id=project.id)
    project.update(metadata={"a": 2})
    assert copy.refresh().metadata == {"a": 2}
    assert copy == project and hash(copy) == hash(project)
    assert copy.to_dict() == {"id": project.id, "name": "p", "git_uri": None, "metadata": {"a": 2}}
    assert copy.matches({"name": "p"}) and copy.matches(name__startswith="p") and not copy.matches({"name": "q"})
    assert repr(copy) == f"<Project {project.id}>"
    project.delete()
    with pytest.raises(Project.DoesNotExist):
        copy.refresh()


class Base(ActiveRecord):
    created_by = attributes.Unicode(index=True, default="system")


class Child(Base):
    extra = attributes.Integer(default=0)


def test_inheritance_gives_each_model_its_own_attributes(db: redis.Redis) -> None:
    assert Child._meta.attributes["created_by"] is not Base._meta.attributes["created_by"]
    assert Child._meta.attributes["created_by"].model is Child
    assert Base._meta.attributes["created_by"].model is Base
    child = Child.create(created_by="harry")
    Base.create(created_by="harry")
    assert Child.objects.filter(created_by="harry").count() == 1
    assert Base.objects.filter(created_by="harry").count() == 1
    assert child.keys()["hash"].startswith("{redpocket:Child}:")


def test_key_names_come_from_meta_not_the_module(db: redis.Redis) -> None:
    class Renamed(ActiveRecord):
        class Meta:
            namespace = "app"
            name = "Person"

        name = attributes.Unicode(index=True)

    person = Renamed.create(name="x")
    assert person.keys()["hash"] == f"{{app:Person}}:id:{person.id}"
    assert db.exists("{app:Person}:eq:name:x", "{app:Person}:ids") == 2
