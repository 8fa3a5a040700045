"""The pub/sub hub of an engine: channels, patterns, subscribers, and keyspace notifications.

The state lives in one :class:`PubSub` hub per engine (``engine.extensions
["pubsub"]``, created by :func:`hub`): channel and pattern tables and, per
subscribed client, a :class:`Subscriber`.  Messages are :class:`Push`
frames handed to the subscriber's ``deliver`` callable, which the TCP
server sets to write to the socket; a session nobody delivers for (an
embedded client) keeps them in a bounded queue.

Keyspace notifications come from the handlers themselves: a write handler
calls ``db.notify(kind, event, key)`` where it changes the key, and the
keyspace hands the event to :meth:`PubSub.notify` while anybody is
subscribed (``signals.listening``).  The commands are in
``commands/pubsub.py``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .replies import Push, Pushes
from .types.scan import glob_matcher

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

QUEUE_LIMIT: Final = 10_000  # messages kept for a subscriber without a deliverer (embedded)


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
            self._listening()

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
        self._listening()
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
        self._listening()
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
    def _listening(self) -> None:
        """Tell the keyspace whether anybody could hear a keyspace event (nobody subscribed: not worth building)."""
        self.engine.signals.listening = bool(self.channels or self.patterns)

    def notify(self, db_index: int, event: bytes, key: bytes, flags: str) -> None:
        """Publish one event on ``__keyspace@db__:key`` and/or ``__keyevent@db__:event``."""
        if "K" in flags:
            self.publish(b"__keyspace@%d__:%s" % (db_index, key), event)
        if "E" in flags:
            self.publish(b"__keyevent@%d__:%s" % (db_index, event), key)


def hub(engine: Engine) -> PubSub:
    """Return the pub/sub hub of ``engine``, creating it on first use; keyspace events publish through it."""
    found = engine.extensions.get("pubsub")
    if found is None:
        found = engine.extensions["pubsub"] = PubSub(engine)
        engine.signals.publisher = found
    return found  # type: ignore[no-any-return]
