"""Client-side caching: the tracking table behind CLIENT TRACKING (Redis's ``tracking.c``).

The CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO handlers are in ``commands/tracking.py``.

A client that turns tracking on is told when a key it may have cached
changes.  The :class:`Tracking` table of an engine (``engine.extensions
["tracking"]``) remembers, per key name (in any database, as in Redis),
the ids of the clients that *read* it; the first write to the key sends
each of them one ``invalidate`` message and forgets the key.  In BCAST
mode a client names key prefixes instead, and hears of every key written
under them.  FLUSHDB and FLUSHALL invalidate everything with a null.

Messages are :class:`~redpocket.engine.replies.Push` frames handed
to the session's deliverer (the pub/sub hub's): a RESP3 client gets
``>2 invalidate [keys]``; a RESP2 client needs ``REDIRECT`` to another
connection, which gets them as pub/sub messages of
``__redis__:invalidate`` while it is subscribed to anything.

The engine calls in at three places, and only while the table has work
(``engine.tracking`` is this object; ``None`` otherwise):

* :meth:`Engine.call <redpocket.engine.Engine.call>` runs a client's own
  command through :meth:`Tracking.call` (who is running it: NOLOOP, and
  the ordering of a client's own invalidations after its reply) and every
  command through :meth:`Tracking.after` (remember the keys of reads);
* :meth:`Engine.touch_watched <redpocket.engine.Engine.touch_watched>`
  hands every written key to :meth:`Tracking.invalidate`: an entry in
  ``engine.watched_keys`` keeps the writes' ``if engine.watched_keys:``
  checks true meanwhile, so when nobody tracks a write costs what it did;
* FLUSHDB and FLUSHALL run its :class:`FlushHook`, so a flush sends one null rather than
  one message per key.

A client's own invalidations wait until its reply is out, as in Redis: until
the start of its next command, or the end of the front end's turn through
``defer`` (the TCP server's event loop; Redis's ``beforeSleep``), which also
sends the BCAST messages of the turn together.  Without ``defer`` (in
process) they go at the end of each command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .pubsub import hub
from .registry import CommandHook, CommandSpec
from .replies import Push

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

INVALIDATE_CHANNEL: Final = b"__redis__:invalidate"
# Keeps ``engine.watched_keys`` non-empty while the table has work, so that
# every write calls ``touch_watched``; no real database has index -1.
WATCH_ENTRY: Final = (-1, b"")
# Read-only commands whose keys are not remembered: the commands their scripts run are.
_SCRIPT_READS: Final = frozenset({"eval_ro", "evalsha_ro", "fcall_ro"})
_NULL: Final = {2: b"$-1\r\n", 3: b"_\r\n"}
_FLUSH_NULL_HEADS: Final = {
    3: b">2\r\n$10\r\ninvalidate\r\n",
    2: b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n",
}


class ClientTracking:
    """One client's tracking mode: Redis's ``CLIENT_TRACKING_*`` flags, redirection and BCAST prefixes."""

    __slots__ = ("bcast", "broken", "caching", "noloop", "optin", "optout", "prefixes", "redirect")

    def __init__(self) -> None:
        self.redirect = 0  # the client id messages go to; 0: this client
        self.bcast = False
        self.optin = False
        self.optout = False
        self.noloop = False
        self.caching = False  # CLIENT CACHING yes|no was given for the next command
        self.broken = False  # the redirection client went away
        self.prefixes: dict[bytes, None] = {}

    def flags(self) -> list[bytes]:
        """Return the flags CLIENT TRACKINGINFO lists, in Redis's order."""
        flags = [b"on"]
        if self.bcast:
            flags.append(b"bcast")
        if self.optin:
            flags.append(b"optin")
            if self.caching:
                flags.append(b"caching-yes")
        if self.optout:
            flags.append(b"optout")
            if self.caching:
                flags.append(b"caching-no")
        if self.noloop:
            flags.append(b"noloop")
        if self.broken:
            flags.append(b"broken_redirect")
        return flags


