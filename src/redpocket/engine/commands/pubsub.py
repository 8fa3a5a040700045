"""Pub/sub: PUBLISH SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBSUB, and keyspace notifications.

The state lives in one :class:`PubSub` hub per engine (``engine.extensions
["pubsub"]``): channel and pattern tables and, per subscribed client, a
:class:`Subscriber`.  Messages are :class:`~redpocket.server.protocol.Push`
frames handed to the subscriber's ``deliver`` callable, which the TCP
server sets to write to the socket; a session nobody delivers for (an
embedded client) keeps them in a bounded queue.

``SUBSCRIBE a b`` answers with one frame per channel, so its reply is a
:class:`Pushes` list of frames rather than a single value.

Keyspace notifications (``notify-keyspace-events``) listen on
``engine.propagators``, and only while somebody is subscribed: with no
subscriber nobody could hear them, and the write path stays free.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ..registry import CommandSpec, define, define_container
from ..replies import ReplyError
from ..types.scan import glob_matcher

if TYPE_CHECKING:
    from ..engine import Engine
    from ..session import Session

QUEUE_LIMIT: Final = 10_000  # messages kept for a subscriber without a deliverer (embedded)


class Push(list):  # type: ignore[type-arg]
    """One out-of-band frame (a pub/sub message): ``>`` under RESP3, an array under RESP2."""

    __slots__ = ("encoded",)

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.encoded: dict[int, bytes] = {}


class Pushes(list):  # type: ignore[type-arg]
    """Several frames answering one command (``SUBSCRIBE a b``): each item is a :class:`Push`."""

    __slots__ = ()


class Subscriber:
    """One client's subscriptions and where its messages go."""

    __slots__ = ("channels", "deliver", "patterns", "queue", "session_id", "shard_channels")

    def __init__(self, session_id: int, deliver: Callable[[Push], None] | None) -> None:
        self.session_id = session_id
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard_channels: dict[bytes, None] = {}
        self.deliver = deliver
        self.queue: deque[Push] = deque(maxlen=QUEUE_LIMIT)

    @property
    def count(self) -> int:
        """Return the number of channels and patterns subscribed."""
        return len(self.channels) + len(self.patterns)

    @property
    def total(self) -> int:
        """Return the number of channels, patterns and shard channels subscribed (any: pub/sub mode)."""
        return len(self.channels) + len(self.patterns) + len(self.shard_channels)

    def send(self, message: Push) -> None:
        """Hand one message to the client."""
        if self.deliver is not None:
            self.deliver(message)
        else:
            self.queue.append(message)


