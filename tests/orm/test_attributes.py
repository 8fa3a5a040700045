"""Attribute types, options, validation on assignment, native storage and decoding errors."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

import pytest
import redis
from tests.conftest import every_key

from redpocket import ActiveRecord, DecodeError, DefinitionError, Model, ValidationError, attributes


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Everything(ActiveRecord):
    text = attributes.Unicode(null=True)
    raw = attributes.Bytes(null=True)
    count = attributes.Integer(null=True)
    ratio = attributes.Float(null=True)
    price = attributes.Decimal(null=True)
    flag = attributes.Boolean(null=True)
    when = attributes.DateTime(null=True)
    day = attributes.Date(null=True)
    moment = attributes.Time(null=True)
    ref = attributes.UUID(null=True)
    data = attributes.JSON(null=True)
    color = attributes.Enum(Color, null=True)


VALUES: dict[str, tuple[Any, bytes]] = {
    "text": ("Harry Potter", b"Harry Potter"),
    "raw": (b"\x00\xffbytes", b"\x00\xffbytes"),
    "count": (42, b"42"),
    "ratio": (3.5, b"3.5"),
    "price": (decimal.Decimal("12.50"), b"12.50"),
    "flag": (True, b"true"),
    "when": (dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc), b"2024-05-01T10:00:00+00:00"),
    "day": (dt.date(2024, 5, 1), b"2024-05-01"),
    "moment": (dt.time(10, 0, 30), b"10:00:30"),
    "ref": (uuid.UUID("970773fa-4de1-11e5-86f4-6c4008a70392"), b"970773fa-4de1-11e5-86f4-6c4008a70392"),
    "data": ({"known_tricks": ["Protego"], "n": 1}, b'{"known_tricks":["Protego"],"n":1}'),
    "color": (Color.GREEN, b"GREEN"),
}


def test_model_is_active_record() -> None:
    assert Model is ActiveRecord


def test_every_type_stores_native_text_and_round_trips(db: redis.Redis) -> None:
    record = Everything.create(**{name: value for name, (value, _) in VALUES.items()})
    stored = db.hgetall(record.keys()["hash"])
    for name, (_value, text) in VALUES.items():
        assert stored[name.encode()] == text, name
    loaded = Everything.objects.get(id=record.id)
    for name, (value, _) in VALUES.items():
        assert getattr(loaded, name) == value, name
        assert type(getattr(loaded, name)) is type(value), name
    assert loaded.when.tzinfo is not None


def test_none_is_an_absent_field(db: redis.Redis) -> None:
    record = Everything.create(text="x")
    assert set(db.hgetall(record.keys()["hash"])) == {b"id", b"text"}
    loaded = Everything.objects.get(id=record.id)
    assert loaded.count is None and loaded.data is None


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("count", "x", "expected an integer, got str"),
        ("count", True, "got bool"),
        ("ratio", "1.5", "expected a number"),
        ("ratio", float("nan"), "NaN"),
        ("price", "abc", "not a decimal number"),
        ("flag", 1, "expected a bool"),
        ("when", dt.datetime(2024, 5, 1, 10, 0), "naive datetime"),
        ("when", "2024-05-01", "expected a datetime"),
        ("day", dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc), "got a datetime"),
        ("ref", "not-a-uuid", "badly formed UUID"),
        ("data", {1, 2}, "not JSON serialisable"),
        ("data", dt.datetime.now(dt.timezone.utc), "not JSON serialisable"),
        ("color", "BLUE", "not a member of Color"),
        ("text", 5, "expected text"),
    ],
)
def test_assignment_validates_at_once(name: str, value: Any, reason: str) -> None:
    record = Everything()
    with pytest.raises(ValidationError) as caught:
        setattr(record, name, value)
    error = caught.value
    assert error.model == "Everything" and error.attribute == name and error.value is value
    assert reason in error.reason
    assert f"Everything.{name}" in str(error) and reason in str(error)
    with pytest.raises(ValidationError):
        Everything(**{name: value})


def test_values_are_normalised_on_the_way_in() -> None:
    record = Everything()
    record.ratio = 2
    assert record.ratio == 2.0 and isinstance(record.ratio, float)
    record.price = "1.10"
    assert record.price == decimal.Decimal("1.10")
    record.ref = "970773fa-4de1-11e5-86f4-6c4008a70392"
    assert isinstance(record.ref, uuid.UUID)
    record.raw = "text"
    assert record.raw == b"text"
    record.data = {"a": (1, 2)}
    assert record.data == {"a": [1, 2]}
    paris = dt.timezone(dt.timedelta(hours=2))
    record.when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=paris)
    assert record.when == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
    assert record.when.utcoffset() == dt.timedelta(0)
    record.color = 1
    assert record.color is Color.RED
    record.color = "GREEN"
    assert record.color is Color.GREEN
    record["text"] = "via item"
    assert record["text"] == "via item"


class Options_(ActiveRecord):
    class Meta:
        name = "Options"

    title = attributes.Unicode(max_length=10)
    status = attributes.Unicode(default="queued", choices=["queued", "running", "ok"])
    tags = attributes.JSON(default=list)
    settings = attributes.JSON(default={"a": []})
    even = attributes.Integer(null=True, validators=[lambda v: v % 2 == 0])
    positive = attributes.Integer(null=True, validators=[lambda v: _raise_if_negative(v)])
    nick = attributes.Unicode(null=True, required=True)


def _raise_if_negative(value: int) -> None:
    if value < 0:
        raise ValueError("must be positive")


def test_options(db: redis.Redis) -> None:
    record = Options_(title="t", nick="n")
    assert record.status == "queued" and record.tags == [] and record.settings == {"a": []}
    other = Options_(title="u", nick="m")
    other.settings["a"].append(1)
    assert record.settings == {"a": []}, "a non-callable default must not be shared"
    with pytest.raises(ValidationError, match=r"must be one of"):
        record.status = "failed"
    with pytest.raises(ValidationError, match=r"max_length"):
        record.title = "x" * 11
    with pytest.raises(ValidationError, match=r"rejected by validator"):
        record.even = 3
    with pytest.raises(ValidationError, match=r"must be positive"):
        record.positive = -1
    with pytest.raises(ValidationError, match=r"not nullable"):
        record.title = None
    record.even = 4
    record.save()
    assert Options_.objects.get(id=record.id).status == "queued"


def test_required_and_not_null_checked_on_save(db: redis.Redis) -> None:
    with pytest.raises(ValidationError, match=r"Options_.nick.*required"):
        Options_(title="t").save()
    with pytest.raises(ValidationError, match=r"Options_.title.*not nullable"):
        Options_(nick="n").save()
    assert every_key(db, "{redpocket:Options}*") == []


class Stamped(ActiveRecord):
    name = attributes.Unicode()
    created = attributes.DateTime(auto_now_add=True)
    modified = attributes.DateTime(auto_now=True, index=True)


def test_auto_now_and_auto_now_add(db: redis.Redis) -> None:
    before = dt.datetime.now(dt.timezone.utc)
    record = Stamped.create(name="a")
    assert record.created >= before and record.created.tzinfo is not None
    assert record.modified >= record.created
    created, modified = record.created, record.modified
    record.name = "b"
    record.save()
    assert record.created == created and record.modified > modified
    modified = record.modified
    record.update(name="c")
    assert record.modified > modified
    loaded = Stamped.objects.get(id=record.id)
    assert loaded.created == created and loaded.modified == record.modified
    assert Stamped.objects.filter(modified__gt=modified).count() == 1


def test_stored_data_that_fails_to_decode_raises_decode_error(db: redis.Redis) -> None:
    record = Everything.create(count=1)
    key = record.keys()["hash"]
    for field, junk in [("count", b"forty-two"), ("when", b"2024-05-01T10:00:00"), ("data", b"{not json"),
                        ("flag", b"yes"), ("color", b"BLUE"), ("price", b"x"), ("ref", b"zz"), ("day", b"x")]:
        db.hset(key, field, junk)
        with pytest.raises(DecodeError) as caught:
            Everything.objects.get(id=record.id)
        assert key in str(caught.value) and f"Everything.{field}" in str(caught.value)
        db.hdel(key, field)
    db.delete(key)
    db.set(key, "a string")
    with pytest.raises(DecodeError, match=r"WRONGTYPE"):
        Everything.objects.get_many([record.id])


def test_the_primary_key_comes_from_the_key_of_the_record(db: redis.Redis) -> None:
    record = Everything.create(count=1)
    db.hset(record.keys()["hash"], "id", b"junk")  # a copy: the key names the record
    assert Everything.objects.get_many([record.id])[0].id is record.id  # the id asked for
    assert Everything.objects.get_many([str(record.id)])[0].id == record.id
    assert [r.id for r in Everything.objects.all()] == [record.id]  # decoded from the id set's text
    db.sadd("{redpocket:Everything}:ids", "not-a-uuid")
    db.hset("{redpocket:Everything}:id:not-a-uuid", "count", 2)
    with pytest.raises(DecodeError, match=r"cannot decode the id of record 'not-a-uuid' of Everything"):
        list(Everything.objects.all())


def test_declaration_errors_name_model_and_attribute() -> None:
    with pytest.raises(DefinitionError, match=r"TwoKeys declares two primary keys: a, b"):
        class TwoKeys(ActiveRecord):
            a = attributes.AutoUUID()
            b = attributes.Unicode(primary_key=True)
    with pytest.raises(DefinitionError, match=r"JsonIndex.blob: a JSON attribute cannot have an equality index"):
        class JsonIndex(ActiveRecord):
            blob = attributes.JSON(index=True)
    with pytest.raises(DefinitionError, match=r"JsonUnique.blob"):
        class JsonUnique(ActiveRecord):
            blob = attributes.JSON(unique=True)
    with pytest.raises(DefinitionError, match=r"BadPointer.owner: Pointer\(\) must point to an ActiveRecord"):
        class BadPointer(ActiveRecord):
            owner = attributes.Pointer(dict)
    for reserved in ("save", "objects", "pk", "delete", "keys", "_private", "a__b"):
        with pytest.raises(DefinitionError, match=rf"Reserved.{reserved}: .* is a reserved name"):
            type("Reserved", (ActiveRecord,), {reserved: attributes.Unicode()})
    with pytest.raises(DefinitionError, match=r"PrefixInt.n: a Integer attribute cannot have a prefix index"):
        class PrefixInt(ActiveRecord):
            n = attributes.Integer(index="prefix")
    with pytest.raises(DefinitionError, match=r"NullKey.key: a primary key cannot be null"):
        class NullKey(ActiveRecord):
            key = attributes.Unicode(primary_key=True, null=True)
    with pytest.raises(DefinitionError, match=r"Enum\(\) takes an enum.Enum subclass"):
        attributes.Enum(int)  # type: ignore[arg-type]


def test_implied_primary_key_and_custom_primary_key(db: redis.Redis) -> None:
    class Tag(ActiveRecord):
        slug = attributes.Unicode(primary_key=True)
        label = attributes.Unicode()

    assert "id" not in Tag._meta.attributes
    tag = Tag.create(slug="py", label="Python")
    assert tag.keys()["hash"] == "{redpocket:Tag}:id:py"
    assert Tag.objects.get(slug="py").label == "Python"
    with pytest.raises(ValidationError, match=r"primary key of a saved record cannot change"):
        tag.slug = "other"
    first, second = Everything(), Everything()
    assert isinstance(first.id, uuid.UUID) and first.id != second.id  # AutoUUID: a uuid4 per record