class Broadcast:
    """One BCAST prefix: the ids of its clients, and each key written under it since the last broadcast."""

    __slots__ = ("clients", "keys")

    def __init__(self) -> None:
        self.clients: dict[int, None] = {}
        self.keys: dict[bytes, Session | None] = {}  # key -> the client whose command wrote it last


def _rax_order(client_id: int) -> bytes:
    # Redis keeps a key's client ids in a radix tree of their native (little-endian) bytes.
    return client_id.to_bytes(8, "little")


class Tracking:
    """The tracking table of one engine: who read which key, the BCAST prefixes, the messages due."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.table: dict[bytes, dict[int, None]] = {}  # key -> ids of the clients that read it
        self.items = 0  # (key, client) pairs in the table: INFO tracking_total_items
        self.prefixes: dict[bytes, Broadcast] = {}
        self.clients: dict[int, None] = {}  # ids of the clients with tracking on
        # The client whose command is running at the top level (Redis's current_client), and that command.
        self.current: Session | None = None
        self.command: tuple[CommandSpec, list[bytes]] | None = None
        # Invalidations for the current client, sent once its reply is out (None: a flush).
        self.pending: list[tuple[Session, bytes | None]] = []
        self.broadcast_due = False
        self.flushing = False
        # How the front end runs a callable at the end of its turn (thread-safe), or None in process.
        self.defer: Callable[[Callable[[], None]], Any] | None = None
        self._scheduled = False
        self.flush_hook = FlushHook(self)

    # -- the engine's hooks ----------------------------------------------------------
    def call(self, session: Session, spec: CommandSpec, argv: list[bytes]) -> Any:
        """Run a client's own command (not one a script or EXEC runs), as Redis's processCommand does."""
        if self.pending:  # the previous command's own invalidations follow its reply
            self.send_pending()
        self.current = session
        self.command = (spec, argv)
        try:
            if self.table:
                self.limit()
            reply = self.engine.call(session, spec, argv)
        finally:
            self.current = None
            self.command = None
        state = session.tracking
        # CLIENT CACHING covers the next command, or the next transaction (Redis's resetClient).
        if state is not None and state.caching and session.multi is None and not _is_client_command(spec):
            state.caching = False
        if self.pending or self.broadcast_due:
            if self.defer is None:
                self.flush()
            else:
                self.schedule()
        return reply

    def refused(self, session: Session) -> None:
        """Account for a tracking client's command refused before running (unknown, arity), outside MULTI."""
        if self.pending:  # its previous command's own invalidations come before this error
            self.send_pending()
        state = session.tracking
        if state is not None:
            state.caching = False  # CLIENT CACHING covers the next command, even a refused one

    def after(self, session: Session, spec: CommandSpec, argv: list[bytes]) -> None:
        """Remember the keys a read-only command read for the client running it (trackingRememberKeys)."""
        if "readonly" not in spec.flags or spec.name in _SCRIPT_READS:
            return
        caller = self.current
        if caller is None:
            return
        state = caller.tracking
        if state is None or state.bcast or "pubsub" in spec.flags:
            return
        if (state.optin and not state.caching) or (state.optout and state.caching):
            return
        if session is not caller and self.command is not None:
            # A script's read: Redis 7.0 takes the keys of the caller's command (EVAL's KEYS).
            spec, argv = self.command
        keys = spec.keys(argv)
        if not keys:
            return
        table = self.table
        client_id = caller.id
        for key in keys:
            readers = table.get(key)
            if readers is None:
                readers = table[key] = {}
            if client_id not in readers:
                readers[client_id] = None
                self.items += 1

    def invalidate(self, key: bytes) -> None:
        """Tell the clients that may have cached ``key`` that it changed (trackingInvalidateKey)."""
        if self.flushing:
            return
        writer = self.current
        if self.prefixes:
            self._note_broadcast(key, writer)
        readers = self.table.pop(key, None)
        if readers is None:
            return
        self.items -= len(readers)
        for client_id in readers if len(readers) == 1 else sorted(readers, key=_rax_order):
            found = self._tracker(client_id)
            if found is None:
                continue
            target, state = found
            if state.bcast or (state.noloop and target is writer):
                continue
            if target is writer:
                self.pending.append((target, key))  # after its own reply
            else:
                self.send(target, state, [key])
        if not self.clients:
            self.deactivate()

    def invalidate_all(self) -> None:
        """Send every tracking client a null invalidation and empty the table (a flush)."""
        for client_id in sorted(self.clients):
            found = self._tracker(client_id)
            if found is None:
                continue
            target, state = found
            if target is self.current:
                self.pending.append((target, None))
            else:
                self.send(target, state, None)
        self.table.clear()
        self.items = 0
        if not self.clients:
            self.deactivate()

    def limit(self) -> None:
        """Forget keys (invalidating them) while the table holds more than ``tracking-table-max-keys``."""
        most = self.engine.config.get_int("tracking-table-max-keys")
        effort = 100
        while most and len(self.table) > most and effort:
            effort -= 1
            key = next(iter(self.table))  # (Redis picks at random: the oldest will do)
            prefixes, self.prefixes = self.prefixes, {}  # an eviction is no write: BCAST clients hear nothing
            try:
                self.invalidate(key)
            finally:
                self.prefixes = prefixes

    # -- messages ---------------------------------------------------------------
    def _tracker(self, client_id: int) -> tuple[Session, ClientTracking] | None:
        """Return the client with this id and its tracking state, unless it is gone or stopped tracking."""
        session = self.engine.sessions.get(client_id)
        if session is None or session.tracking is None:
            return None
        return session, session.tracking

    def send(self, tracker: Session, state: ClientTracking, keys: list[bytes] | None) -> None:
        """Send one invalidation for ``tracker``, where its messages go (sendTrackingMessage); None: every key."""
        target = tracker
        redirected = False
        if state.redirect:
            found = self.engine.sessions.get(state.redirect)
            if found is None or found.closed:
                state.broken = True
                if tracker.protocol == 3:
                    self.deliver(tracker, Push([b"tracking-redir-broken", state.redirect]))
                return
            target = found
            redirected = True
        if target.protocol == 3:
            message = Push([b"invalidate", keys])
        elif redirected and hub(self.engine).count(target):
            message = Push([b"message", INVALIDATE_CHANNEL, keys])
        else:
            return  # RESP2 without a subscribed redirection: nowhere to send it
        if keys is None:
            # Redis writes the null of the *tracking* client's protocol (shared.null[c->resp]).
            message.encoded[target.protocol] = _FLUSH_NULL_HEADS[target.protocol] + _NULL[tracker.protocol]
        self.deliver(target, message)

    def deliver(self, target: Session, message: Push) -> None:
        """Hand one frame to ``target``'s deliverer (a subscriber without one queues it)."""
        pubsub = hub(self.engine)
        deliver = pubsub.deliverers.get(target.id)
        if deliver is not None:
            deliver(message)
            return
        subscriber = pubsub.subscribers.get(target.id)
        if subscriber is not None:
            subscriber.send(message)

    def send_pending(self) -> None:
        """Send the invalidations a client's own command caused (after its reply)."""
        pending, self.pending = self.pending, []
        for tracker, key in pending:
            state = tracker.tracking
            if state is not None and not tracker.closed:
                self.send(tracker, state, None if key is None else [key])

    def broadcast(self) -> None:
        """Send each BCAST client the keys written under its prefixes (trackingBroadcastInvalidationMessages)."""
        self.broadcast_due = False
        for prefix in sorted(self.prefixes):
            bcast = self.prefixes[prefix]
            if not bcast.keys:
                continue
            written, bcast.keys = bcast.keys, {}
            keys = sorted(written)
            for client_id in list(bcast.clients):
                found = self._tracker(client_id)
                if found is None:
                    continue
                client, state = found
                if state.noloop:
                    mine = [key for key in keys if written[key] is not client]
                    if mine:
                        self.send(client, state, mine)
                else:
                    self.send(client, state, keys)

    def flush(self) -> None:
        """Send what is due: a client's own invalidations, then the BCAST messages."""
        if self.pending:
            self.send_pending()
        if self.broadcast_due:
            self.broadcast()
        if not self.clients:
            self.deactivate()

    def schedule(self) -> None:
        """Have the front end :meth:`flush` at the end of its turn (once per turn)."""
        if self._scheduled or self.defer is None:
            return
        try:
            self.defer(self._deferred_flush)
        except RuntimeError:  # the front end's event loop is closed
            self.defer = None
            return
        self._scheduled = True

    def _deferred_flush(self) -> None:
        with self.engine.lock:
            self._scheduled = False
            self.flush()

    def _note_broadcast(self, key: bytes, writer: Session | None) -> None:
        due = False
        for prefix, bcast in self.prefixes.items():
            if key.startswith(prefix):
                bcast.keys[key] = writer
                due = True
        if due:
            self.broadcast_due = True
            self.schedule()

    # -- clients -----------------------------------------------------------------------
    def enable(self, session: Session, redirect: int, bcast: bool, optin: bool, optout: bool, noloop: bool,
               prefixes: list[bytes]) -> None:
        """Turn tracking on for ``session`` with these options (enableTracking)."""
        state = session.tracking
        if state is None:
            state = session.tracking = ClientTracking()
            self.clients[session.id] = None
        state.redirect = redirect
        state.broken = False
        state.optin, state.optout, state.noloop = optin, optout, noloop
        if bcast:
            state.bcast = True
            for prefix in prefixes or [b""]:
                entry = self.prefixes.get(prefix)
                if entry is None:
                    entry = self.prefixes[prefix] = Broadcast()
                if session.id not in entry.clients:
                    entry.clients[session.id] = None
                    state.prefixes[prefix] = None
        self.activate()

    def disable(self, session: Session) -> None:
        """Turn tracking off for ``session`` (disableTracking): its table entries go lazily, as in Redis."""
        state = session.tracking
        if state is None:
            return
        for prefix in state.prefixes:
            entry = self.prefixes.get(prefix)
            if entry is not None:
                entry.clients.pop(session.id, None)
                if not entry.clients:
                    del self.prefixes[prefix]
        session.tracking = None
        self.clients.pop(session.id, None)
        if not self.clients:
            self.deactivate()

    def activate(self) -> None:
        """Start the engine's hooks (and wrap FLUSHDB / FLUSHALL, once)."""
        engine = self.engine
        engine.add_hook("flushdb", self.flush_hook)
        engine.add_hook("flushall", self.flush_hook)
        engine.tracking = self
        engine.watched_keys[WATCH_ENTRY] = set()

    def deactivate(self) -> None:
        """Stop the engine's hooks once no client tracks and no key or message is left."""
        if self.clients or self.table or self.prefixes or self.pending:
            return
        engine = self.engine
        if engine.tracking is self:
            engine.tracking = None
        engine.watched_keys.pop(WATCH_ENTRY, None)
        self.broadcast_due = False