class PubSub:
    """The channels and patterns of one engine and who listens to them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.channels: dict[bytes, dict[Subscriber, None]] = {}
        self.patterns: dict[bytes, dict[Subscriber, None]] = {}
        self.shard_channels: dict[bytes, dict[Subscriber, None]] = {}
        self.subscribers: dict[int, Subscriber] = {}
        self.deliverers: dict[int, Callable[[Push], None]] = {}
        self._notifier_installed = False

    # -- clients -----------------------------------------------------------------
    def set_deliverer(self, session: Session, deliver: Callable[[Push], None] | None) -> None:
        """Route ``session``'s messages to ``deliver`` (the server's socket writer)."""
        if deliver is None:
            self.deliverers.pop(session.id, None)
        else:
            self.deliverers[session.id] = deliver
        subscriber = self.subscribers.get(session.id)
        if subscriber is not None:
            subscriber.deliver = deliver

    def subscriber(self, session: Session) -> Subscriber:
        """Return ``session``'s subscriber record, creating it."""
        subscriber = self.subscribers.get(session.id)
        if subscriber is None:
            subscriber = Subscriber(session.id, self.deliverers.get(session.id))
            self.subscribers[session.id] = subscriber
        return subscriber

    def count(self, session: Session) -> int:
        """Return how many channels, patterns and shard channels ``session`` is subscribed to."""
        subscriber = self.subscribers.get(session.id)
        return 0 if subscriber is None else subscriber.total

    def forget(self, session: Session) -> None:
        """Drop every subscription of a closed client."""
        subscriber = self.subscribers.pop(session.id, None)
        self.deliverers.pop(session.id, None)
        if subscriber is not None:
            for channel in subscriber.channels:
                self._remove(self.channels, channel, subscriber)
            for pattern in subscriber.patterns:
                self._remove(self.patterns, pattern, subscriber)
            for channel in subscriber.shard_channels:
                self._remove(self.shard_channels, channel, subscriber)
            self._update_notifier()

    @staticmethod
    def _remove(table: dict[bytes, dict[Subscriber, None]], name: bytes, subscriber: Subscriber) -> None:
        listeners = table.get(name)
        if listeners is not None:
            listeners.pop(subscriber, None)
            if not listeners:
                del table[name]

    # -- subscriptions -------------------------------------------------------------
    def subscribe(self, session: Session, channels: list[bytes], pattern: bool = False) -> Pushes:
        """Subscribe to channels (or patterns); return one confirmation frame each."""
        subscriber = self.subscriber(session)
        own = subscriber.patterns if pattern else subscriber.channels
        table = self.patterns if pattern else self.channels
        kind = b"psubscribe" if pattern else b"subscribe"
        frames = Pushes()
        for name in channels:
            if name not in own:
                own[name] = None
                table.setdefault(name, {})[subscriber] = None
            frames.append(Push([kind, name, subscriber.count]))
        self._update_notifier()
        return frames

    def unsubscribe(self, session: Session, channels: list[bytes], pattern: bool = False) -> Pushes:
        """Unsubscribe from channels (all when none named); return one confirmation frame each."""
        subscriber = self.subscribers.get(session.id)
        kind = b"punsubscribe" if pattern else b"unsubscribe"
        frames = Pushes()
        own: dict[bytes, None] = {}
        if subscriber is not None:
            own = subscriber.patterns if pattern else subscriber.channels
        table = self.patterns if pattern else self.channels
        names = channels or list(own)
        for name in names:
            if subscriber is not None and name in own:
                del own[name]
                self._remove(table, name, subscriber)
            frames.append(Push([kind, name, 0 if subscriber is None else subscriber.count]))
        if not names:
            frames.append(Push([kind, None, 0 if subscriber is None else subscriber.count]))
        if subscriber is not None and not subscriber.total and subscriber.deliver is not None:
            del self.subscribers[session.id]
        self._update_notifier()
        return frames

    def unsubscribe_all(self, session: Session) -> None:
        """Leave every channel and pattern without replying (RESET)."""
        self.forget(session)

    # -- messages -----------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes) -> int:
        """Send ``message`` to the subscribers of ``channel`` and of matching patterns; return how many."""
        receivers = 0
        listeners = self.channels.get(channel)
        if listeners:
            frame = Push([b"message", channel, message])
            for subscriber in list(listeners):
                subscriber.send(frame)
                receivers += 1
        if self.patterns:
            for pattern, listeners in list(self.patterns.items()):
                if glob_matcher(pattern)(channel):
                    frame = Push([b"pmessage", pattern, channel, message])
                    for subscriber in list(listeners):
                        subscriber.send(frame)
                        receivers += 1
        return receivers

    # -- sharded channels (Redis 7.0 outside a cluster: a namespace of their own) ----------
    def shard_subscribe(self, session: Session, channels: list[bytes]) -> Pushes:
        """SSUBSCRIBE: one ``ssubscribe`` frame per channel, counting the client's shard channels."""
        subscriber = self.subscriber(session)
        own = subscriber.shard_channels
        frames = Pushes()
        for name in channels:
            if name not in own:
                own[name] = None
                self.shard_channels.setdefault(name, {})[subscriber] = None
            frames.append(Push([b"ssubscribe", name, len(own)]))
        return frames

    def shard_unsubscribe(self, session: Session, channels: list[bytes]) -> Pushes:
        """SUNSUBSCRIBE: one ``sunsubscribe`` frame per channel (all the client's when none named)."""
        subscriber = self.subscribers.get(session.id)
        own: dict[bytes, None] = {} if subscriber is None else subscriber.shard_channels
        frames = Pushes()
        names = channels or list(own)
        for name in names:
            if subscriber is not None and name in own:
                del own[name]
                self._remove(self.shard_channels, name, subscriber)
            frames.append(Push([b"sunsubscribe", name, len(own)]))
        if not names:
            frames.append(Push([b"sunsubscribe", None, 0]))
        if subscriber is not None and not subscriber.total and subscriber.deliver is not None:
            del self.subscribers[session.id]
        return frames

    def shard_publish(self, channel: bytes, message: bytes) -> int:
        """SPUBLISH: send ``smessage`` frames to the channel's subscribers (no patterns); return how many."""
        listeners = self.shard_channels.get(channel)
        if not listeners:
            return 0
        frame = Push([b"smessage", channel, message])
        for subscriber in list(listeners):
            subscriber.send(frame)
        return len(listeners)

    # -- keyspace notifications -------------------------------------------------------
    def _update_notifier(self) -> None:
        wanted = bool(self.channels or self.patterns)
        if wanted == self._notifier_installed:
            return
        propagators = self.engine.propagators
        if wanted:
            propagators.append(self.notify_write)
            self.engine.new_keys = []
        else:
            with contextlib.suppress(ValueError):
                propagators.remove(self.notify_write)
            self.engine.new_keys = None
        self._notifier_installed = wanted

    def notify_write(self, session: Session | None, db_index: int, argv: list[bytes], reply: Any) -> None:
        """Publish the keyspace events of one executed write command (a propagator hook)."""
        flags = self.engine.config.notify_classes
        created = self.engine.new_keys
        if created:
            new_keys = list(created)
            created.clear()
        else:
            new_keys = []
        if not flags or ("K" not in flags and "E" not in flags):
            return
        if "n" in flags:  # Redis's dbAdd announces a key before the command's own event
            for key in new_keys:
                self.notify(db_index, b"new", key, flags)
        if session is None:
            events: list[tuple[str, bytes, bytes]] = [("x", b"expired", argv[1])]
        else:
            events = keyspace_events(self.engine, db_index, argv, reply)
        for event_class, event, key in events:
            if event_class in flags:
                self.notify(db_index, event, key, flags)

    def notify(self, db_index: int, event: bytes, key: bytes, flags: str) -> None:
        """Publish one event on ``__keyspace@db__:key`` and/or ``__keyevent@db__:event``."""
        if "K" in flags:
            self.publish(b"__keyspace@%d__:%s" % (db_index, key), event)
        if "E" in flags:
            self.publish(b"__keyevent@%d__:%s" % (db_index, event), key)


