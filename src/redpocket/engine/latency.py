"""The latency monitor and the per-command latency histograms (Redis's latency.c): the LATENCY command.

Two records, both fed by :meth:`Engine.account <redpocket.engine.Engine.account>`
after every command:

- **Events** (LATEST, HISTORY, GRAPH, DOCTOR, RESET): when a command runs for
  ``latency-monitor-threshold`` milliseconds or more (0, the default, turns the
  monitor off), a sample joins the time series of its event, ``command`` or
  ``fast-command`` (commands flagged ``fast``), as Redis's
  ``latencyAddSampleIfNeeded`` does.  A series keeps the newest
  :data:`SERIES_LENGTH` samples, at most one a second: a later spike in the
  same second only raises that second's sample.
- **Histograms** (HISTOGRAM): while ``latency-tracking`` is on, every command
  adds one call to its level of a power-of-two histogram of microseconds.
  Redis records into an HdrHistogram (1 ns .. 1 s, two significant digits)
  and reports it by doubling levels from 1024 ns; :data:`HISTOGRAM_LEVELS`
  maps a duration straight to the level Redis would report it under, so the
  reply has the same bucket labels (1, 2, 4, 8, 16, 33, 66 ... microseconds).
  ``CONFIG RESETSTAT`` forgets them.

Most commands here take under 2 us, the first level (up to 1 us as Redis
counts), so that level is never written: it holds the command's calls
(``CommandSpec.calls``) that no other level and no :attr:`LatencyMonitor.left_out`
count holds.  ``Engine.account`` therefore compares a call's time with
``Config.latency_floor`` (2 us) and does nothing more for a quicker one; it
hands longer ones to :meth:`LatencyMonitor.record`, every one while tracking
is off, and blocked ones to :meth:`LatencyMonitor.leave_out`.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import defaultdict, deque
from typing import TYPE_CHECKING, Any, Final

from .config import LATENCY_FLOOR
from .replies import map_reply

if TYPE_CHECKING:
    from .config import Config
    from .registry import CommandSpec

SERIES_LENGTH: Final = 160  # LATENCY_TS_LEN: samples kept per event
GRAPH_COLUMNS: Final = 80  # LATENCY_GRAPH_COLS
GRAPH_ROWS: Final = 4

# -- histogram levels -------------------------------------------------------------
# Redis reports level k (k = 10 .. 30) of its HdrHistogram as the highest value
# the sub-bucket holding 2**k ns stands for, in microseconds: 2**k plus the
# sub-bucket's width (2**(k-7) at two significant digits), minus 1 ns.  A command
# that ran for d microseconds is recorded as d * 1000 ns (at least 1, at most
# 1 s) and so falls in the first level whose label is >= d.
LEVEL_LABELS: Final = tuple((2**k + 2 ** (k - 7) - 1) // 1000 for k in range(10, 31))
LEVEL_COUNT: Final = len(LEVEL_LABELS)
_MAX_RECORDED_USEC: Final = 1_000_000  # LATENCY_HISTOGRAM_MAX_VALUE (1 s)
_TABLE_USEC: Final = 65536  # durations below this (65 ms) are looked up; longer ones searched


def histogram_level(usec: int) -> int:
    """Return the level of Redis's latency histogram that a command of ``usec`` microseconds falls in."""
    return bisect_left(LEVEL_LABELS, min(usec, _MAX_RECORDED_USEC))


# The level of each duration under 65 ms, by microseconds (longer ones go to histogram_level).
HISTOGRAM_LEVELS: Final = bytes(histogram_level(usec) for usec in range(_TABLE_USEC))
# Calls quicker than the latency floor are all in the first level, which is never written.
assert HISTOGRAM_LEVELS[int(LATENCY_FLOOR * 1e6)] == 1 and HISTOGRAM_LEVELS[int(LATENCY_FLOOR * 1e6) - 1] == 0


def _new_histogram() -> list[int]:
    return [0] * LEVEL_COUNT


def histogram_reply(protocol: int, counts: list[int]) -> Any:
    """Build one command's entry of LATENCY HISTOGRAM: its calls and cumulative counts per non-empty level."""
    levels: list[Any] = []
    total = 0
    for label, count in zip(LEVEL_LABELS, counts, strict=True):
        if count:
            total += count
            levels += [label, total]
    return map_reply(protocol, [b"calls", total, b"histogram_usec", map_reply(protocol, levels)])


# -- event time series --------------------------------------------------------------


