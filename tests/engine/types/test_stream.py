"""The stream type API: appending, ranges, nodes and trimming, deletion, groups and their counters."""

from __future__ import annotations

import pytest

from redpocket.engine.types.stream import (
    INVALID_ENTRIES_READ,
    MAX_ID,
    MIN_ID,
    UINT64_MAX,
    InvalidNodeError,
    Stream,
    format_id,
    next_id,
    previous_id,
)


def filled(count: int, node_entries: int = 100, node_bytes: int = 4096, fields: list[bytes] | None = None) -> Stream:
    """Return a stream of ``count`` entries with IDs 1-0, 2-0 ..."""
    stream = Stream()
    for ms in range(1, count + 1):
        stream.append((ms, 0), list(fields or [b"f", b"v"]), node_entries, node_bytes)
    return stream


def test_id_arithmetic_wraps_at_the_edges() -> None:
    assert next_id((1, 5)) == (1, 6)
    assert next_id((1, UINT64_MAX)) == (2, 0)
    assert next_id(MAX_ID) is None
    assert previous_id((2, 0)) == (1, UINT64_MAX)
    assert previous_id(MIN_ID) is None
    assert format_id((5, 7)) == b"5-7"


def test_new_ids_follow_the_clock_and_never_go_back() -> None:
    stream = Stream()
    assert stream.new_id(now_ms=100) == (100, 0)
    stream.append((100, 0), [b"f", b"v"], 100, 4096)
    assert stream.new_id(now_ms=50) == (100, 1)  # the clock went back: the sequence grows
    assert stream.new_id(now_ms=200) == (200, 0)
    assert stream.new_id(now_ms=0, ms=100) == (100, 1)  # "100-*"
    assert stream.new_id(now_ms=0, ms=300) == (300, 0)
    stream.last_id = (7, UINT64_MAX)
    assert stream.new_id(now_ms=0, ms=7) is None


def test_ranges_are_inclusive_ordered_and_counted() -> None:
    stream = filled(10)
    assert [i for i, _ in stream.range((3, 0), (5, 0))] == [(3, 0), (4, 0), (5, 0)]
    assert [i for i, _ in stream.range(MIN_ID, MAX_ID, count=2, reverse=True)] == [(10, 0), (9, 0)]
    assert list(stream.range((6, 0), (5, 0))) == []
    assert stream.first_id == (1, 0) and stream.last_live_id() == (10, 0)


def test_nodes_fill_up_by_entry_count_and_bytes() -> None:
    assert len(filled(10, node_entries=3).nodes) == 4
    assert len(filled(10, node_entries=0).nodes) == 1  # 0: no entry limit
    # Each entry with a 30-byte value takes ~40 bytes of listpack: a 100-byte node holds two.
    assert len(filled(6, node_bytes=100, fields=[b"f", b"x" * 30]).nodes) == 3


def test_delete_leaves_tombstones_and_frees_an_emptied_node() -> None:
    stream = filled(6, node_entries=3)
    assert stream.delete((2, 0)) and not stream.delete((2, 0))
    assert len(stream) == 5 and len(stream.nodes) == 2
    assert stream.max_deleted_id == (2, 0)
    stream.delete((1, 0))
    stream.delete((3, 0))
    assert len(stream.nodes) == 1  # the first node held only tombstones
    assert stream.first_id == (4, 0)
    stream.delete((7, 0))
    assert stream.max_deleted_id == (3, 0)


def test_exact_and_approximate_maxlen_trimming() -> None:
    stream = filled(10, node_entries=3)
    assert stream.trim(maxlen=8, approx=True) == 0  # removing the first node would leave 7
    assert stream.trim(maxlen=7, approx=True) == 3
    assert stream.trim(maxlen=5) == 2
    assert [i for i, _ in stream.range(MIN_ID, MAX_ID)] == [(ms, 0) for ms in range(6, 11)]
    # The node left with one live entry goes; the next would take the total past the limit.
    assert stream.trim(maxlen=0, limit=3) == 1
    assert len(stream) == 4


def test_minid_trimming_and_limit() -> None:
    stream = filled(9, node_entries=3)
    assert stream.trim(minid=(5, 0), approx=True) == 3  # only the first node ends below 5-0
    assert stream.trim(minid=(5, 0)) == 1
    assert stream.first_id == (5, 0)
    other = filled(9, node_entries=3)
    assert other.trim(maxlen=0, approx=True, limit=4) == 3  # a second node would exceed the limit


def test_groups_deliver_assign_and_acknowledge() -> None:
    stream = filled(3)
    group = stream.create_group(b"g", MIN_ID, 0)
    assert group is not None and stream.create_group(b"g", MIN_ID, 0) is None
    alice = group.create_consumer(b"alice", now_ms=10)
    bob = group.create_consumer(b"bob", now_ms=10)
    assert alice is not None and bob is not None and group.create_consumer(b"bob", 11) is None
    for stream_id, _fields in stream.range(MIN_ID, MAX_ID):
        stream.advance_group(group, stream_id)
        group.deliver(stream_id, alice, now_ms=20)
    assert group.last_id == (3, 0) and group.entries_read == 3 and stream.lag(group) == 0
    assert list(alice.pending) == [(1, 0), (2, 0), (3, 0)]
    nack = group.pending[(2, 0)]
    group.assign((2, 0), nack, bob)
    assert list(bob.pending) == [(2, 0)] and (2, 0) not in alice.pending
    assert group.acknowledge((2, 0)) and not group.acknowledge((2, 0))
    assert group.delete_consumer(alice) == 2
    assert not group.pending and list(group.consumers) == [b"bob"]