def hub(engine: Engine) -> PubSub:
    """Return the pub/sub hub of ``engine``, creating it (and its commands) on first use."""
    found = engine.extensions.get("pubsub")
    if found is None:
        found = engine.extensions["pubsub"] = PubSub(engine)
        install(engine)
    return found  # type: ignore[no-any-return]


def install(engine: Engine) -> None:
    """Add the pub/sub commands to an engine built before this module was imported."""
    for name, spec in PUBSUB_COMMANDS.items():
        engine.commands.setdefault(name, spec)


# -- event names ------------------------------------------------------------------------
# Redis's notifyKeyspaceEvent calls, by command: (class, event, which keys).

_REMOVES: Final = frozenset({
    b"lpop", b"rpop", b"blpop", b"brpop", b"lrem", b"ltrim", b"rpoplpush", b"brpoplpush", b"lmove",
    b"blmove", b"lmpop", b"blmpop", b"hdel", b"srem", b"spop", b"smove", b"zrem", b"zremrangebyscore",
    b"zremrangebyrank", b"zremrangebylex", b"zpopmin", b"zpopmax", b"bzpopmin", b"bzpopmax", b"zmpop",
    b"bzmpop", b"getdel",
})

_SIMPLE_EVENTS: Final[dict[bytes, tuple[str, bytes]]] = {
    b"setnx": ("$", b"set"), b"getset": ("$", b"set"), b"setrange": ("$", b"setrange"),
    b"incr": ("$", b"incrby"), b"decr": ("$", b"decrby"), b"incrby": ("$", b"incrby"),
    b"decrby": ("$", b"decrby"), b"incrbyfloat": ("$", b"incrbyfloat"), b"append": ("$", b"append"),
    b"setbit": ("$", b"setbit"), b"bitfield": ("$", b"setbit"), b"pfadd": ("$", b"pfadd"),
    b"lpush": ("l", b"lpush"), b"lpushx": ("l", b"lpush"), b"rpush": ("l", b"rpush"),
    b"rpushx": ("l", b"rpush"), b"lpop": ("l", b"lpop"), b"rpop": ("l", b"rpop"),
    b"linsert": ("l", b"linsert"), b"lset": ("l", b"lset"), b"lrem": ("l", b"lrem"), b"ltrim": ("l", b"ltrim"),
    b"hset": ("h", b"hset"), b"hsetnx": ("h", b"hset"), b"hmset": ("h", b"hset"),
    b"hincrby": ("h", b"hincrby"), b"hincrbyfloat": ("h", b"hincrbyfloat"), b"hdel": ("h", b"hdel"),
    b"sadd": ("s", b"sadd"), b"srem": ("s", b"srem"), b"spop": ("s", b"spop"),
    b"zadd": ("z", b"zadd"), b"zincrby": ("z", b"zincr"), b"zrem": ("z", b"zrem"),
    b"zremrangebyscore": ("z", b"zremrangebyscore"), b"zremrangebyrank": ("z", b"zremrangebyrank"),
    b"zremrangebylex": ("z", b"zremrangebylex"), b"zpopmin": ("z", b"zpopmin"), b"zpopmax": ("z", b"zpopmax"),
    b"persist": ("g", b"persist"), b"getdel": ("g", b"del"), b"restore": ("g", b"restore"),
}
_STORE_EVENTS: Final[dict[bytes, tuple[str, bytes]]] = {
    b"sinterstore": ("s", b"sinterstore"), b"sunionstore": ("s", b"sunionstore"),
    b"sdiffstore": ("s", b"sdiffstore"), b"zunionstore": ("z", b"zunionstore"),
    b"zinterstore": ("z", b"zinterstore"), b"zdiffstore": ("z", b"zdiffstore"),
    b"zrangestore": ("z", b"zrangestore"), b"bitop": ("$", b"set"), b"pfmerge": ("$", b"pfadd"),
    b"copy": ("g", b"copy_to"),
}
_EXPIRES: Final = frozenset({b"expire", b"pexpire", b"expireat", b"pexpireat"})
_SET_EXPIRY: Final = frozenset({b"ex", b"px", b"exat", b"pxat"})