class EventSeries:
    """The newest samples of one event: ``[unix time, milliseconds]`` pairs, oldest first, and the all-time high."""

    __slots__ = ("max", "samples")

    def __init__(self) -> None:
        self.samples: deque[list[int]] = deque(maxlen=SERIES_LENGTH)
        self.max = 0

    def add(self, now: int, milliseconds: int) -> None:
        """Record a spike; one in a second that already has a sample only raises it (``latencyAddSample``)."""
        if milliseconds > self.max:
            self.max = milliseconds
        samples = self.samples
        if samples and samples[-1][0] == now:
            if milliseconds > samples[-1][1]:
                samples[-1][1] = milliseconds
            return
        samples.append([now, milliseconds])


class LatencyMonitor:
    """One engine's latency events and command histograms."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.events: dict[str, EventSeries] = {}
        # id(CommandSpec) -> calls per level, the first left at 0 (CommandSpec is
        # not hashable; the engine's table keeps its specs alive as long as it lives).
        self.histograms: defaultdict[int, list[int]] = defaultdict(_new_histogram)
        # id(CommandSpec) -> calls in CommandSpec.calls the histogram leaves out:
        # commands that blocked, or ran while latency-tracking was off.
        self.left_out: defaultdict[int, int] = defaultdict(int)

    def record(self, spec: CommandSpec, elapsed: float, calls: int) -> None:
        """Record ``calls`` runs of ``spec`` that took ``elapsed`` seconds in all, from the latency floor up."""
        config = self.config
        if config.latency_tracking:
            usec = int(elapsed * 1e6) // calls
            if usec > 1:  # (a run's average may still be in the first level)
                level = HISTOGRAM_LEVELS[usec] if usec < _TABLE_USEC else histogram_level(usec)
                self.histograms[id(spec)][level] += calls
        else:
            self.left_out[id(spec)] += calls
        if elapsed >= config.latency_monitor_seconds:
            self.record_command(spec, elapsed / calls)

    def leave_out(self, spec: CommandSpec, calls: int) -> None:
        """Keep ``calls`` runs of ``spec`` out of its histogram (commands that blocked)."""
        self.left_out[id(spec)] += calls

    def histogram(self, spec: CommandSpec) -> list[int] | None:
        """Return ``spec``'s calls per level, or ``None`` if it has none recorded."""
        recorded = spec.calls - self.left_out.get(id(spec), 0)
        if recorded <= 0:
            return None
        counts = list(self.histograms.get(id(spec)) or _new_histogram())
        counts[0] = max(recorded - sum(counts), 0)
        return counts

    def add_sample(self, event: str, milliseconds: int, now: int | None = None) -> None:
        """Add a sample to ``event``'s series if it reaches ``latency-monitor-threshold`` (``latencyAddSampleIfNeeded``)."""
        threshold = self.config.get_int("latency-monitor-threshold")
        if threshold and milliseconds >= threshold:
            series = self.events.get(event)
            if series is None:
                series = self.events[event] = EventSeries()
            series.add(int(time.time()) if now is None else now, milliseconds)

    def record_command(self, spec: CommandSpec, seconds: float) -> None:
        """Sample a command that ran for ``seconds``: event ``fast-command`` if it is flagged fast, else ``command``."""
        self.add_sample("fast-command" if "fast" in spec.flags else "command", int(seconds * 1000))

    def reset(self, events: list[str] | None = None) -> int:
        """Forget the named events (case-insensitively), or all; return how many were forgotten."""
        if events is None:
            count = len(self.events)
            self.events.clear()
            return count
        count = 0
        for wanted in events:
            for name in [name for name in self.events if name.lower() == wanted.lower()]:
                del self.events[name]
                count += 1
        return count

    def forget_histograms(self) -> None:
        """Drop every command's histogram (``CONFIG RESETSTAT``, which zeroes ``CommandSpec.calls`` too)."""
        self.histograms.clear()
        self.left_out.clear()


# -- GRAPH ----------------------------------------------------------------------------

_CHARSET_FILL: Final = "_o#"


def _ago(seconds: int) -> str:
    """Label a sample by how long ago it happened: ``12s``, ``5m``, ``3h``, ``2d``."""
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _render_range(part: list[tuple[int, str]], low: int, high: int, rows: int) -> list[str]:
    """Draw samples as filled columns ``rows`` high, their labels written downwards below (``sparklineRenderRange``)."""
    steps = len(_CHARSET_FILL) * rows
    span = (high - low) or 1
    # (int)(relval * steps) / relmax, truncated: C's arithmetic, so the columns match Redis's
    heights = [min(max(int(int((value - low) * steps) / span), 0), steps - 1) for value, _label in part]
    lines = []
    for row in range(rows):
        chars = []
        for step in heights:
            index = step - (rows - row - 1) * len(_CHARSET_FILL)
            chars.append(_CHARSET_FILL[index] if 0 <= index < len(_CHARSET_FILL) else "|" if index >= 0 else " ")
        lines.append("".join(chars))
    lines.append(" " * len(part))  # the margin above the labels
    for depth in range(max(len(label) for _value, label in part)):
        lines.append("".join(label[depth] if depth < len(label) else " " for _value, label in part))
    return lines


