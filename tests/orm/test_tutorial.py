"""The Repocket tutorial, as written, with ``repocket`` replaced by ``redpocket``."""

from __future__ import annotations

import uuid

import redis

from redpocket import ActiveRecord, attributes


class User(ActiveRecord):
    name = attributes.Unicode()
    house_name = attributes.Unicode()
    email = attributes.Bytes()
    password = attributes.Bytes()
    metadata = attributes.JSON()


def create_harry_and_ron() -> tuple[User, User]:
    harry = User.create(
        id="970773fa-4de1-11e5-86f4-6c4008a70392",
        name="Harry Potter",
        email="harry@hogwards.uk",
        house_name="Gryffindor",
        password=b"$2b$10$hash-of-hermione42",
        metadata={"known_tricks": ["Protego", "Expelliarmus", "Wingardium Leviosa", "Expecto Patronum"]},
    )
    ron = User.create(
        id="40997aa4-71fc-4ad3-b0d7-04c0fac6d6d8",
        name="Ron Weasley",
        house_name="Gryffindor",
        email="ron@hogwards.uk",
        password=b"$2b$10$another-hash",
        metadata={"known_tricks": ["Protego", "Expelliarmus"]},
    )
    return harry, ron


def test_tutorial(db: redis.Redis) -> None:
    harry, _ron = create_harry_and_ron()

    harrys_keys = harry.save()
    assert harrys_keys == {"hash": "{redpocket:User}:id:970773fa-4de1-11e5-86f4-6c4008a70392", "strings": {}}

    harry = User.objects.get(id="970773fa-4de1-11e5-86f4-6c4008a70392")
    assert harry.metadata == {"known_tricks": ["Protego", "Expelliarmus", "Wingardium Leviosa", "Expecto Patronum"]}
    assert harry.id == uuid.UUID("970773fa-4de1-11e5-86f4-6c4008a70392")
    assert harry["id"] == uuid.UUID("970773fa-4de1-11e5-86f4-6c4008a70392")
    assert harry.email == b"harry@hogwards.uk"

    results = User.objects.filter(house_name="Gryffindor")
    assert len(results) == 2
    assert sorted(u.name for u in results) == ["Harry Potter", "Ron Weasley"]

    results = User.objects.filter(house_name="Gryffindor").order_by("-name")
    assert len(results) == 2
    assert results[0].name == "Ron Weasley"
    assert results[1].name == "Harry Potter"

    assert harry.matches({"name": "Harry Potter", "house_name": "Gryffindor"})
    assert not harry.matches({"name": "Ron Weasley"})

    assert harry.delete() == 1
    assert User.objects.filter(house_name="Gryffindor").count() == 1


def test_stored_values_are_native_and_readable(db: redis.Redis) -> None:
    harry, _ = create_harry_and_ron()
    stored = db.hgetall(harry.save()["hash"])
    assert stored[b"name"] == b"Harry Potter"
    assert stored[b"email"] == b"harry@hogwards.uk"
    assert stored[b"metadata"].startswith(b'{"known_tricks":["Protego"')
    assert stored[b"id"] == b"970773fa-4de1-11e5-86f4-6c4008a70392"