def keyspace_events(engine: Engine, db_index: int, argv: list[bytes], reply: Any) -> list[tuple[str, bytes, bytes]]:
    """Return the ``(class, event, key)`` notifications Redis sends for one executed write command."""
    name = argv[0].lower()
    db = engine.databases[db_index]
    events: list[tuple[str, bytes, bytes]] = []
    simple = _SIMPLE_EVENTS.get(name)
    if simple is not None:
        events.append((simple[0], simple[1], argv[1]))
    elif name == b"set":
        events.append(("$", b"set", argv[1]))
        if any(arg.lower() in _SET_EXPIRY for arg in argv[3:]):
            events.append(("g", b"expire", argv[1]))
    elif name in (b"setex", b"psetex"):
        events += [("$", b"set", argv[1]), ("g", b"expire", argv[1])]
    elif name in (b"mset", b"msetnx"):
        events += [("$", b"set", key) for key in argv[1::2]]
    elif name == b"getex":
        if any(arg.lower() in _SET_EXPIRY for arg in argv[2:]):
            events.append(("g", b"expire", argv[1]))
        elif any(arg.lower() == b"persist" for arg in argv[2:]):
            events.append(("g", b"persist", argv[1]))
    elif name in (b"del", b"unlink"):
        events += [("g", b"del", key) for key in dict.fromkeys(argv[1:]) if key not in db.data]
    elif name in _EXPIRES:
        events.append(("g", b"expire" if argv[1] in db.data else b"del", argv[1]))
    elif name in (b"rename", b"renamenx"):
        events += [("g", b"rename_from", argv[1]), ("g", b"rename_to", argv[2])]
    elif name == b"move":
        events.append(("g", b"move_from", argv[1]))
    elif name in _STORE_EVENTS:
        kind, event = _STORE_EVENTS[name]
        target = argv[2] if name in (b"bitop", b"copy") else argv[1]
        events.append((kind, event, target) if target in db.data or name == b"copy" else ("g", b"del", target))
    elif name in (b"rpoplpush", b"brpoplpush"):
        events += [("l", b"rpop", argv[1]), ("l", b"lpush", argv[2])]
    elif name in (b"lmove", b"blmove"):
        events += [("l", b"lpop" if argv[3].lower() == b"left" else b"rpop", argv[1]),
                   ("l", b"lpush" if argv[4].lower() == b"left" else b"rpush", argv[2])]
    elif name in (b"blpop", b"brpop", b"bzpopmin", b"bzpopmax") and isinstance(reply, list) and reply:
        event = {b"blpop": b"lpop", b"brpop": b"rpop", b"bzpopmin": b"zpopmin", b"bzpopmax": b"zpopmax"}[name]
        events.append(("l" if name in (b"blpop", b"brpop") else "z", event, reply[0]))
    elif name in (b"lmpop", b"blmpop", b"zmpop", b"bzmpop") and isinstance(reply, list) and reply:
        where = [arg.lower() for arg in argv]
        is_list = name.endswith(b"lmpop")
        if is_list:
            event = b"lpop" if b"left" in where else b"rpop"
        else:
            event = b"zpopmin" if b"min" in where else b"zpopmax"
        events.append(("l" if is_list else "z", event, reply[0]))
    elif name == b"smove":
        events += [("s", b"srem", argv[1]), ("s", b"sadd", argv[2])]
    elif name == b"sort":
        lowered = [arg.lower() for arg in argv]
        if b"store" in lowered:
            target = argv[lowered.index(b"store") + 1]
            events.append(("l", b"sortstore", target) if target in db.data else ("g", b"del", target))
    if name in _REMOVES:
        source = events[0][2] if events else argv[1]
        if source not in db.data:
            events.append(("g", b"del", source))
    return events


