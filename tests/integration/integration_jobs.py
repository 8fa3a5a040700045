"""Job functions for the integration tests' workers (imported by name by rq, Celery and Dramatiq)."""

from __future__ import annotations


def add(x: int, y: int) -> int:
    """Return the sum: the job every queue runs."""
    return x + y


def fail(message: str) -> None:
    """Raise, so the job lands in the failed-job registry."""
    raise ValueError(message)


try:
    from rq.worker import SimpleWorker
except ImportError:  # (rq is one of the [integration] extra's libraries)
    pass
else:

    class BurstWorker(SimpleWorker):
        """rq's ``SimpleWorker`` with its pub/sub thread polling every 0.1 s instead of every 60 s.

        At the end of a burst rq unsubscribes and joins that thread, which
        redis-py lets sleep out its whole ``sleep_time`` once nothing is
        subscribed (on every backend, redis-server too): 60 s a burst.
        """

        def subscribe(self) -> None:
            """Subscribe to this worker's command channel, as rq does, with a short poll."""
            self.pubsub = self.connection.pubsub()
            self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
            self.pubsub_thread = self.pubsub.run_in_thread(
                sleep_time=0.1, daemon=True, exception_handler=self._pubsub_exception_handler
            )