class FlushHook(CommandHook):
    """Invalidate every client-side cache once per FLUSHDB / FLUSHALL, not once per key (an engine hook)."""

    def __init__(self, table: Tracking) -> None:
        self.table = table

    def before(self, session: Session, argv: list[bytes]) -> None:
        """Hold back the per-key invalidations of the flush."""
        self.table.flushing = True

    def after(self, session: Session, argv: list[bytes], reply: Any) -> Any:
        """Send the one null invalidation."""
        table = self.table
        table.flushing = False
        if table.engine.tracking is table:
            table.invalidate_all()
        return reply


def _is_client_command(spec: CommandSpec) -> bool:
    return spec.parent is not None and spec.parent.name == "client"


def tracking(engine: Engine) -> Tracking:
    """Return the tracking table of ``engine``, creating it (inactive) on first use."""
    found = engine.extensions.get("tracking")
    if found is None:
        found = engine.extensions["tracking"] = Tracking(engine)
    return found  # type: ignore[no-any-return]


def counts(engine: Engine) -> tuple[int, int, int, int]:
    """Return (tracking clients, keys, items, prefixes) for INFO."""
    found: Tracking | None = engine.extensions.get("tracking")
    if found is None:
        return 0, 0, 0, 0
    return len(found.clients), len(found.table), found.items, len(found.prefixes)