# -- commands ---------------------------------------------------------------------------

_FLAGS: Final = "pubsub noscript loading stale"


@define("subscribe", -2, _FLAGS, group="pubsub", since="2.0.0")
def subscribe(session: Session, argv: list[bytes]) -> Any:
    """SUBSCRIBE channel [channel ...]"""
    return hub(session.engine).subscribe(session, argv[1:])


@define("unsubscribe", -1, _FLAGS, group="pubsub", since="2.0.0")
def unsubscribe(session: Session, argv: list[bytes]) -> Any:
    """UNSUBSCRIBE [channel [channel ...]]"""
    return hub(session.engine).unsubscribe(session, argv[1:])


@define("psubscribe", -2, _FLAGS, group="pubsub", since="2.0.0")
def psubscribe(session: Session, argv: list[bytes]) -> Any:
    """PSUBSCRIBE pattern [pattern ...]"""
    return hub(session.engine).subscribe(session, argv[1:], pattern=True)


@define("punsubscribe", -1, _FLAGS, group="pubsub", since="2.0.0")
def punsubscribe(session: Session, argv: list[bytes]) -> Any:
    """PUNSUBSCRIBE [pattern [pattern ...]]"""
    return hub(session.engine).unsubscribe(session, argv[1:], pattern=True)


@define("publish", 3, "pubsub loading stale fast", group="pubsub", since="2.0.0")
def publish(session: Session, argv: list[bytes]) -> Any:
    """PUBLISH channel message"""
    return hub(session.engine).publish(argv[1], argv[2])


