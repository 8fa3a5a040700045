"""ORM on a Redis Cluster: one slot per model, partitioned models spread over the nodes and fan-out queries."""

from __future__ import annotations

from typing import Any

import pytest

from redpocket import ActiveRecord, DefinitionError, UniqueError, ValidationError, attributes


class Tenant(ActiveRecord):
    name = attributes.Unicode(unique=True)


class Doc(ActiveRecord):
    tenant = attributes.Unicode()
    title = attributes.Unicode(index=True)
    rank = attributes.Integer(index=True, null=True)
    slug = attributes.Unicode(index="prefix")
    email = attributes.Unicode(unique=True, null=True)
    owner = attributes.Pointer(Tenant, null=True)
    body = attributes.ByteStream()

    class Meta:
        partition = "tenant"


TENANTS = [f"t{i}" for i in range(8)]


def populate() -> list[Doc]:
    docs = []
    for i in range(80):
        tenant = TENANTS[i % len(TENANTS)]
        docs.append(Doc.create(tenant=tenant, title="even" if i % 2 == 0 else "odd", rank=None if i % 10 == 3 else i,
                               slug=f"s{i:03d}", email=f"{i}@x", body=b"b%d" % i))
    return docs


def test_partitions_spread_over_the_nodes_and_keep_their_keys_in_one_slot(cluster_db: Any) -> None:
    docs = populate()
    slots = {cluster_db.keyslot(f"{{redpocket:Doc:{t}}}") for t in TENANTS}
    nodes = {cluster_db.nodes_manager.get_node_from_slot(s).name for s in slots}
    assert len(nodes) >= 2
    doc = docs[5]
    keys = doc.save()
    assert keys["hash"] == f"{{redpocket:Doc:{doc.tenant}}}:id:{doc.id}"
    assert keys["strings"]["body"] == f"{{redpocket:Doc:{doc.tenant}}}:stream:body:{doc.id}"
    assert cluster_db.hget("{redpocket:Doc}:partition_of", str(doc.id)) == doc.tenant.encode()
    assert cluster_db.smembers("{redpocket:Doc}:partitions") == {t.encode() for t in TENANTS}
    assert Doc.objects.check() == []


def test_query_naming_the_partition_runs_on_one_node(cluster_db: Any, node_sends: list[str]) -> None:
    populate()
    node = cluster_db.nodes_manager.get_node_from_slot(cluster_db.keyslot("{redpocket:Doc:t3}")).name
    node_sends.clear()
    found = list(Doc.objects.filter(tenant="t3", title="odd").order_by("-rank"))
    assert [d.rank for d in found] == [75, 67, 59, 51, 35, 27, 19, 11, None, None]
    assert set(node_sends) == {node} and len(node_sends) == 2  # the ids, then the records


def test_fan_out_merges_then_orders_and_slices(cluster_db: Any, node_sends: list[str]) -> None:
    docs = populate()
    node_sends.clear()
    query = Doc.objects.filter(title="even").order_by("-rank")
    expected = sorted([d for d in docs if d.title == "even" and d.rank is not None], key=lambda d: -d.rank)
    expected += [d for d in docs if d.title == "even" and d.rank is None]
    assert [d.id for d in query[2:7]] == [d.id for d in expected[2:7]]
    # partitions, then one batch per node for the ids and one for the records
    assert len(node_sends) <= 1 + 2 * 3
    assert query.count() == 40
    assert sorted(d.slug for d in Doc.objects.filter(slug__startswith="s01")) == [f"s01{i}" for i in range(10)]
    assert Doc.objects.filter(rank__gte=70).count() == 9  # 73 has no rank
    assert [d.rank for d in Doc.objects.filter(rank__lt=5).order_by("rank")] == [0, 1, 2, 4]
    assert len(Doc.objects.filter(tenant__in=["t1", "t2"])) == 20
    assert Doc.objects.filter(tenant__startswith="t1").count() == 10  # not a partition lookup: tested per record
    assert Doc.objects.exclude(title="odd").count() == 40
    unordered = Doc.objects.all()[10:15]
    assert [str(d.id) for d in unordered] == sorted(str(d.id) for d in docs)[10:15]  # by id, across partitions


def test_get_by_id_and_pointers_find_the_partition(cluster_db: Any) -> None:
    acme = Tenant.create(name="acme")
    doc = Doc.create(tenant="acme", title="x", slug="a", owner=acme, body=b"hello")
    loaded = Doc.objects.get(id=doc.id)
    assert loaded.tenant == "acme" and loaded.body.read() == b"hello"
    assert Doc.objects.get_many([doc.id, "00000000-0000-0000-0000-000000000000"])[1] is None
    assert loaded.owner == acme
    loaded.body.append(b" world")
    assert Doc.objects.get(id=doc.id).body.read() == b"hello world"
    loaded.update(title="y")
    assert Doc.objects.get(title="y", tenant="acme").id == doc.id
    assert loaded.refresh().title == "y"
    assert loaded.delete() == 2
    assert not cluster_db.hexists("{redpocket:Doc}:partition_of", str(doc.id))
    with pytest.raises(Doc.DoesNotExist):
        Doc.objects.get(id=doc.id)


def test_uniqueness_is_per_partition(cluster_db: Any) -> None:
    Doc.create(tenant="a", title="x", slug="1", email="same@x")
    Doc.create(tenant="b", title="x", slug="2", email="same@x")  # another partition: allowed
    with pytest.raises(UniqueError):
        Doc.create(tenant="a", title="x", slug="3", email="same@x")
    assert Doc.objects.filter(email="same@x").count() == 2
    assert Doc.objects.check() == []


def test_the_partition_cannot_change(cluster_db: Any) -> None:
    doc = Doc.create(tenant="a", title="x", slug="1")
    doc.tenant = "b"
    with pytest.raises(ValidationError, match="partition of a saved record cannot change"):
        doc.save()
    with pytest.raises(DefinitionError, match="partition"):
        class Broken(ActiveRecord):
            tenant = attributes.Unicode(null=True)

            class Meta:
                partition = "tenant"


def test_partitioned_bulk_pipeline_and_rebuild(cluster_db: Any) -> None:
    import redpocket

    with redpocket.pipeline() as pipe:
        docs = [Doc.create(tenant=TENANTS[i % 3], title="bulk", slug=f"b{i}", rank=i, pipe=pipe) for i in range(60)]
    assert Doc.objects.filter(title="bulk").count() == 60
    with redpocket.pipeline() as pipe:
        for doc in docs[:30]:
            doc.delete(pipe=pipe)
    assert Doc.objects.count() == 30
    cluster_db.delete("{redpocket:Doc:t1}:num:rank")
    assert Doc.objects.check() != []
    assert Doc.objects.rebuild_indexes(progress=False) == 30
    assert Doc.objects.check() == []
    assert Doc.objects.filter(rank__gte=50).count() == 10
