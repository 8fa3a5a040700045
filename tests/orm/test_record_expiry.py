"""Record expiry: ``Meta.ttl``, ``expire()`` / ``persist()`` / ``ttl()``, and self-cleaning indexes."""

from __future__ import annotations

import threading
import time

import pytest
import redis

import redpocket
from redpocket import ActiveRecord, attributes


class LoginSession(ActiveRecord):
    class Meta:
        ttl = 0.3

    token = attributes.Unicode(unique=True)
    user = attributes.Unicode(index=True)
    hits = attributes.Integer(index=True, default=0)
    label = attributes.Unicode(index="prefix", null=True)
    blob = attributes.ByteStream(null=True)


class PageVisit(ActiveRecord):
    session = attributes.Pointer(LoginSession, null=True)
    page = attributes.Unicode(index=True)


def wait_until_expired(seconds: float = 0.35) -> None:
    time.sleep(seconds)


def test_expired_record_vanishes_from_every_read(db: redis.Redis) -> None:
    session = LoginSession.create(token="t1", user="ann", hits=3, label="web", blob=b"data")
    visit = PageVisit.create(session=session, page="/")
    assert 0 < session.ttl() <= 0.3
    assert LoginSession.objects.filter(user="ann").count() == 1
    wait_until_expired()
    with pytest.raises(LoginSession.DoesNotExist):
        LoginSession.objects.get(id=session.id)
    with pytest.raises(LoginSession.DoesNotExist):
        LoginSession.objects.get(token="t1")
    assert LoginSession.objects.count() == 0
    assert LoginSession.objects.filter(user="ann").count() == 0
    assert list(LoginSession.objects.filter(hits__gte=0)) == []
    assert list(LoginSession.objects.order_by("-hits")) == []
    assert LoginSession.objects.filter(label__startswith="w").count() == 0
    assert LoginSession.objects.get_many([session.id]) == [None]
    assert PageVisit.objects.get(id=visit.id).session is None  # a dangling pointer
    assert LoginSession.objects.check() == []
    assert db.exists(session.keys()["hash"], session.keys()["strings"]["blob"]) == 0
    with pytest.raises(LoginSession.DoesNotExist):
        session.ttl()


def test_unique_value_is_free_again_after_expiry(db: redis.Redis) -> None:
    LoginSession.create(token="same", user="ann")
    wait_until_expired()
    again = LoginSession.create(token="same", user="bob")  # no read in between: the save sweeps
    assert LoginSession.objects.get(token="same").id == again.id
    assert LoginSession.objects.check() == []


def test_expire_persist_and_ttl_on_a_model_without_meta_ttl(db: redis.Redis) -> None:
    visit = PageVisit.create(page="/a")
    assert visit.ttl() is None
    assert visit.expire(100) is True
    assert 99 < visit.ttl() <= 100
    assert visit.persist() is True
    assert visit.ttl() is None
    visit.expire(0.2)
    wait_until_expired(0.3)
    assert visit.expire(10) is False and visit.persist() is False
    assert PageVisit.objects.filter(page="/a").count() == 0
    with pytest.raises(ValueError):
        PageVisit.create(page="/b").expire(0)


def test_persist_keeps_a_record_past_its_ttl(db: redis.Redis) -> None:
    session = LoginSession.create(token="kept", user="ann")
    session.persist()
    wait_until_expired()
    assert LoginSession.objects.get(token="kept").user == "ann"


def test_saving_an_expired_record_stores_it_again(db: redis.Redis) -> None:
    session = LoginSession.create(token="back", user="ann")
    wait_until_expired()
    session.user = "bob"
    session.save()
    stored = LoginSession.objects.get(token="back")
    assert stored.user == "bob"
    assert LoginSession.objects.check() == []


def test_update_and_incr_of_an_expired_record(db: redis.Redis) -> None:
    session = LoginSession.create(token="gone", user="ann")
    wait_until_expired()
    with pytest.raises(LoginSession.DoesNotExist):
        session.incr("hits")
    assert LoginSession.objects.count() == 0
    assert LoginSession.objects.filter(token="gone").update(hits=1) == 0


def test_delete_of_an_expired_record(db: redis.Redis) -> None:
    session = LoginSession.create(token="del", user="ann")
    wait_until_expired()
    assert session.delete() == 0
    assert LoginSession.objects.check() == []


def test_manual_expire_on_a_record_key_is_reported_by_check(db: redis.Redis) -> None:
    visit = PageVisit.create(page="/x")
    db.pexpire(visit.keys()["hash"], 1)
    time.sleep(0.05)
    problems = PageVisit.objects.check()
    assert any("does not exist" in p for p in problems)
    PageVisit.objects.rebuild_indexes()
    assert PageVisit.objects.check() == []


def test_ten_thousand_records_expire_under_concurrent_reads_and_writes(db: redis.Redis) -> None:
    class ExpiringToken(ActiveRecord):
        class Meta:
            ttl = 1.5

        value = attributes.Unicode(unique=True)
        group = attributes.Integer(index=True)

    for offset in range(0, 10_000, 1000):
        with redpocket.pipeline() as pipe:
            for n in range(offset, offset + 1000):
                ExpiringToken.create(value=f"v{n}", group=n % 7, pipe=pipe)
    errors: list[BaseException] = []
    stop = threading.Event()
    kept: list[ExpiringToken] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                count = ExpiringToken.objects.filter(group=3).count()
                assert count >= 0
                list(ExpiringToken.objects.filter(group=3)[:20])
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    def writer() -> None:
        try:
            n = 0
            while not stop.is_set():
                record = ExpiringToken.create(value=f"w{n}", group=3)
                record.persist()
                kept.append(record)
                n += 1
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    time.sleep(1.7)  # the last record created expires 1.5 s after the creation ended
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert ExpiringToken.objects.check() == []
    assert ExpiringToken.objects.count() == len(kept)
    assert ExpiringToken.objects.filter(group=3).count() == len(kept)
    ExpiringToken.create(value="v1", group=1)  # an expired record's unique value is free


def test_reads_survive_a_script_flush(db: redis.Redis) -> None:
    LoginSession.create(token="f", user="ann")
    db.script_flush()  # every master of a cluster
    assert LoginSession.objects.filter(user="ann").count() == 1
    db.script_flush()
    assert LoginSession.objects.get(token="f").user == "ann"


class TenantSession(ActiveRecord):
    class Meta:
        ttl = 0.3
        partition = "tenant"

    tenant = attributes.Unicode()
    token = attributes.Unicode(unique=True)
    hits = attributes.Integer(index=True, default=0)


def test_partitioned_records_expire_in_every_partition(db: redis.Redis) -> None:
    kept = TenantSession.create(tenant="acme", token="keep")
    kept.persist()
    for tenant in ("acme", "globex"):
        for n in range(3):
            TenantSession.create(tenant=tenant, token=f"{tenant}{n}", hits=n)
    assert TenantSession.objects.count() == 7
    wait_until_expired()
    assert TenantSession.objects.count() == 1
    assert TenantSession.objects.filter(tenant="globex").count() == 0
    assert [s.token for s in TenantSession.objects.filter(hits__gte=0)] == ["keep"]
    assert TenantSession.objects.get_many([kept.id]) == [kept]
    TenantSession.create(tenant="globex", token="globex1")  # the unique value is free again
    assert TenantSession.objects.check() == []