define_container("pubsub", -2, "", group="pubsub", since="2.8.0")


@define("pubsub|channels", -2, "pubsub loading stale", group="pubsub", since="2.8.0")
def pubsub_channels(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB CHANNELS [pattern]"""
    channels = list(hub(session.engine).channels)
    if len(argv) > 2:
        matches = glob_matcher(argv[2])
        channels = [channel for channel in channels if matches(channel)]
    return channels


@define("pubsub|numsub", -2, "pubsub loading stale", group="pubsub", since="2.8.0")
def pubsub_numsub(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB NUMSUB [channel [channel ...]]"""
    channels = hub(session.engine).channels
    reply: list[Any] = []
    for channel in argv[2:]:
        reply += [channel, len(channels.get(channel, ()))]
    return reply


@define("pubsub|numpat", 2, "pubsub loading stale", group="pubsub", since="2.8.0")
def pubsub_numpat(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB NUMPAT"""
    return len(hub(session.engine).patterns)


@define("pubsub|help", 2, "loading stale", group="pubsub", since="6.2.0")
def pubsub_help(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB HELP"""
    return [
        b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"CHANNELS [<pattern>]",
        b"    Return the currently active channels matching a <pattern> (default: '*').",
        b"NUMPAT",
        b"    Return number of subscriptions to patterns.",
        b"NUMSUB [<channel> ...]",
        b"    Return the number of subscribers for the specified channels, excluding",
        b"    pattern subscriptions(default: no channels).",
        b"SHARDCHANNELS [<pattern>]",
        b"    Return the currently active shard level channels matching a <pattern> (default: '*').",
        b"SHARDNUMSUB [<shardchannel> ...]",
        b"    Return the number of subscribers for the specified shard level channel(s)",
        b"HELP",
        b"    Print this help.",
    ]


# -- sharded pub/sub -------------------------------------------------------------------


@define("ssubscribe", -2, _FLAGS, 1, -1, 1, group="pubsub", since="7.0.0")
def ssubscribe(session: Session, argv: list[bytes]) -> Any:
    """SSUBSCRIBE shardchannel [shardchannel ...]"""
    if session.in_exec:  # (MULTI, like a script, may not wait for messages)
        raise ReplyError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    return hub(session.engine).shard_subscribe(session, argv[1:])


@define("sunsubscribe", -1, _FLAGS, 1, -1, 1, group="pubsub", since="7.0.0")
def sunsubscribe(session: Session, argv: list[bytes]) -> Any:
    """SUNSUBSCRIBE [shardchannel [shardchannel ...]]"""
    return hub(session.engine).shard_unsubscribe(session, argv[1:])


@define("spublish", 3, "pubsub loading stale fast", 1, 1, 1, group="pubsub", since="7.0.0")
def spublish(session: Session, argv: list[bytes]) -> Any:
    """SPUBLISH shardchannel message"""
    return hub(session.engine).shard_publish(argv[1], argv[2])


@define("pubsub|shardchannels", -2, "pubsub loading stale", group="pubsub", since="7.0.0")
def pubsub_shardchannels(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB SHARDCHANNELS [pattern]"""
    channels = list(hub(session.engine).shard_channels)
    if len(argv) > 2:
        matches = glob_matcher(argv[2])
        channels = [channel for channel in channels if matches(channel)]
    return channels


@define("pubsub|shardnumsub", -2, "pubsub loading stale", group="pubsub", since="7.0.0")
def pubsub_shardnumsub(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]"""
    channels = hub(session.engine).shard_channels
    reply: list[Any] = []
    for channel in argv[2:]:
        reply += [channel, len(channels.get(channel, ()))]
    return reply


def _collect() -> dict[bytes, CommandSpec]:
    from ..registry import COMMANDS

    return {name: COMMANDS[name] for name in (b"subscribe", b"unsubscribe", b"psubscribe", b"punsubscribe",
                                              b"publish", b"pubsub", b"ssubscribe", b"sunsubscribe", b"spublish")}


PUBSUB_COMMANDS: Final = _collect()
