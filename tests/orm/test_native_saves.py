"""REDPOCKET.APPLY, the native twin of ``scripts/apply.lua`` on redpocket's engine.

The ORM suite runs on ``embedded`` (native) and ``embedded-lua`` (the
script) to hold both to one specification; these tests cover what is the
command's own: the append-only file, argument checking, keys, MULTI.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis
from tests.engine.persistence.persistence_helpers import aof_bytes, close, dataset

import redpocket
from redpocket import ActiveRecord, F, attributes
from redpocket.client import EmbeddedRedis
from redpocket.client_async import AsyncEmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.persistence import open_persistent_engine
from redpocket.orm.unit import NATIVE_APPLY, Change, native_apply


class Ticket(ActiveRecord):
    class Meta:
        namespace = "native"
        ttl = 30

    code = attributes.Unicode(unique=True)
    state = attributes.Unicode(index=True)
    views = attributes.Integer(index=True, default=0)
    title = attributes.Unicode(index="prefix")


@pytest.fixture
def store(tmp_path: Path):
    engine = open_persistent_engine(tmp_path, appendfsync="always")
    client = EmbeddedRedis(engine)
    redpocket.connect(client)
    yield engine, client
    redpocket.disconnect()


def test_the_embedded_client_saves_natively_and_redis_does_not(store, redis_server) -> None:
    _, client = store
    assert native_apply(client)
    assert type(Ticket._meta).apply_script(Ticket._meta) is NATIVE_APPLY
    assert not native_apply(redis_server.client())


def test_replaying_the_append_only_file_gives_the_same_data(store, tmp_path: Path) -> None:
    engine, _ = store
    tickets = [Ticket.create(code=f"c{i}", state="open", title=f"ticket {i}") for i in range(20)]
    with redpocket.pipeline() as pipe:
        for ticket in tickets[:10]:
            ticket.update(state="closed", views=F("views") + 3, pipe=pipe)
    tickets[3].incr("views", 2)
    tickets[4].code = "c4-renamed"
    tickets[4].save()
    tickets[5].expire(0.05)
    tickets[6].persist()
    for ticket in tickets[15:]:
        ticket.delete()
    log = aof_bytes(tmp_path)
    assert b"REDPOCKET.APPLY" in log and b"\r\nAT\r\n" in log
    assert b"EVAL" not in log
    before = dataset(engine)
    close(engine)
    time.sleep(0.1)  # ticket 5's deadline passed: the replay decides with the first run's clock all the same
    reopened = open_persistent_engine(tmp_path)
    try:
        assert dataset(reopened) == before
    finally:
        close(reopened)


def test_a_save_replayed_after_the_record_expired_still_applies(store, tmp_path: Path) -> None:
    engine, _ = store
    ticket = Ticket.create(code="soon", state="open", title="short")
    ticket.expire(0.2)
    ticket.update(state="closed")  # before its deadline: written
    before = dataset(engine)
    close(engine)
    time.sleep(0.3)
    reopened = open_persistent_engine(tmp_path)
    try:
        assert dataset(reopened) == before
    finally:
        close(reopened)


def plan(record: ActiveRecord) -> tuple[list, list]:
    meta = type(record)._meta
    return Change(record, meta.attribute_names, {}).compile()


def test_a_malformed_plan_is_refused_and_writes_nothing() -> None:
    engine = Engine()
    client = EmbeddedRedis(engine)
    redpocket.connect(client)
    try:
        Ticket.create(code="seed", state="open", title="t")  # (the model's stored schema)
        before = dataset(engine)
        keys, args = plan(Ticket(code="x", state="open", title="t"))
        for broken_keys, broken_args in (
            (keys, args[:-3]),                        # cut short
            (keys, [*args[:-1], "extra", args[-1]]),  # one too many
            (keys[:2], args),                         # too few keys
            (keys, [a if a != "sadd" else "nope" for a in args]),
        ):
            with pytest.raises(redis.ResponseError, match="malformed save plan"):
                client.execute_command("REDPOCKET.APPLY", len(broken_keys), *broken_keys, *broken_args)
        with pytest.raises(redis.ResponseError, match="not an integer"):
            client.execute_command("REDPOCKET.APPLY", "x", "a", "b", "c")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            client.execute_command("REDPOCKET.APPLY", "3")
        assert dataset(engine) == before
        assert client.execute_command("REDPOCKET.APPLY", len(keys), *keys, *args)[0] == b"ok"
    finally:
        redpocket.disconnect()


def test_its_keys_are_declared_and_it_runs_in_a_transaction() -> None:
    client = EmbeddedRedis(Engine())
    redpocket.connect(client)
    try:
        Ticket.create(code="seed", state="open", title="t")
        keys, args = plan(Ticket(code="k", state="open", title="t"))
        found = client.execute_command("COMMAND GETKEYS", "REDPOCKET.APPLY", len(keys), *keys, *args)
        assert found == [k.decode() if isinstance(k, bytes) else k for k in keys]
        pinned = client.execute_command("COMMAND GETKEYS", "REDPOCKET.APPLY", "AT", "1", len(keys), *keys, *args)
        assert pinned == found
        pipe = client.pipeline(transaction=True)
        pipe.execute_command("REDPOCKET.APPLY", len(keys), *keys, *args)
        pipe.execute_command("REDPOCKET.APPLY", len(keys), *keys, *args)
        first, second = pipe.execute()
        assert first[0] == b"ok" and second == [b"stale", b""]  # the second finds the record it thought new
        assert Ticket.objects.get(code="k").state == "open"
    finally:
        redpocket.disconnect()


def test_acl_checks_its_keys() -> None:
    engine = Engine()
    admin = EmbeddedRedis(engine)
    admin.execute_command("ACL", "SETUSER", "narrow", "on", "nopass", "+@all", "~other:*")
    client = EmbeddedRedis(engine, username="narrow", password="")
    redpocket.connect(client)
    try:
        keys, args = plan(Ticket(code="acl", state="open", title="t"))
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command("REDPOCKET.APPLY", len(keys), *keys, *args)
        assert admin.dbsize() == 0
    finally:
        redpocket.disconnect()


def test_async_saves_on_the_embedded_engine_run_natively(store, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, _ = store
    client = AsyncEmbeddedRedis(engine)
    assert native_apply(client)
    assert not native_apply(redis.asyncio.Redis())  # (a server's asyncio client: the script, no question asked)
    sent: list[str] = []
    execute = AsyncEmbeddedRedis.execute_command

    async def spy(self: AsyncEmbeddedRedis, *args: object, **options: object) -> object:
        sent.append(str(args[0]).upper())
        return await execute(self, *args, **options)

    monkeypatch.setattr(AsyncEmbeddedRedis, "execute_command", spy)

    async def save() -> None:
        redpocket.connect_async(client)
        try:
            ticket = Ticket(code="a1", state="open", title="async")
            await ticket.asave()
            ticket.state = "closed"
            await ticket.asave()
        finally:
            await redpocket.disconnect_async()

    asyncio.run(save())
    assert NATIVE_APPLY.name in sent and "EVALSHA" not in sent  # (the first save also stores the schema: a retry)
    assert Ticket.objects.get(code="a1").state == "closed"