def test_lag_and_entries_read_follow_redis_rules() -> None:
    stream = filled(5)
    group = stream.create_group(b"g", (2, 0), INVALID_ENTRIES_READ)
    assert group is not None
    assert stream.lag(group) is None  # an arbitrary ID in the middle: unknown
    stream.advance_group(group, (3, 0))
    assert group.entries_read == INVALID_ENTRIES_READ  # still in the middle
    stream.advance_group(group, (5, 0))
    assert group.entries_read == 5 and stream.lag(group) == 0
    stream.delete((1, 0))
    assert stream.estimate_entries_read((1, 0)) == 1  # before the first entry, no tombstone after it
    assert stream.estimate_entries_read((2, 0)) == 2
    stream.delete((3, 0))
    assert stream.estimate_entries_read((2, 0)) == INVALID_ENTRIES_READ  # a tombstone ahead
    fresh = Stream()
    empty_group = fresh.create_group(b"g", MIN_ID, INVALID_ENTRIES_READ)
    assert empty_group is not None and fresh.lag(empty_group) == 0


@pytest.mark.parametrize(("masters", "expected"), [(0, 1), (1, 2), (2, 6), (3, 8), (5, 12)])
def test_radix_tree_node_counts(masters: int, expected: int) -> None:
    # The counts redis-server 7.0 reports for streams whose nodes start at 1-0, 2-0 ... (one entry per node).
    stream = filled(masters, node_entries=1)
    assert len(stream.nodes) == masters
    assert stream.radix_tree_nodes() == expected


def test_copy_is_deep() -> None:
    stream = filled(3)
    group = stream.create_group(b"g", MIN_ID, 0)
    assert group is not None
    consumer = group.create_consumer(b"c", now_ms=1)
    assert consumer is not None
    group.deliver((1, 0), consumer, now_ms=5)
    twin = stream.copy()
    twin.delete((1, 0))
    twin.groups[b"g"].acknowledge((1, 0))
    assert len(stream) == 3 and list(group.pending) == [(1, 0)] and list(consumer.pending) == [(1, 0)]
    copied = twin.copy().groups[b"g"]
    assert copied.consumers[b"c"].seen_time == 1


def test_a_loader_rebuilds_pending_entries_with_their_times() -> None:
    stream = filled(2)
    group = stream.create_group(b"g", (2, 0), 2)
    assert group is not None
    consumer = group.create_consumer(b"c", now_ms=123)
    assert consumer is not None
    nack = group.add_pending((1, 0), consumer, delivery_time=1000, delivery_count=4)
    assert group.pending[(1, 0)] is nack and consumer.pending[(1, 0)] is nack
    assert (nack.consumer, nack.delivery_time, nack.delivery_count) == (consumer, 1000, 4)
    assert consumer.seen_time == 123


def test_nodes_keep_their_tombstones_until_they_go() -> None:
    stream = filled(6, node_entries=3)
    stream.delete((2, 0))
    stream.trim(maxlen=4)  # exact: 1-0 becomes a tombstone of the first node
    first = stream.nodes[(1, 0)]
    assert first.tombstones == {(1, 0): [b"f", b"v"], (2, 0): [b"f", b"v"]}
    assert (first.live, first.deleted) == (1, 2)
    twin = stream.copy()
    assert twin.nodes[(1, 0)].tombstones == first.tombstones
    assert twin.nodes[(1, 0)].tombstones[(1, 0)] is not first.tombstones[(1, 0)]
    stream.delete((3, 0))
    assert list(stream.nodes) == [(4, 0)]  # the emptied node went, its tombstones with it


def test_a_loaded_node_fills_up_as_the_listpack_it_came_from() -> None:
    built = filled(2, node_entries=3)
    built.delete((1, 0))
    size = built.nodes[(1, 0)].size()
    loaded = Stream()
    loaded.load_nodes([((1, 0), (b"f",), [((1, 0), [b"f", b"v"], True), ((2, 0), [b"f", b"v"], False)], size)])
    node = loaded.nodes[(1, 0)]
    assert (node.live, node.deleted, node.last_id, node.size()) == (1, 1, (2, 0), size)
    assert list(loaded.entries) == [(2, 0)] and node.tombstones == {(1, 0): [b"f", b"v"]}
    loaded.last_id = (2, 0)
    loaded.append((3, 0), [b"f", b"v"], 3, 4096)
    loaded.append((4, 0), [b"f", b"v"], 3, 4096)  # the node holds three entries, tombstone included
    assert list(loaded.nodes) == [(1, 0), (4, 0)]


@pytest.mark.parametrize(("nodes", "index"), [
    ([((1, 0), (b"f",), [((2, 0), [b"f", b"v"], False), ((1, 5), [b"f", b"v"], False)], 40)], 0),  # IDs out of order
    ([((1, 0), (b"f",), [((0, 9), [b"f", b"v"], False)], 40)], 0),  # below the master ID
    ([((1, 0), (b"f",), [((1, 0), [b"f", b"v"], True)], 40)], 0),  # nothing live
    ([((1, 0), (b"f",), [((1, 0), [b"f", b"v"], False)], 30),
      ((1, 0), (b"f",), [((1, 1), [b"f", b"v"], False)], 30)], 1),  # nodes out of order
    ([((5, 0), (b"f",), [((5, 0), [b"f", b"v"], False), ((7, 0), [b"f", b"v"], False)], 30),
      ((6, 0), (b"f",), [((6, 0), [b"f", b"v"], False)], 30)], 1),  # overlapping nodes
])
def test_load_nodes_refuses_what_redis_never_writes_and_changes_nothing(nodes, index: int) -> None:
    stream = Stream()
    with pytest.raises(InvalidNodeError) as refused:
        stream.load_nodes(nodes)
    assert refused.value.index == index
    assert not stream.nodes and not stream.entries
