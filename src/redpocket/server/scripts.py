"""Scripts run off the event loop, so the server keeps answering while one is busy.

A Lua script (EVAL, EVALSHA, FCALL and their _RO forms) holds the engine
lock while it runs, as Redis's single thread does.  Once it passes
``busy-reply-threshold`` it lets other threads in between its instructions
(see :mod:`redpocket.engine.scripting`), and the engine answers them BUSY,
or runs SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE.  For the TCP server
to be one of those threads, the script must not run on the event-loop
thread: the connection hands the command to :data:`SCRIPT_THREADS` as a
:class:`ScriptCall` and waits for it up to the threshold, as Redis's loop
would have been busy anyway.  A script done by then is answered at once (the
common case: one thread switch each way); otherwise the connection parks
itself (its later requests queue, as behind a blocked command), the loop goes
back to its other clients, and the reply comes back through
``loop.call_soon_threadsafe``.

The workers are daemon threads, so a script that never ends cannot keep
the process from exiting after SHUTDOWN.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Final

# The commands that run a script (lower case).
SCRIPT_COMMANDS: Final = frozenset({b"eval", b"evalsha", b"eval_ro", b"evalsha_ro", b"fcall", b"fcall_ro"})


class ScriptThreads:
    """A growable pool of daemon threads: one per script command running or waiting for the engine lock."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Callable[[Any, BaseException | None], None]]] = (
            queue.SimpleQueue())
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], Any], done: Callable[[Any, BaseException | None], None]) -> None:
        """Run ``job()`` in a worker thread, then ``done(result, None)`` there, or ``done(None, error)`` if it raised."""
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                threading.Thread(target=self._work, name="redpocket-script", daemon=True).start()
        self._jobs.put((job, done))

    def _work(self) -> None:
        while True:
            job, done = self._jobs.get()
            try:
                result, error = job(), None
            except BaseException as raised:  # (handed to the connection, which answers with it)
                result, error = None, raised
            done(result, error)
            with self._lock:
                self._idle += 1


SCRIPT_THREADS: Final = ScriptThreads()


class ScriptCall:
    """One script command handed to a worker thread; the loop either waits for it or leaves it to call back."""

    __slots__ = ("_lock", "error", "finished", "later", "reply")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.finished = threading.Event()
        self.reply: Any = None
        self.error: BaseException | None = None
        self.later: Callable[[Any, BaseException | None], None] | None = None

    def start(self, job: Callable[[], Any]) -> None:
        """Run ``job`` in a worker thread."""
        SCRIPT_THREADS.submit(job, self._done)

    def wait(self, timeout: float | None, later: Callable[[Any, BaseException | None], None]) -> bool:
        """Wait up to ``timeout`` seconds; tell whether it finished, else have ``later(reply, error)`` called."""
        if self.finished.wait(timeout):
            return True
        with self._lock:
            if self.finished.is_set():  # (it finished just now)
                return True
            self.later = later
            return False

    def _done(self, reply: Any, error: BaseException | None) -> None:
        with self._lock:
            self.reply, self.error = reply, error
            self.finished.set()
            later = self.later
        if later is not None:
            later(reply, error)
