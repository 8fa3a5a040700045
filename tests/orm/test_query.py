"""Queries: lookups answered by the indexes, Python fallbacks, ordering, slicing, round trips."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import redis
from tests.conftest import every_key

from redpocket import ActiveRecord, QueryError, attributes
from redpocket.orm import query as query_module

UTC = dt.timezone.utc


class Person(ActiveRecord):
    name = attributes.Unicode(index="prefix")
    house = attributes.Unicode(index=True)
    email = attributes.Unicode(unique=True)
    age = attributes.Integer(index=True)
    born = attributes.DateTime(index=True, null=True)
    score = attributes.Float(null=True)  # no index: Python
    nick = attributes.Unicode(null=True)  # no index: Python


PEOPLE = [
    ("Harry Potter", "Gryffindor", 17, 2.5),
    ("Hermione Granger", "Gryffindor", 18, 9.5),
    ("Ron Weasley", "Gryffindor", 17, 4.0),
    ("Draco Malfoy", "Slytherin", 17, 5.0),
    ("Luna Lovegood", "Ravenclaw", 16, 7.0),
    ("Cedric Diggory", "Hufflepuff", 19, None),
]


@pytest.fixture
def people(db: redis.Redis) -> dict[str, Person]:
    created = {}
    for n, (name, house, age, score) in enumerate(PEOPLE):
        created[name.split()[0]] = Person.create(
            name=name, house=house, age=age, score=score, email=f"{name.split()[0].lower()}@hogwarts.uk",
            born=dt.datetime(2000 + n, 1, 1, tzinfo=UTC) if n != 5 else None,
        )
    return created


def names(query: Any) -> list[str]:
    return [p.name.split()[0] for p in query]


def test_equality_in_and_and(people: dict[str, Person]) -> None:
    assert sorted(names(Person.objects.filter(house="Gryffindor"))) == ["Harry", "Hermione", "Ron"]
    assert sorted(names(Person.objects.filter(house="Gryffindor", age=17))) == ["Harry", "Ron"]
    assert sorted(names(Person.objects.filter(house="Gryffindor").filter(age=17))) == ["Harry", "Ron"]
    assert sorted(names(Person.objects.filter(house__in=["Slytherin", "Ravenclaw"]))) == ["Draco", "Luna"]
    assert sorted(names(Person.objects.filter(age__in=[16, 19]))) == ["Cedric", "Luna"]
    assert names(Person.objects.filter(email="luna@hogwarts.uk")) == ["Luna"]
    assert names(Person.objects.filter(house="Nowhere")) == []
    assert names(Person.objects.filter(house__in=[])) == []


def test_unique_lookups_read_the_claims(people: dict[str, Person], db: redis.Redis, round_trips: Any) -> None:
    assert every_key(db, "*:eq:email:*") == []  # the claims hash is the index: no per-value sets
    with round_trips() as trips:  # one HGET, then the record
        assert Person.objects.get(email="luna@hogwarts.uk") == people["Luna"]
    assert trips.count == 2
    assert names(Person.objects.filter(email="nobody@hogwarts.uk")) == []
    assert Person.objects.filter(email="ron@hogwarts.uk").count() == 1
    assert Person.objects.filter(email="ron@hogwarts.uk")[1:].count() == 0
    assert Person.objects.filter(email="nobody@hogwarts.uk").count() == 0
    assert names(Person.objects.filter(email="ron@hogwarts.uk", house="Gryffindor")) == ["Ron"]
    assert names(Person.objects.filter(email="ron@hogwarts.uk", age__gte=18)) == []
    assert names(Person.objects.filter(email="ron@hogwarts.uk", score__gt=3)) == ["Ron"]  # HGET, then Python
    assert sorted(names(Person.objects.filter(email__in=["ron@hogwarts.uk", "luna@hogwarts.uk", "x@y"]))) == ["Luna", "Ron"]
    assert names(Person.objects.filter(email="ron@hogwarts.uk").order_by("-age")[:1]) == ["Ron"]
    gryffindors = Person.objects.filter(house="Gryffindor")
    assert sorted(names(gryffindors.exclude(email="ron@hogwarts.uk"))) == ["Harry", "Hermione"]
    assert gryffindors.exclude(email="ron@hogwarts.uk").count() == 2
    people["Ron"].update(email="ronald@hogwarts.uk")
    assert names(Person.objects.filter(email="ronald@hogwarts.uk")) == ["Ron"]
    assert names(Person.objects.filter(email="ron@hogwarts.uk")) == []
    assert every_key(db, "*:tmp:*") == []  # scratch sets are deleted in the same round trip


def test_numeric_and_date_ranges(people: dict[str, Person]) -> None:
    assert sorted(names(Person.objects.filter(age__gt=17))) == ["Cedric", "Hermione"]
    assert sorted(names(Person.objects.filter(age__gte=18))) == ["Cedric", "Hermione"]
    assert names(Person.objects.filter(age__lt=17)) == ["Luna"]
    assert sorted(names(Person.objects.filter(age__lte=16))) == ["Luna"]
    assert sorted(names(Person.objects.filter(age__range=(17, 18), house="Gryffindor"))) == ["Harry", "Hermione", "Ron"]
    since = dt.datetime(2002, 1, 1, tzinfo=UTC)
    assert sorted(names(Person.objects.filter(born__gte=since))) == ["Draco", "Luna", "Ron"]
    assert names(Person.objects.filter(born__range=(since, dt.datetime(2002, 6, 1, tzinfo=UTC)))) == ["Ron"]
    assert names(Person.objects.filter(born=since)) == ["Ron"]


def test_prefix_index(people: dict[str, Person]) -> None:
    assert sorted(names(Person.objects.filter(name__startswith="H"))) == ["Harry", "Hermione"]
    assert names(Person.objects.filter(name__startswith="Har")) == ["Harry"]
    assert names(Person.objects.filter(name="Harry Potter")) == ["Harry"]
    assert names(Person.objects.filter(name="Harry")) == []
    assert sorted(names(Person.objects.filter(name__startswith="H", age=18))) == ["Hermione"]


def test_python_only_conditions(people: dict[str, Person]) -> None:
    assert sorted(names(Person.objects.filter(score__gt=4.5))) == ["Draco", "Hermione", "Luna"]
    assert sorted(names(Person.objects.filter(house="Gryffindor", score__lt=5))) == ["Harry", "Ron"]
    assert names(Person.objects.filter(score=None)) == ["Cedric"]
    assert names(Person.objects.filter(born=None)) == ["Cedric"]  # indexed, but no index holds None
    assert Person.objects.filter(score__gt=4.5).count() == 3
    assert Person.objects.get(score=9.5).name == "Hermione Granger"
    with pytest.raises(Person.MultipleObjectsReturned):
        Person.objects.get(score__gt=1)
    with pytest.raises(Person.DoesNotExist):
        Person.objects.get(score__gt=100)


def test_exclude_follows_django(people: dict[str, Person]) -> None:
    # exclude(a, b) removes the records matching both
    assert sorted(names(Person.objects.exclude(house="Gryffindor", age=17))) == ["Cedric", "Draco", "Hermione", "Luna"]
    # chained excludes remove the records matching either
    assert sorted(names(Person.objects.exclude(house="Gryffindor").exclude(age=17))) == ["Cedric", "Luna"]
    assert sorted(names(Person.objects.filter(house="Gryffindor").exclude(name__startswith="H"))) == ["Ron"]
    # Python-only exclusions follow the same rule
    assert sorted(names(Person.objects.exclude(house="Gryffindor", score__lt=3))) == ["Cedric", "Draco", "Hermione", "Luna", "Ron"]
    assert sorted(names(Person.objects.exclude(score=None))) == ["Draco", "Harry", "Hermione", "Luna", "Ron"]
    assert Person.objects.exclude(house="Gryffindor", age=17).count() == 4
    harry = people["Harry"]
    assert "Harry" not in names(Person.objects.exclude(id=harry.id))


def test_ordering(people: dict[str, Person]) -> None:
    by_age = names(Person.objects.order_by("age", "name"))
    assert by_age == ["Luna", "Draco", "Harry", "Ron", "Hermione", "Cedric"]
    assert names(Person.objects.order_by("-name"))[:2] == ["Ron", "Luna"]
    assert names(Person.objects.filter(house="Gryffindor").order_by("-name")) == ["Ron", "Hermione", "Harry"]
    # by an indexed number (Redis), nulls last in both directions
    assert names(Person.objects.order_by("born")) == ["Harry", "Hermione", "Ron", "Draco", "Luna", "Cedric"]
    assert names(Person.objects.order_by("-born")) == ["Luna", "Draco", "Ron", "Hermione", "Harry", "Cedric"]
    assert names(Person.objects.order_by("-born")[4:6]) == ["Harry", "Cedric"]
    assert names(Person.objects.order_by("-born")[5:]) == ["Cedric"]
    assert names(Person.objects.order_by("score")) == ["Harry", "Ron", "Draco", "Luna", "Hermione", "Cedric"]
    result = names(Person.objects.filter(score__gt=1).order_by("-age"))  # Redis orders, Python filters
    assert result[0] == "Hermione" and set(result[1:4]) == {"Harry", "Ron", "Draco"} and result[4:] == ["Luna"]
    with pytest.raises(QueryError, match=r"no attribute 'nope'"):
        Person.objects.order_by("nope")


def test_slicing_count_first_exists(people: dict[str, Person], round_trips: Any) -> None:
    everyone = names(Person.objects.all())
    assert len(everyone) == 6
    assert names(Person.objects.all()[1:3]) == everyone[1:3]
    assert names(Person.objects.all()[2:][1:2]) == everyone[3:4]
    assert names(Person.objects.all()[4:100]) == everyone[4:]
    assert names(Person.objects.all()[3:3]) == []
    assert Person.objects.all()[0].name.split()[0] == everyone[0]
    assert Person.objects.all()[-1].name.split()[0] == everyone[-1]
    with pytest.raises(IndexError):
        Person.objects.all()[10]
    ordered = Person.objects.order_by("age")
    assert names(ordered[:2]) == ["Luna", names(ordered)[1]]
    assert Person.objects.count() == 6
    assert Person.objects.filter(house="Gryffindor").count() == 3
    assert Person.objects.filter(house="Gryffindor")[1:].count() == 2
    assert Person.objects.filter(age__gte=17)[:2].count() == 2
    assert Person.objects.filter(house="Nowhere").first() is None
    assert Person.objects.order_by("-age").first().name == "Cedric Diggory"  # type: ignore[union-attr]
    assert Person.objects.filter(house="Ravenclaw").exists()
    assert not Person.objects.filter(house="Nowhere").exists()
    assert Person.objects.exists()
    with pytest.raises(QueryError, match=r"sliced"):
        Person.objects.all()[:2].filter(age=3)
    with round_trips() as trips:
        assert Person.objects.filter(house="Gryffindor").count() == 3
    assert trips.count == 1
    with round_trips() as trips:
        assert names(Person.objects.order_by("age")[:2]) == names(Person.objects.order_by("age"))[:2]
    assert trips.count == 4  # two queries, 2 round trips each


def test_slices_are_applied_by_redis_before_loading(people: dict[str, Person], db: redis.Redis, monkeypatch: Any) -> None:
    loaded: list[int] = []
    original = query_module.load_records_steps

    def spy(model: Any, client: Any, ids: Any, *args: Any, **kwargs: Any) -> Any:
        loaded.append(len(ids))
        return original(model, client, ids, *args, **kwargs)

    monkeypatch.setattr(query_module, "load_records_steps", spy)
    assert len(Person.objects.all()[:2]) == 2
    assert len(Person.objects.filter(age__gte=17)[1:3]) == 2
    assert len(Person.objects.order_by("-age")[:1]) == 1
    assert len(Person.objects.filter(house="Gryffindor")[:1]) == 1
    assert loaded == [2, 2, 1, 1]


def test_a_filtered_query_is_two_round_trips(people: dict[str, Person], round_trips: Any) -> None:
    for query in (
        Person.objects.filter(house="Gryffindor"),
        Person.objects.filter(house="Gryffindor", age__gte=17),
        Person.objects.filter(name__startswith="H", age__in=[17, 18]),
        Person.objects.filter(age__gte=16).exclude(house="Slytherin").order_by("-age")[:3],
        Person.objects.filter(nick=None),  # a scan: still 2
    ):
        with round_trips() as trips:
            assert len(list(query)) > 0
        assert trips.count == 2, query


def test_get_and_delete(people: dict[str, Person], db: redis.Redis) -> None:
    harry = people["Harry"]
    assert Person.objects.get(id=harry.id) == harry
    assert Person.objects.get(id=str(harry.id)) == harry
    assert Person.objects.get(email="harry@hogwarts.uk") == harry
    assert Person.objects.filter(house="Gryffindor").get(age=18).name == "Hermione Granger"
    with pytest.raises(Person.DoesNotExist):
        Person.objects.get(id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(Person.MultipleObjectsReturned):
        Person.objects.get(house="Gryffindor")
    assert Person.objects.filter(house="Gryffindor").delete() == 3
    assert Person.objects.count() == 3
    assert Person.objects.check() == []
    assert Person.objects.delete() == 3
    assert every_key(db, "*") == []


def test_pk_filters_only_match_existing_records(people: dict[str, Person]) -> None:
    harry = people["Harry"]
    ghost = "00000000-0000-0000-0000-000000000000"
    assert Person.objects.filter(id__in=[harry.id, ghost]).count() == 1
    assert names(Person.objects.filter(id__in=[harry.id, ghost], age=17)) == ["Harry"]


def test_query_errors(db: redis.Redis) -> None:
    with pytest.raises(QueryError, match=r"Person has no attribute 'nope'"):
        Person.objects.filter(nope=1)
    with pytest.raises(QueryError, match=r"unknown lookup 'contains'"):
        Person.objects.filter(name__contains="x")
    with pytest.raises(QueryError, match=r"range lookups need a number"):
        Person.objects.filter(house__gt="A")
    with pytest.raises(QueryError, match=r"startswith needs a Unicode"):
        Person.objects.filter(age__startswith="1")
    with pytest.raises(QueryError, match=r"takes a list"):
        Person.objects.filter(age__in=5)
    with pytest.raises(QueryError, match=r"takes a \(low, high\) pair"):
        Person.objects.filter(age__range=5)


def test_result_set_is_lazy_and_cached(people: dict[str, Person], round_trips: Any) -> None:
    query = Person.objects.filter(house="Gryffindor").order_by("-name")
    with round_trips() as trips:
        assert len(query) == 3
        assert query[0].name == "Ron Weasley"
        assert query[1].name == "Hermione Granger"
        assert [p.name for p in query][2] == "Harry Potter"
        assert query.count() == 3
    assert trips.count == 2
    assert "Gryffindor" in repr(query)
