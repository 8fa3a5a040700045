"""Pointers: loading on access, related_name queries, batched loading, dangling pointers."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from redpocket import ActiveRecord, ValidationError, attributes


class Team(ActiveRecord):
    name = attributes.Unicode(unique=True)


class Player(ActiveRecord):
    name = attributes.Unicode()
    team = attributes.Pointer(Team, index=True, related_name="players")
    mentor = attributes.Pointer("Player", null=True)  # by name, to itself
    former = attributes.Pointer(Team, null=True)


def test_pointer_loads_the_record_on_first_access(db: redis.Redis, round_trips: Any) -> None:
    team = Team.create(name="Gryffindor")
    player = Player.create(name="Harry", team=team)
    assert db.hget(player.keys()["hash"], "team") == str(team.id).encode()
    loaded = Player.objects.get(id=player.id)
    with round_trips() as trips:
        assert loaded.team == team
        assert loaded.team.name == "Gryffindor"
    assert trips.count == 1
    assert loaded.to_dict()["team"] == team.id
    assert loaded.mentor is None
    loaded.mentor = player
    loaded.save()
    assert Player.objects.get(id=player.id).mentor.name == "Harry"


def test_related_name_gives_a_query(db: redis.Redis) -> None:
    gryffindor, slytherin = Team.create(name="Gryffindor"), Team.create(name="Slytherin")
    for name in ("Harry", "Ron"):
        Player.create(name=name, team=gryffindor)
    Player.create(name="Draco", team=slytherin)
    assert sorted(p.name for p in gryffindor.players) == ["Harry", "Ron"]
    assert gryffindor.players.count() == 2
    assert [p.name for p in slytherin.players.order_by("name")] == ["Draco"]
    assert gryffindor.players.filter(name="Ron").get().name == "Ron"


def test_pointer_filters_take_a_record_or_an_id(db: redis.Redis) -> None:
    team = Team.create(name="Ravenclaw")
    Player.create(name="Luna", team=team)
    assert [p.name for p in Player.objects.filter(team=team)] == ["Luna"]
    assert [p.name for p in Player.objects.filter(team=team.id)] == ["Luna"]
    assert [p.name for p in Player.objects.filter(team=str(team.id))] == ["Luna"]
    assert [p.name for p in Player.objects.filter(team__in=[team])] == ["Luna"]
    assert Player.objects.filter(former=team).count() == 0  # not indexed: Python
    assert Player.objects.get(name="Luna").matches({"team": team})
    with pytest.raises(ValidationError, match=r"expected a Team, got a Player"):
        Player.objects.filter(team=Player(name="x", team=team))
    with pytest.raises(ValidationError, match=r"save it first"):
        Player(name="x", team=Team(name="unsaved", id=None))


def test_many_records_load_their_pointers_in_one_batch(db: redis.Redis, round_trips: Any) -> None:
    teams = [Team.create(name=f"team {i}") for i in range(5)]
    for i in range(20):
        Player.create(name=f"player {i}", team=teams[i % 5])
    with round_trips() as trips:
        players = list(Player.objects.all())
        assert trips.count == 2
        team_names = {p.team.name for p in players}
    assert team_names == {f"team {i}" for i in range(5)}
    assert trips.count == 3  # one batch for every player's team: no N+1
    with round_trips() as trips:
        many = Player.objects.get_many([p.id for p in players])
        assert {p.team.name for p in many} == team_names
    assert trips.count == 2


def test_dangling_pointer(db: redis.Redis) -> None:
    team = Team.create(name="Hufflepuff")
    player = Player.create(name="Cedric", team=team, former=team)
    team.delete()
    loaded = Player.objects.get(id=player.id)
    assert loaded.former is None  # null=True: a dangling pointer reads as None
    with pytest.raises(Team.DoesNotExist, match=r"Player.team points to Team .* which does not exist"):
        loaded.team  # noqa: B018
    batch = list(Player.objects.all())
    with pytest.raises(Team.DoesNotExist):
        batch[0].team  # noqa: B018
    assert batch[0].former is None