def render_graph(event: str, series: EventSeries, now: int) -> str:
    """Return Redis's ASCII graph of an event's samples (``latencyCommandGenSparkeline``)."""
    samples = [(latency, _ago(now - when)) for when, latency in series.samples]
    values = [latency for latency, _label in samples]
    high, low = (max(values), min(values)) if values else (0, 0)
    text = f"{event} - high {high} ms, low {low} ms (all time high {series.max} ms)\n" + "-" * GRAPH_COLUMNS + "\n"
    blocks = []
    for start in range(0, len(samples), GRAPH_COLUMNS):
        lines = _render_range(samples[start : start + GRAPH_COLUMNS], low, high, GRAPH_ROWS)
        blocks.append("".join(line + "\n" for line in lines))
    return text + "\n".join(blocks)


# -- DOCTOR ---------------------------------------------------------------------------

_DISABLED_REPORT: Final = (
    "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use "
    '"CONFIG SET latency-monitor-threshold <milliseconds>." in order to enable it. If we weren\'t in a deep space '
    "mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
)
_NO_SPIKES_REPORT: Final = (
    "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. "
    "I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
)
_SPIKES_HEADER: Final = (
    "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n"
)
_ADVICE_SLOWLOG_INSPECT: Final = (
    "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. "
    "Please check https://redis.io/commands/slowlog for more information.\n"
)
_ADVICE_SCHEDULER: Final = (
    "- The system is slow to execute Redis code paths not containing system calls. This usually means the system "
    "does not provide Redis CPU time to run for long periods. You should try to:\n"
    "  1) Lower the system load.\n"
    "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n"
    '  3) Check if you have a "noisy neighbour" problem.\n'
    "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n"
)
_ADVICE_LARGE_OBJECTS: Final = (
    "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you "
    "have very large objects that are often deleted, expired, or evicted, try to fragment those objects into "
    "multiple smaller objects.\n"
)


def _event_line(number: int, event: str, series: EventSeries, now: int) -> str:
    """Summarise one event's samples as ``analyzeLatencyForEvent`` and the report do."""
    latencies = [latency for _when, latency in series.samples]  # (a series has one sample at least)
    count = len(latencies)
    average = sum(latencies) // count
    deviation = sum(abs(average - latency) for latency in latencies) // count
    period = (now - min(when for when, _latency in series.samples)) or 1
    return (
        f"{number}. {event}: {count} latency spikes (average {average}ms, mean deviation {deviation}ms, "
        f"period {period / count:.2f} sec). Worst all time event {series.max}ms."
    )


def latency_report(monitor: LatencyMonitor, now: int) -> str:
    """Return the human report of LATENCY DOCTOR (``createLatencyReport``), for the events this engine records."""
    config = monitor.config
    threshold = config.get_int("latency-monitor-threshold")
    if not monitor.events and not threshold:
        return _DISABLED_REPORT
    if not monitor.events:
        return _NO_SPIKES_REPORT
    slowlog_micros = config.get_int("slowlog-log-slower-than")
    lines = []
    slowlog_advice = ""
    inspect_slowlog = scheduler = large_objects = False
    for number, (event, series) in enumerate(monitor.events.items(), 1):
        lines.append(_event_line(number, event, series, now) + "\n")
        if event.lower() == "command":
            if slowlog_micros < 0:
                slowlog_advice = (
                    "- There are latency issues with potentially slow commands you are using. Try to enable the "
                    "Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than "
                    f"{threshold * 1000}'. If the Slow log is disabled Redis is not able to log slow commands "
                    "execution for you.\n"
                )
            elif slowlog_micros // 1000 > threshold:
                slowlog_advice = (
                    "- Your current Slow Log configuration only logs events that are slower than your configured "
                    f"latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {threshold * 1000}'.\n"
                )
            inspect_slowlog = large_objects = True
        elif event.lower() == "fast-command":
            scheduler = True
    advices = [slowlog_advice] if slowlog_advice else []
    if inspect_slowlog:
        advices.append(_ADVICE_SLOWLOG_INSPECT)
    if scheduler:
        advices.append(_ADVICE_SCHEDULER)
    if large_objects:
        advices.append(_ADVICE_LARGE_OBJECTS)
    report = _SPIKES_HEADER + "".join(lines)
    if not advices:
        return report + (
            "\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis "
            "community to get some help, providing this report in your help request.\n"
        )
    return report + "\nI have a few advices for you:\n\n" + "".join(advices)
