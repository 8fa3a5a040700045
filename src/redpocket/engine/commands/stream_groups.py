"""Consumer-group and introspection commands of streams: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO.

The reading and writing of entries (XADD ... XREADGROUP) and the helpers
these handlers share (ID parsing, replies, propagation) are in
:mod:`.streams`.  As in Redis, these commands count as changes
(``server.dirty``) without signalling the key as modified, and publish the
``xgroup-*`` keyspace events; XCLAIM and XAUTOCLAIM go to the append-only
file as the ``XCLAIM ... JUSTID`` commands Redis propagates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..args import INT64_MAX, to_int
from ..keyspace import now_ms
from ..registry import define, define_container
from ..replies import NO_SUCH_KEY, NOT_INTEGER, NULL_ARRAY, OK, SYNTAX, ReplyError, map_reply
from ..types.stream import (
    INVALID_ENTRIES_READ,
    MAX_ID,
    MIN_ID,
    UINT64_MAX,
    ConsumerGroup,
    Nack,
    Stream,
    StreamID,
    format_id,
)
from .introspection import help_reply
from .streams import (
    as_text,
    count_change,
    entries_reply,
    entry_reply,
    lookup_stream,
    lookup_stream_write,
    nogroup_error,
    parse_id,
    parse_interval,
    propagate_as,
    setid_form,
    subcommand_syntax_error,
    xclaim_form,
)

if TYPE_CHECKING:
    from ..session import Session


# -- XGROUP -------------------------------------------------------------------------------------

define_container("xgroup", -2, "", group="stream", since="5.0.0")


def _xgroup_prepare(session: Session, argv: list[bytes]) -> tuple[Stream | None, bool, int]:
    """Parse XGROUP's options from the 6th argument on and look the stream up, as ``xgroupCommand`` does."""
    subcommand = argv[1].upper()
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    argc = len(argv)
    i = 5
    while i < argc:
        option = argv[i].upper()
        if subcommand == b"CREATE" and option == b"MKSTREAM":
            mkstream = True
            i += 1
        elif subcommand in (b"CREATE", b"SETID") and option == b"ENTRIESREAD" and i + 1 < argc:
            entries_read = to_int(argv[i + 1])
            if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
                raise ReplyError("ERR value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise subcommand_syntax_error(argv)
    stream = lookup_stream_write(session, argv[2])
    if not mkstream and stream is None:
        raise ReplyError("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may "
                         "want to use the MKSTREAM option to create an empty stream automatically.")
    return stream, mkstream, entries_read


def _xgroup_group(stream: Stream, argv: list[bytes]) -> ConsumerGroup:
    group = stream.groups.get(argv[3])
    if group is None:
        raise nogroup_error(f"NOGROUP No such consumer group '{as_text(argv[3])}' for key name '{as_text(argv[2])}'")
    return group  # type: ignore[no-any-return]


@define("xgroup|create", -5, "write denyoom", 2, 2, 1, group="stream", since="5.0.0")
def xgroup_create(session: Session, argv: list[bytes]) -> Any:
    """XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD entries-read]"""
    stream, _mkstream, entries_read = _xgroup_prepare(session, argv)
    if len(argv) > 8:
        raise subcommand_syntax_error(argv)
    if argv[4] == b"$":
        last_id = stream.last_id if stream is not None else MIN_ID
    else:
        last_id = parse_id(argv[4], strict=True)
    db = session.db
    key = argv[2]
    if stream is None:
        stream = Stream()
        db.add(key, stream)
    if stream.create_group(argv[3], last_id, entries_read) is None:
        raise ReplyError("BUSYGROUP Consumer Group name already exists")
    count_change(session)
    db.notify("t", b"xgroup-create", key)
    return OK


@define("xgroup|setid", -5, "write", 2, 2, 1, group="stream", since="5.0.0")
def xgroup_setid(session: Session, argv: list[bytes]) -> Any:
    """XGROUP SETID key group id|$ [ENTRIESREAD entries-read]"""
    stream, _mkstream, entries_read = _xgroup_prepare(session, argv)
    assert stream is not None
    group = _xgroup_group(stream, argv)
    if len(argv) not in (5, 7):
        raise subcommand_syntax_error(argv)
    group.last_id = stream.last_id if argv[4] == b"$" else parse_id(argv[4])
    group.entries_read = entries_read
    count_change(session)
    session.db.notify("t", b"xgroup-setid", argv[2])
    return OK


@define("xgroup|destroy", 4, "write", 2, 2, 1, group="stream", since="5.0.0")
def xgroup_destroy(session: Session, argv: list[bytes]) -> Any:
    """XGROUP DESTROY key group"""
    stream, _mkstream, _entries_read = _xgroup_prepare(session, argv)
    assert stream is not None
    if stream.groups.pop(argv[3], None) is None:
        return 0
    count_change(session)
    db = session.db
    db.notify("t", b"xgroup-destroy", argv[2])
    db.signal_ready(argv[2])
    return 1


@define("xgroup|createconsumer", 5, "write denyoom", 2, 2, 1, group="stream", since="6.2.0")
def xgroup_createconsumer(session: Session, argv: list[bytes]) -> Any:
    """XGROUP CREATECONSUMER key group consumer"""
    stream, _mkstream, _entries_read = _xgroup_prepare(session, argv)
    assert stream is not None
    group = _xgroup_group(stream, argv)
    if group.create_consumer(argv[4], now_ms()) is None:
        return 0
    count_change(session)
    session.db.notify("t", b"xgroup-createconsumer", argv[2])
    return 1


@define("xgroup|delconsumer", 5, "write", 2, 2, 1, group="stream", since="5.0.0")
def xgroup_delconsumer(session: Session, argv: list[bytes]) -> Any:
    """XGROUP DELCONSUMER key group consumer"""
    stream, _mkstream, _entries_read = _xgroup_prepare(session, argv)
    assert stream is not None
    group = _xgroup_group(stream, argv)
    consumer = group.lookup_consumer(argv[4])
    if consumer is None:
        return 0
    pending = group.delete_consumer(consumer)
    count_change(session)
    session.db.notify("t", b"xgroup-delconsumer", argv[2])
    return pending


@define("xgroup|help", 2, "loading stale", group="stream", since="5.0.0")
def xgroup_help(session: Session, argv: list[bytes]) -> Any:
    """XGROUP HELP"""
    return help_reply([
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ])


# -- XACK XPENDING ------------------------------------------------------------------------------


@define("xack", -4, "write fast", 1, 1, 1, group="stream", since="5.0.0")
def xack(session: Session, argv: list[bytes]) -> Any:
    """XACK key group id [id ...]"""
    stream = lookup_stream(session, argv[1])
    group = None if stream is None else stream.groups.get(argv[2])
    if group is None:
        return 0
    ids = [parse_id(arg, strict=True) for arg in argv[3:]]
    acknowledged = sum(1 for stream_id in ids if group.acknowledge(stream_id))
    count_change(session, acknowledged)
    return acknowledged


@define("xpending", -3, "readonly", 1, 1, 1, group="stream", since="5.0.0")
def xpending(session: Session, argv: list[bytes]) -> Any:
    """XPENDING key group [[IDLE min-idle-time] start end count [consumer]]"""
    argc = len(argv)
    if argc != 3 and not 6 <= argc <= 9:
        raise ReplyError(SYNTAX)
    min_idle = 0
    start = end = MIN_ID
    count = 0
    consumer_name = None
    if argc >= 6:
        index = 3
        if argv[3].upper() == b"IDLE":
            min_idle = to_int(argv[4])
            if argc < 8:
                raise ReplyError(SYNTAX)
            index += 2
        count = max(to_int(argv[index + 2]), 0)
        start = parse_interval(argv[index], 0, True)
        end = parse_interval(argv[index + 1], UINT64_MAX, False)
        if index + 3 < argc:
            consumer_name = argv[index + 3]
    stream = lookup_stream(session, argv[1])
    group = None if stream is None else stream.groups.get(argv[2])
    if group is None:
        raise nogroup_error(f"NOGROUP No such key '{as_text(argv[1])}' or consumer group '{as_text(argv[2])}'")
    if argc == 3:
        pending = group.pending
        if not pending:
            return [0, None, None, NULL_ARRAY]
        owners = [[name, b"%d" % len(consumer.pending)]
                  for name, consumer in group.consumers.items() if consumer.pending]
        return [len(pending), format_id(pending.keys()[0]), format_id(pending.keys()[-1]), owners]
    if consumer_name is not None:
        consumer = group.lookup_consumer(consumer_name)
        if consumer is None:
            return []
        pel = consumer.pending
    else:
        pel = group.pending
    now = now_ms()
    out: list[Any] = []
    if not count or start > end:
        return out
    for stream_id in pel.irange(start, end):
        nack = pel[stream_id]
        idle = now - nack.delivery_time
        if min_idle and idle < min_idle:
            continue
        owner = nack.consumer.name if nack.consumer is not None else b""
        out.append([format_id(stream_id), owner, max(idle, 0), nack.delivery_count])
        if len(out) >= count:
            break
    return out


# -- XCLAIM XAUTOCLAIM --------------------------------------------------------------------------------


@define("xclaim", -6, "write fast", 1, 1, 1, group="stream", since="5.0.0")
def xclaim(session: Session, argv: list[bytes]) -> Any:
    """XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-ms] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]"""
    key = argv[1]
    stream = lookup_stream(session, key)
    group = None if stream is None else stream.groups.get(argv[2])
    if stream is None or group is None:
        raise nogroup_error(f"NOGROUP No such key '{as_text(key)}' or consumer group '{as_text(argv[2])}'")
    min_idle = max(to_int(argv[4], "ERR Invalid min-idle-time argument for XCLAIM"), 0)
    ids: list[StreamID] = []
    argc = len(argv)
    j = 5
    while j < argc:
        try:
            ids.append(parse_id(argv[j], strict=True))
        except ReplyError:
            break
        j += 1
    now = now_ms()
    retry_count = -1
    delivery_time = -1
    force = justid = False
    last_id = MIN_ID
    while j < argc:
        more = argc - 1 - j
        option = argv[j].upper()
        if option == b"FORCE":
            force = True
        elif option == b"JUSTID":
            justid = True
        elif option == b"IDLE" and more:
            j += 1
            delivery_time = now - to_int(argv[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif option == b"TIME" and more:
            j += 1
            delivery_time = to_int(argv[j], "ERR Invalid TIME option argument for XCLAIM")
        elif option == b"RETRYCOUNT" and more:
            j += 1
            retry_count = to_int(argv[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif option == b"LASTID" and more:
            j += 1
            last_id = parse_id(argv[j], strict=True)
        else:
            raise ReplyError(f"ERR Unrecognized XCLAIM option '{as_text(argv[j])}'")
        j += 1
    propagated: list[list[bytes]] = []
    propagate_last_id = False
    if last_id > group.last_id:
        group.last_id = last_id
        propagate_last_id = True
    if delivery_time == -1 or delivery_time < 0 or delivery_time > now:
        delivery_time = now
    db = session.db
    consumer = None
    out: list[Any] = []
    for stream_id in ids:
        nack = group.pending.get(stream_id)
        fields = stream.get(stream_id)
        if fields is None:
            if nack is not None:
                propagated.append(xclaim_form(key, argv[2], group, stream_id, nack))
                propagate_last_id = False
                count_change(session)
                group.acknowledge(stream_id)
            continue
        if force and nack is None:
            nack = group.pending[stream_id] = Nack(None, now)
        if nack is None:
            continue
        if nack.consumer is not None and min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = group.lookup_consumer(argv[3], now)
            if consumer is None:
                consumer = group.create_consumer(argv[3], now)
                assert consumer is not None
                count_change(session)
                db.notify("t", b"xgroup-createconsumer", key)
        group.assign(stream_id, nack, consumer)
        nack.delivery_time = delivery_time
        if retry_count >= 0:
            nack.delivery_count = retry_count
        elif not justid:
            nack.delivery_count += 1
        out.append(format_id(stream_id) if justid else entry_reply(stream_id, fields))
        propagated.append(xclaim_form(key, argv[2], group, stream_id, nack))
        propagate_last_id = False
        count_change(session)
    if propagate_last_id:
        propagated.append(setid_form(key, argv[2], group))
        count_change(session)
    propagate_as(session, argv, propagated)
    return out


_AUTOCLAIM_MAX_COUNT: Final = INT64_MAX // 16


@define("xautoclaim", -6, "write fast", 1, 1, 1, group="stream", since="6.2.0")
def xautoclaim(session: Session, argv: list[bytes]) -> Any:
    """XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]"""
    key = argv[1]
    min_idle = max(to_int(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM"), 0)
    start = parse_interval(argv[5], 0, True)
    count = 100
    justid = False
    argc = len(argv)
    j = 6
    while j < argc:
        more = argc - 1 - j
        option = argv[j].upper()
        if option == b"COUNT" and more:
            count = to_int(argv[j + 1], "ERR COUNT must be > 0")
            if not 1 <= count <= _AUTOCLAIM_MAX_COUNT:
                raise ReplyError("ERR COUNT must be > 0")
            j += 1
        elif option == b"JUSTID":
            justid = True
        else:
            raise ReplyError(SYNTAX)
        j += 1
    stream = lookup_stream(session, key)
    group = None if stream is None else stream.groups.get(argv[2])
    if stream is None or group is None:
        raise nogroup_error(f"NOGROUP No such key '{as_text(key)}' or consumer group '{as_text(argv[2])}'")
    db = session.db
    pel = group.pending
    attempts = count * 10
    now = now_ms()
    consumer = None
    claimed: list[Any] = []
    deleted: list[bytes] = []
    propagated: list[list[bytes]] = []
    position = pel.bisect_left(start)
    while attempts and count and position < len(pel):
        attempts -= 1
        stream_id = pel.keys()[position]
        nack = pel[stream_id]
        fields = stream.get(stream_id)
        if fields is None:
            propagated.append(xclaim_form(key, argv[2], group, stream_id, nack))
            count_change(session)
            group.acknowledge(stream_id)
            deleted.append(format_id(stream_id))
            count -= 1
            continue
        position += 1
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = group.lookup_consumer(argv[3], now)
            if consumer is None:
                consumer = group.create_consumer(argv[3], now)
                assert consumer is not None
                count_change(session)
                db.notify("t", b"xgroup-createconsumer", key)
        group.assign(stream_id, nack, consumer)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        claimed.append(format_id(stream_id) if justid else entry_reply(stream_id, fields))
        count -= 1
        propagated.append(xclaim_form(key, argv[2], group, stream_id, nack))
        count_change(session)
    next_start = format_id(pel.keys()[position]) if position < len(pel) else b"0-0"
    propagate_as(session, argv, propagated)
    return [next_start, claimed, deleted]


# -- XINFO ------------------------------------------------------------------------------------------

define_container("xinfo", -2, "", group="stream", since="5.0.0")


def _lookup_info(session: Session, key: bytes) -> Stream:
    stream = lookup_stream(session, key)
    if stream is None:
        raise ReplyError(NO_SUCH_KEY)
    return stream


@define("xinfo|consumers", 4, "readonly", 2, 2, 1, group="stream", since="5.0.0")
def xinfo_consumers(session: Session, argv: list[bytes]) -> Any:
    """XINFO CONSUMERS key group"""
    stream = _lookup_info(session, argv[2])
    group = stream.groups.get(argv[3])
    if group is None:
        raise nogroup_error(f"NOGROUP No such consumer group '{as_text(argv[3])}' for key name '{as_text(argv[2])}'")
    now = now_ms()
    protocol = session.protocol
    return [map_reply(protocol, [b"name", consumer.name, b"pending", len(consumer.pending),
                                 b"idle", max(now - consumer.seen_time, 0)])
            for consumer in group.consumers.values()]


def _entries_read(group: ConsumerGroup) -> int | None:
    return None if group.entries_read == INVALID_ENTRIES_READ else group.entries_read


@define("xinfo|groups", 3, "readonly", 2, 2, 1, group="stream", since="5.0.0")
def xinfo_groups(session: Session, argv: list[bytes]) -> Any:
    """XINFO GROUPS key"""
    stream = _lookup_info(session, argv[2])
    protocol = session.protocol
    return [map_reply(protocol, [b"name", group.name, b"consumers", len(group.consumers),
                                 b"pending", len(group.pending), b"last-delivered-id", format_id(group.last_id),
                                 b"entries-read", _entries_read(group), b"lag", stream.lag(group)])
            for group in stream.groups.values()]


@define("xinfo|stream", -3, "readonly", 2, 2, 1, group="stream", since="5.0.0")
def xinfo_stream(session: Session, argv: list[bytes]) -> Any:
    """XINFO STREAM key [FULL [COUNT count]]"""
    stream = _lookup_info(session, argv[2])
    options = argv[3:]
    full = bool(options)
    count = 10
    if options:
        if len(options) not in (1, 3) or options[0].upper() != b"FULL":
            raise subcommand_syntax_error(argv)
        if len(options) == 3:
            if options[1].upper() != b"COUNT":
                raise subcommand_syntax_error(argv)
            count = to_int(options[2], NOT_INTEGER)
            if count < 0:
                count = 10
    protocol = session.protocol
    flat: list[Any] = [
        b"length", len(stream),
        b"radix-tree-keys", len(stream.nodes),
        b"radix-tree-nodes", stream.radix_tree_nodes(),
        b"last-generated-id", format_id(stream.last_id),
        b"max-deleted-entry-id", format_id(stream.max_deleted_id),
        b"entries-added", stream.entries_added,
        b"recorded-first-entry-id", format_id(stream.first_id),
    ]
    if not full:
        first = next(stream.range(MIN_ID, MAX_ID, 1), None)
        last = next(stream.range(MIN_ID, MAX_ID, 1, reverse=True), None)
        flat += [b"groups", len(stream.groups),
                 b"first-entry", None if first is None else entry_reply(*first),
                 b"last-entry", None if last is None else entry_reply(*last)]
        return map_reply(protocol, flat)
    groups = []
    for group in stream.groups.values():
        pending = [[format_id(stream_id), nack.consumer.name if nack.consumer is not None else b"",
                    nack.delivery_time, nack.delivery_count]
                   for stream_id, nack in _first(group.pending, count)]
        consumers = []
        for consumer in group.consumers.values():
            own = [[format_id(stream_id), nack.delivery_time, nack.delivery_count]
                   for stream_id, nack in _first(consumer.pending, count)]
            consumers.append(map_reply(protocol, [b"name", consumer.name, b"seen-time", consumer.seen_time,
                                                  b"pel-count", len(consumer.pending), b"pending", own]))
        groups.append(map_reply(protocol, [
            b"name", group.name, b"last-delivered-id", format_id(group.last_id),
            b"entries-read", _entries_read(group), b"lag", stream.lag(group),
            b"pel-count", len(group.pending), b"pending", pending, b"consumers", consumers]))
    flat += [b"entries", entries_reply(stream, MIN_ID, MAX_ID, count), b"groups", groups]
    return map_reply(protocol, flat)


def _first(pel: Any, count: int) -> list[tuple[StreamID, Nack]]:
    """Return the first ``count`` pending entries (all when ``count`` is 0)."""
    out: list[tuple[StreamID, Nack]] = []
    for stream_id in pel:
        if count and len(out) >= count:
            break
        out.append((stream_id, pel[stream_id]))
    return out


@define("xinfo|help", 2, "loading stale", group="stream", since="5.0.0")
def xinfo_help(session: Session, argv: list[bytes]) -> Any:
    """XINFO HELP"""
    return help_reply([
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ])
