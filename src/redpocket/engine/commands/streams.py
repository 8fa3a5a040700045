"""Stream commands that add and read entries: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID, XREAD, XREADGROUP.

The consumer-group administration and introspection commands (XGROUP,
XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO) are in :mod:`.stream_groups`,
which shares the helpers defined here: ID parsing, reply shapes,
propagation.

Handlers parse their arguments, call :class:`~redpocket.engine.types.stream.Stream`
and shape the reply (RESP3 maps where Redis sends maps).  Their
announcements follow ``t_stream.c``: XADD, XDEL and XTRIM signal the key as
modified (WATCH, tracking); the consumer-group commands only count as
changes (``server.dirty``) and publish their ``xgroup-*`` events, as Redis
does, so a group read never fails a WATCH.

What reaches the append-only file is what Redis propagates, decided here
where the command runs (Redis's ``alsoPropagate``): XADD with the ID it
generated and ``~`` trimming made exact, XREADGROUP / XCLAIM / XAUTOCLAIM
as ``XCLAIM ... JUSTID`` and ``XGROUP SETID`` / ``CREATECONSUMER``.  A
handler records those commands with :func:`propagate_as`; the persistence
layer's normaliser picks them up (:func:`take_propagation`).

XREAD and XREADGROUP with ``BLOCK`` return a
:class:`~redpocket.engine.blocking.Block`; the engine re-runs the very same
``argv`` when a key is written, and the re-run is served as Redis serves a
blocked client (from the IDs resolved when it blocked, the group's last ID
for ``>``), remembered in :class:`BlockedReaders`.  Blocked readers are served in
the order they blocked: XADD serves the readers queued on its key before
any other command runs (as Redis's ``handleClientsBlockedOnKeys`` does), and
a re-run serves the readers queued ahead of it first (:func:`_retry`); each
finds its reply waiting when its own re-run comes.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..args import is_int, to_int
from ..blocking import Block
from ..keyspace import now_ms
from ..registry import define
from ..replies import (
    NO_SUCH_KEY,
    NULL_ARRAY,
    OK,
    SYNTAX,
    ReplyError,
    map_reply,
)
from ..types.stream import (
    MAX_ID,
    MIN_ID,
    UINT64_MAX,
    ConsumerGroup,
    Nack,
    Stream,
    StreamID,
    format_id,
    next_id,
    previous_id,
)

if TYPE_CHECKING:
    from ..session import Session

INVALID_ID: Final = "ERR Invalid stream ID specified as stream command argument"
_XREAD_BLOCKED_DEFAULT_COUNT: Final = 1000
_C_SPACES: Final = b" \t\n\v\f\r"
# engine.extensions key of the commands a stream write propagates instead of itself.


def stream_encoding(value: Stream, config: Any) -> bytes:
    """Return the ``OBJECT ENCODING`` of a stream: always ``stream``."""
    return b"stream"


# -- propagation --------------------------------------------------------------------------


def propagate_as(session: Session, argv: list[bytes], commands: list[list[bytes]]) -> None:
    """Record that this run of ``argv`` goes to the append-only file as ``commands`` (Redis's ``alsoPropagate``)."""
    if session.engine.propagators:
        session.propagated = (argv, commands)


# -- argument parsing -----------------------------------------------------------------------


def _string2ull(text: bytes) -> int | None:
    """Parse an unsigned 64-bit integer as Redis's ``string2ull`` (``string2ll``, else ``strtoull``)."""
    if is_int(text):
        value = int(text)
        return value if value >= 0 else None
    stripped = text.lstrip(_C_SPACES)
    negative = stripped[:1] == b"-"
    digits = stripped[1:] if stripped[:1] in (b"-", b"+") else stripped
    if not digits.isdigit():
        return None
    value = int(digits)
    if value > UINT64_MAX:
        return None
    return (-value) & UINT64_MAX if negative else value


def parse_id(arg: bytes, missing_seq: int = 0, strict: bool = False) -> StreamID:
    """Parse ``ms-seq``, ``ms`` (``missing_seq`` completes it), or ``-`` / ``+`` unless ``strict``."""
    if len(arg) > 127:
        raise ReplyError(INVALID_ID)
    if arg == b"-" or arg == b"+":
        if strict:
            raise ReplyError(INVALID_ID)
        return MIN_ID if arg == b"-" else MAX_ID
    ms_text, dash, seq_text = arg.partition(b"-")
    ms = _string2ull(ms_text)
    seq = _string2ull(seq_text) if dash else missing_seq
    if ms is None or seq is None:
        raise ReplyError(INVALID_ID)
    return (ms, seq)


def _parse_add_id(arg: bytes) -> tuple[StreamID, bool]:
    """Parse XADD's explicit ID: ``(id, seq_given)``, ``ms-*`` leaving the sequence to the stream."""
    if len(arg) <= 127 and arg.endswith(b"-*") and arg != b"-*":
        ms = _string2ull(arg[:-2])
        if ms is None:
            raise ReplyError(INVALID_ID)
        return (ms, 0), False
    return parse_id(arg, strict=True), True


def parse_interval(arg: bytes, missing_seq: int, start: bool) -> StreamID:
    """Parse a range bound; ``(`` makes it exclusive (then ``-`` and ``+`` are refused)."""
    if len(arg) > 1 and arg[:1] == b"(":
        bound = parse_id(arg[1:], missing_seq, strict=True)
        moved = next_id(bound) if start else previous_id(bound)
        if moved is None:
            raise ReplyError(f"ERR invalid {'start' if start else 'end'} ID for the interval")
        return moved
    return parse_id(arg, missing_seq)


def nogroup_error(message: str) -> ReplyError:
    """Build an error reply that names keys or groups (newlines become spaces, as Redis does)."""
    return ReplyError(message.replace("\r", " ").replace("\n", " "))


def as_text(value: bytes) -> str:
    """Decode a key or name for an error message."""
    return value.decode("utf-8", "replace")


def subcommand_syntax_error(argv: list[bytes]) -> ReplyError:
    """Redis's ``addReplySubcommandSyntaxError``."""
    return nogroup_error(f"ERR unknown subcommand or wrong number of arguments for '{as_text(argv[1])[:128]}'. "
                    f"Try {as_text(argv[0]).upper()} HELP.")


@dataclass(slots=True)
class TrimArgs:
    """The parsed options of XADD / XTRIM (``streamAddTrimArgs``)."""

    maxlen: int | None = None
    minid: StreamID | None = None
    approx: bool = False
    limit: int = 0  # 0: no cap on the entries removed
    limit_given: bool = False
    threshold_index: int = 0  # where MAXLEN's count / MINID's id is, for the propagated form
    no_mkstream: bool = False
    id_index: int = 0  # XADD: where the ID is
    stream_id: StreamID | None = None  # XADD: an explicit ID (None for "*")
    seq_given: bool = True


def _parse_trim_args(argv: list[bytes], xadd: bool) -> TrimArgs:
    """Parse the options of XADD (up to its ID) or XTRIM, with Redis's errors."""
    args = TrimArgs()
    argc = len(argv)
    limit_given = False
    strategy = False
    i = 2
    while i < argc:
        more = argc - 1 - i
        option = argv[i].upper()
        if xadd and argv[i] == b"*":
            break
        if option in (b"MAXLEN", b"MINID") and more:
            if strategy:
                raise ReplyError("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
            args.approx = False
            following = argv[i + 1]
            if more >= 2 and following == b"~":
                args.approx = True
                i += 1
            elif more >= 2 and following == b"=":
                i += 1
            if option == b"MAXLEN":
                args.maxlen = to_int(argv[i + 1])
                if args.maxlen < 0:
                    raise ReplyError("ERR The MAXLEN argument must be >= 0.")
            else:
                args.minid = parse_id(argv[i + 1], strict=True)
            i += 1
            strategy = True
            args.threshold_index = i
        elif option == b"LIMIT" and more:
            args.limit = to_int(argv[i + 1])
            if args.limit < 0:
                raise ReplyError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and option == b"NOMKSTREAM":
            args.no_mkstream = True
        elif xadd:
            args.stream_id, args.seq_given = _parse_add_id(argv[i])
            break
        else:
            raise ReplyError(SYNTAX)
        i += 1
    if args.limit and not strategy:
        raise ReplyError("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    if not xadd and not strategy:
        raise ReplyError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if limit_given and not args.approx:
        raise ReplyError("ERR syntax error, LIMIT cannot be used without the special ~ option")
    args.limit_given = limit_given
    args.id_index = i
    return args


def _default_approx_limit(session: Session) -> int:
    """Return the work cap of a ``~`` trim without LIMIT: 100 nodes' worth of entries."""
    limit = 100 * session.engine.config.get_int("stream-node-max-entries")
    if limit <= 0:
        return 10000
    return min(limit, 1000000)


def _trim(session: Session, stream: Stream, args: TrimArgs) -> int:
    """Trim ``stream`` as the parsed options say; return how many entries went.

    An exact trim is never capped; a ``~`` trim without LIMIT is capped at
    100 nodes' worth of entries, as Redis caps it.
    """
    if not args.approx:
        limit = 0
    elif args.limit_given:
        limit = args.limit
    else:
        limit = _default_approx_limit(session)
    return stream.trim(args.maxlen, args.minid, args.approx, limit)


def _exact_trim_arguments(stream: Stream, args: TrimArgs) -> list[bytes]:
    """Return ``MAXLEN = n`` / ``MINID = id`` giving the result of a ``~`` trim exactly (its propagated form)."""
    if args.maxlen is not None:
        return [b"MAXLEN", b"=", b"%d" % len(stream)]
    first = stream.first_id if len(stream) else MAX_ID
    return [b"MINID", b"=", format_id(first)]


# -- lookups and replies --------------------------------------------------------------------


def lookup_stream(session: Session, key: bytes) -> Stream | None:
    """Return the stream at ``key`` for a read (``None`` when absent; WRONGTYPE for another type)."""
    value: Stream | None = session.db.lookup_read(key, Stream)
    return value


def lookup_stream_write(session: Session, key: bytes) -> Stream | None:
    """Return the stream at ``key`` for a write (``None`` when absent; WRONGTYPE for another type)."""
    value: Stream | None = session.db.lookup_write(key, Stream)
    return value


def entry_reply(stream_id: StreamID, fields: list[bytes]) -> list[Any]:
    """Return one entry as Redis replies it: ``[id, [field, value, ...]]``."""
    return [format_id(stream_id), list(fields)]


def entries_reply(stream: Stream, start: StreamID, end: StreamID, count: int = 0, reverse: bool = False) -> list[Any]:
    """Return the entries from ``start`` to ``end`` (at most ``count`` if > 0) as an array reply."""
    return [entry_reply(stream_id, fields) for stream_id, fields in stream.range(start, end, count, reverse)]


def count_change(session: Session, count: int = 1) -> None:
    """Count a change that Redis counts (``server.dirty``) without signalling the key as modified."""
    session.engine.dirty += count


# -- XADD XRANGE XREVRANGE XLEN XDEL XTRIM ---------------------------------------------------


@define("xadd", -5, "write denyoom fast", 1, 1, 1, group="stream", since="5.0.0")
def xadd(session: Session, argv: list[bytes]) -> Any:
    """XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]"""
    args = _parse_trim_args(argv, xadd=True)
    field_index = args.id_index + 1
    fields = argv[field_index:]
    if len(fields) < 2 or len(fields) % 2:
        raise ReplyError("ERR wrong number of arguments for 'xadd' command")
    if args.stream_id == MIN_ID and args.seq_given:
        raise ReplyError("ERR The ID specified in XADD must be greater than 0-0")
    db = session.db
    key = argv[1]
    stream = lookup_stream_write(session, key)
    created = stream is None
    if stream is None:
        if args.no_mkstream:
            return None
        stream = Stream()
    if stream.last_id == MAX_ID:
        raise ReplyError("ERR The stream has exhausted the last possible ID, unable to add more items")
    if args.stream_id is None:
        stream_id = stream.new_id(now_ms())
    elif args.seq_given:
        stream_id = args.stream_id
    else:
        stream_id = stream.new_id(now_ms(), args.stream_id[0])
    if stream_id is None or stream_id <= stream.last_id:
        raise ReplyError("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    fields_length = sum(map(len, fields))
    if fields_length > (1 << 30):
        raise ReplyError("ERR Elements are too large to be stored")
    config = session.engine.config
    stream.append(stream_id, fields, config.get_int("stream-node-max-entries"),
                  config.get_int("stream-node-max-bytes"), fields_length)
    if created:
        db.add(key, stream)
    else:
        db.modified(key)
        db.signal_ready(key)
    db.notify("t", b"xadd", key)
    if (args.maxlen is not None or args.minid is not None) and _trim(session, stream, args):
        db.notify("t", b"xtrim", key)
    propagated: list[list[bytes]] = []
    if not (session.in_exec or session.in_script):  # (after EXEC or a script, the readers' re-runs serve them)
        serve_blocked_readers(session, key, propagated)
    if session.engine.propagators:
        head = [argv[0], key]
        if args.no_mkstream:
            head.append(b"NOMKSTREAM")
        if args.approx:
            head += _exact_trim_arguments(stream, args)
        elif args.maxlen is not None:
            head += [b"MAXLEN", b"=", b"%d" % args.maxlen]
        elif args.minid is not None:
            head += [b"MINID", b"=", format_id(args.minid)]
        propagate_as(session, argv, [[*head, format_id(stream_id), *fields], *propagated])
    return format_id(stream_id)


def _range(session: Session, argv: list[bytes], reverse: bool) -> Any:
    start_arg, end_arg = (argv[3], argv[2]) if reverse else (argv[2], argv[3])
    start = parse_interval(start_arg, 0, True)
    end = parse_interval(end_arg, UINT64_MAX, False)
    count = -1
    i = 4
    argc = len(argv)
    while i < argc:
        if argv[i].upper() == b"COUNT" and i + 1 < argc:
            count = max(to_int(argv[i + 1]), 0)
            i += 2
        else:
            raise ReplyError(SYNTAX)
    stream = lookup_stream(session, argv[1])
    if stream is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return entries_reply(stream, start, end, max(count, 0), reverse)


@define("xrange", -4, "readonly", 1, 1, 1, group="stream", since="5.0.0")
def xrange(session: Session, argv: list[bytes]) -> Any:
    """XRANGE key start end [COUNT count]"""
    return _range(session, argv, False)


@define("xrevrange", -4, "readonly", 1, 1, 1, group="stream", since="5.0.0")
def xrevrange(session: Session, argv: list[bytes]) -> Any:
    """XREVRANGE key end start [COUNT count]"""
    return _range(session, argv, True)


@define("xlen", 2, "readonly fast", 1, 1, 1, group="stream", since="5.0.0")
def xlen(session: Session, argv: list[bytes]) -> Any:
    """XLEN key"""
    stream = lookup_stream(session, argv[1])
    return 0 if stream is None else len(stream)


@define("xdel", -3, "write fast", 1, 1, 1, group="stream", since="5.0.0")
def xdel(session: Session, argv: list[bytes]) -> Any:
    """XDEL key id [id ...]"""
    stream = lookup_stream_write(session, argv[1])
    if stream is None:
        return 0
    ids = [parse_id(arg, strict=True) for arg in argv[2:]]
    deleted = sum(1 for stream_id in ids if stream.delete(stream_id))
    if deleted:
        db = session.db
        db.modified(argv[1])
        db.notify("t", b"xdel", argv[1])
        count_change(session, deleted - 1)
    return deleted


@define("xtrim", -4, "write", 1, 1, 1, group="stream", since="5.0.0")
def xtrim(session: Session, argv: list[bytes]) -> Any:
    """XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]"""
    args = _parse_trim_args(argv, xadd=False)
    stream = lookup_stream_write(session, argv[1])
    if stream is None:
        return 0
    deleted = _trim(session, stream, args)
    if deleted:
        db = session.db
        db.notify("t", b"xtrim", argv[1])
        db.modified(argv[1])
        count_change(session, deleted - 1)
        if session.engine.propagators:
            propagate_as(session, argv, [[argv[0], argv[1], *_exact_trim_arguments(stream, args)]]
                         if args.approx else [argv])
    return deleted


@define("xsetid", -3, "write denyoom fast", 1, 1, 1, group="stream", since="5.0.0")
def xsetid(session: Session, argv: list[bytes]) -> Any:
    """XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]"""
    last_id = parse_id(argv[2], strict=True)
    entries_added = -1
    max_deleted = MIN_ID
    argc = len(argv)
    i = 3
    while i < argc:
        more = argc - 1 - i
        option = argv[i].upper()
        if option == b"ENTRIESADDED" and more:
            entries_added = to_int(argv[i + 1])
            if entries_added < 0:
                raise ReplyError("ERR entries_added must be positive")
        elif option == b"MAXDELETEDID" and more:
            max_deleted = parse_id(argv[i + 1], strict=True)
            if last_id < max_deleted:
                raise ReplyError("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
        else:
            raise ReplyError(SYNTAX)
        i += 2
    stream = lookup_stream_write(session, argv[1])
    if stream is None:
        raise ReplyError(NO_SUCH_KEY)
    if len(stream):
        if last_id < stream.last_live_id():
            raise ReplyError("ERR The ID specified in XSETID is smaller than the target stream top item")
        if entries_added != -1 and len(stream) > entries_added:
            raise ReplyError("ERR The entries_added specified in XSETID is smaller than the target stream length")
    stream.last_id = last_id
    if entries_added != -1:
        stream.entries_added = entries_added
    if max_deleted != MIN_ID:
        stream.max_deleted_id = max_deleted
    count_change(session)
    session.db.notify("t", b"xsetid", argv[1])
    return OK


# -- XREAD XREADGROUP ------------------------------------------------------------------------------


@dataclass(slots=True)
class ReadRequest:
    """A parsed XREAD / XREADGROUP, kept while its client blocks."""

    keys: list[bytes]
    ids: list[StreamID]
    count: int
    timeout: int  # ms; -1 without BLOCK
    group: bytes | None
    consumer: bytes | None
    noack: bool
    argv: list[bytes]


# Blocked sessions and their request: a call with that very argv is the engine re-running it.
class BlockedReaders:
    """An engine's blocked XREAD / XREADGROUP clients (kept in ``engine.extensions``, used under its lock).

    ``waiting`` maps a blocked session to its request: a call with that very
    argv is the engine re-running it.  ``served`` holds the replies given to
    blocked readers by another command (see :func:`_retry`) until their own
    re-run takes them.  ``queues`` lists the readers of each (database, key)
    in the order they blocked.
    """

    __slots__ = ("queues", "served", "waiting")

    def __init__(self) -> None:
        self.waiting: weakref.WeakKeyDictionary[Session, ReadRequest] = weakref.WeakKeyDictionary()
        self.served: weakref.WeakKeyDictionary[Session, Any] = weakref.WeakKeyDictionary()
        self.queues: dict[tuple[int, bytes], list[Session]] = {}


def blocked_readers(session: Session) -> BlockedReaders:
    """Return the blocked stream readers of the session's engine."""
    readers: BlockedReaders | None = session.engine.extensions.get("stream-readers")
    if readers is None:
        readers = session.engine.extensions["stream-readers"] = BlockedReaders()
    return readers


def streams_key_finder(argv: list[bytes]) -> list[bytes]:
    """Return the keys of XREAD / XREADGROUP: the first half of what follows ``STREAMS`` (``xreadGetKeys``)."""
    argc = len(argv)
    i = 1
    position = -1
    while i < argc:
        option = argv[i].lower()
        if option in (b"block", b"count"):
            i += 1
        elif option == b"group":
            i += 2
        elif option == b"noack":
            pass
        elif option == b"streams":
            position = i
            break
        else:
            break
        i += 1
    number = argc - position - 1
    if position == -1 or number == 0 or number % 2:
        return []
    return argv[position + 1 : position + 1 + number // 2]


def _parse_read(session: Session, argv: list[bytes], group_read: bool) -> ReadRequest:
    """Parse XREAD / XREADGROUP options up to STREAMS, with Redis's errors and their order."""
    timeout = -1
    count = 0
    streams_at = 0
    group = consumer = None
    noack = False
    argc = len(argv)
    i = 1
    while i < argc:
        more = argc - i - 1
        option = argv[i].upper()
        if option == b"BLOCK" and more:
            if session.in_script:
                raise ReplyError(f"ERR {as_text(argv[0])} command is not allowed with BLOCK option from scripts")
            i += 1
            timeout = to_int(argv[i], "ERR timeout is not an integer or out of range")
            if timeout < 0:
                raise ReplyError("ERR timeout is negative")
        elif option == b"COUNT" and more:
            i += 1
            count = max(to_int(argv[i]), 0)
        elif option == b"STREAMS" and more:
            streams_at = i + 1
            if (argc - streams_at) % 2:
                raise ReplyError("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' "
                                 "must be specified.")
            break
        elif option == b"GROUP" and more >= 2:
            if not group_read:
                raise ReplyError("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
            group, consumer = argv[i + 1], argv[i + 2]
            i += 2
        elif option == b"NOACK":
            if not group_read:
                raise ReplyError("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
            noack = True
        else:
            raise ReplyError(SYNTAX)
        i += 1
    if not streams_at:
        raise ReplyError(SYNTAX)
    if group_read and group is None:
        raise ReplyError("ERR Missing GROUP option for XREADGROUP")
    half = (argc - streams_at) // 2
    keys = argv[streams_at : streams_at + half]
    return ReadRequest(keys, [], count, timeout, group, consumer, noack, argv)


def _resolve_ids(session: Session, request: ReadRequest, group_read: bool) -> list[ConsumerGroup | None]:
    """Resolve each key's ID (``$``, ``>``, explicit) and group, key by key as Redis does."""
    groups: list[ConsumerGroup | None] = []
    argv = request.argv
    half = len(request.keys)
    first_id = len(argv) - half
    for index, key in enumerate(request.keys):
        arg = argv[first_id + index]
        stream = lookup_stream(session, key)
        group = None
        if request.group is not None and (stream is None or (group := stream.groups.get(request.group)) is None):
            raise nogroup_error(f"NOGROUP No such key '{as_text(key)}' or consumer group '{as_text(request.group)}' "
                           "in XREADGROUP with GROUP option")
        groups.append(group)
        if arg == b"$":
            if group_read:
                raise ReplyError("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read "
                                 "the history of this consumer by specifying a proper ID, or use the > ID to "
                                 "get new messages. The $ ID would just return an empty result set.")
            request.ids.append(stream.last_id if stream is not None else MIN_ID)
        elif arg == b">":
            if not group_read:
                raise ReplyError("ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
                                 "<group> <consumer> option.")
            request.ids.append(MAX_ID)
        else:
            request.ids.append(parse_id(arg, strict=True))
    return groups


def _serve_group(session: Session, request: ReadRequest, key: bytes, stream: Stream, group: ConsumerGroup,
                 after: StreamID, count: int, history: bool, propagated: list[list[bytes]]) -> list[Any]:
    """Deliver entries after ``after`` to the request's consumer (or its own history): the reply's entries."""
    db = session.db
    now = now_ms()
    name = request.consumer
    assert name is not None and request.group is not None
    consumer = group.lookup_consumer(name, now)
    if consumer is None:
        consumer = group.create_consumer(name, now)
        assert consumer is not None
        count_change(session)
        db.notify("t", b"xgroup-createconsumer", key)
        if request.noack:
            propagated.append([b"XGROUP", b"CREATECONSUMER", key, request.group, name])
    start = next_id(after)
    if start is None:
        return []
    out: list[Any] = []
    if history:
        for stream_id in consumer.pending.irange(start):
            if count and len(out) >= count:
                break
            fields = stream.get(stream_id)
            if fields is None:
                out.append([format_id(stream_id), NULL_ARRAY])
                continue
            nack = consumer.pending[stream_id]
            nack.delivery_time = now_ms()
            nack.delivery_count += 1
            out.append(entry_reply(stream_id, fields))
        return out
    advanced = False
    for stream_id, fields in list(stream.range(start, MAX_ID, count)):
        if stream_id > group.last_id:
            stream.advance_group(group, stream_id)
            advanced = True
        out.append(entry_reply(stream_id, fields))
        if not request.noack:
            nack = group.deliver(stream_id, consumer, now_ms())
            propagated.append(xclaim_form(key, request.group, group, stream_id, nack))
    if advanced:
        # Redis propagates this only after a NOACK read (the XCLAIMs' LASTID moves the group otherwise),
        # which leaves the group's read counter behind on replay; logging it keeps the file exact.
        propagated.append(setid_form(key, request.group, group))
    return out


def xclaim_form(key: bytes, group_name: bytes, group: ConsumerGroup, stream_id: StreamID, nack: Nack) -> list[bytes]:
    """Return the XCLAIM that recreates one pending entry (``streamPropagateXCLAIM``)."""
    owner = nack.consumer.name if nack.consumer is not None else b""
    return [b"XCLAIM", key, group_name, owner, b"0", format_id(stream_id), b"TIME", b"%d" % nack.delivery_time,
            b"RETRYCOUNT", b"%d" % nack.delivery_count, b"FORCE", b"JUSTID", b"LASTID", format_id(group.last_id)]


def setid_form(key: bytes, group_name: bytes, group: ConsumerGroup) -> list[bytes]:
    """Return the XGROUP SETID that gives a group its last ID and read counter (``streamPropagateGroupID``)."""
    return [b"XGROUP", b"SETID", key, group_name, format_id(group.last_id), b"ENTRIESREAD",
            b"%d" % group.entries_read]


def _read_reply(session: Session, served: list[tuple[bytes, list[Any]]]) -> Any:
    flat: list[Any] = []
    if session.protocol == 3:
        for key, entries in served:
            flat += [key, entries]
        return map_reply(3, flat)
    return [[key, entries] for key, entries in served]


def _read(session: Session, argv: list[bytes], group_read: bool) -> Any:
    readers = blocked_readers(session)
    waiting = readers.waiting.pop(session, None) if readers.waiting else None
    if waiting is not None and waiting.argv is argv:
        return _retry(session, waiting, readers)
    request = _parse_read(session, argv, group_read)
    groups = _resolve_ids(session, request, group_read)
    served: list[tuple[bytes, list[Any]]] = []
    propagated: list[list[bytes]] = []
    for index, key in enumerate(request.keys):
        stream = lookup_stream(session, key)
        if stream is None:
            continue
        after = request.ids[index]
        group = groups[index]
        history = False
        if group is not None:
            if after != MAX_ID:
                history = True
            elif len(stream) and stream.last_live_id() > group.last_id:
                after = group.last_id
            else:
                continue
        elif not (len(stream) and stream.last_live_id() > after):
            continue
        if group is not None:
            entries = _serve_group(session, request, key, stream, group, after, request.count, history, propagated)
            count_change(session)
        else:
            start = next_id(after)
            entries = [] if start is None else entries_reply(stream, start, MAX_ID, request.count)
        served.append((key, entries))
    if group_read:
        propagate_as(session, argv, propagated)
    if served:
        return _read_reply(session, served)
    if request.timeout == -1:
        return NULL_ARRAY
    if not session.may_block:
        return NULL_ARRAY
    readers.waiting[session] = request
    for key in dict.fromkeys(request.keys):
        readers.queues.setdefault((session.db.index, key), []).append(session)
    return Block(list(request.keys), request.timeout / 1000, NULL_ARRAY)


def _still_waiting(session: Session, readers: BlockedReaders) -> bool:
    """Tell whether a queued reader still waits (not timed out, unblocked or gone)."""
    return session.blocked is not None and session in readers.waiting


def _retry(session: Session, request: ReadRequest, readers: BlockedReaders) -> Any:
    """Re-run a blocked read after a write: serve the readers that blocked before it first, then it.

    Redis serves the clients blocked on a key in the order they blocked,
    from the writer's context; threads blocked in the embedded engine wake
    in any order, so the first to run serves those ahead of it and leaves
    their replies in ``readers.served``.  (A group reader is served for
    another only by a group read, whose propagation then carries it.)
    """
    served = readers.served.pop(session, None)
    if served is not None:
        _dequeue(session, request, readers)
        if isinstance(served, ReplyError):
            raise served
        return served
    propagated: list[list[bytes]] = []
    queues = readers.queues
    for key in dict.fromkeys(request.keys):
        for other in list(queues.get((session.db.index, key), ())):
            if other is session:
                break
            other_request = readers.waiting.get(other)
            if other_request is None or not _still_waiting(other, readers):
                queues[(session.db.index, key)].remove(other)
                continue
            if other_request.group is not None and request.group is None:
                continue
            reply = _serve_blocked(other, other_request, propagated)
            if reply is not None:
                readers.served[other] = reply
                _dequeue(other, other_request, readers)
    reply = _serve_blocked(session, request, propagated)
    if request.group is not None:
        propagate_as(session, request.argv, propagated)
    if reply is None:
        readers.waiting[session] = request
        return Block(list(request.keys), request.timeout / 1000, NULL_ARRAY)
    _dequeue(session, request, readers)
    if isinstance(reply, ReplyError):
        raise reply
    return reply


def serve_blocked_readers(session: Session, key: bytes, propagated: list[list[bytes]]) -> None:
    """Serve the readers blocked on ``key``, in the order they blocked, right after a write (XADD).

    As Redis serves blocked clients before the next command runs, so a new
    reader cannot take entries ahead of them; each reader's re-run then
    finds its reply in ``served``.
    """
    readers: BlockedReaders | None = session.engine.extensions.get("stream-readers")
    queue = None if readers is None else readers.queues.get((session.db.index, key))
    if not queue:
        return
    assert readers is not None
    for other in list(queue):
        request = readers.waiting.get(other)
        if request is None or not _still_waiting(other, readers):
            queue.remove(other)
            continue
        if other in readers.served:
            continue
        reply = _serve_blocked(other, request, propagated)
        if reply is not None:
            readers.served[other] = reply
            _dequeue(other, request, readers)


def _dequeue(session: Session, request: ReadRequest, readers: BlockedReaders) -> None:
    queues = readers.queues
    for key in dict.fromkeys(request.keys):
        queue = queues.get((session.db.index, key))
        if queue is not None and session in queue:
            queue.remove(session)
            if not queue:
                del queues[(session.db.index, key)]


def _serve_blocked(session: Session, request: ReadRequest, propagated: list[list[bytes]]) -> Any:
    """Serve a blocked XREAD / XREADGROUP from the first of its keys that has news, or return ``None``.

    Redis's ``serveClientsBlockedOnStreamKey``: an error (a reply, not
    raised) when the group or the key of a group read is gone.
    """
    count = request.count or _XREAD_BLOCKED_DEFAULT_COUNT
    for index, key in enumerate(request.keys):
        value = session.db.lookup_read(key)
        if type(value) is not Stream:
            if request.group is not None:
                return ReplyError("UNBLOCKED the stream key no longer exists")
            continue
        stream: Stream = value
        after = request.ids[index]
        group = None
        if request.group is not None:
            group = stream.groups.get(request.group)
            if group is None:
                return ReplyError("NOGROUP the consumer group this client was blocked on no longer exists")
            after = group.last_id
        if stream.last_id > after:
            if group is not None:
                entries = _serve_group(session, request, key, stream, group, after, count, False, propagated)
            else:
                start = next_id(after)
                entries = [] if start is None else entries_reply(stream, start, MAX_ID, count)
            return _read_reply(session, [(key, entries)])
    return None


@define("xread", -4, "readonly blocking movablekeys", keys=streams_key_finder, group="stream", since="5.0.0")
def xread(session: Session, argv: list[bytes]) -> Any:
    """XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]"""
    return _read(session, argv, False)


@define("xreadgroup", -7, "write blocking movablekeys", keys=streams_key_finder, group="stream", since="5.0.0")
def xreadgroup(session: Session, argv: list[bytes]) -> Any:
    """XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]"""
    return _read(session, argv, True)
