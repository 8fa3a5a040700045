"""LATENCY on both backends: the latency monitor's events, its reports, and the per-command histograms.

Spikes come from ``DEBUG SLEEP`` with ``latency-monitor-threshold`` set low
(the ``monitor`` fixture), so the real server and the engine see the same
events; timestamps and milliseconds are checked for shape and plausible
values, text exactly.  Engine internals (fast-command, runs of calls, the
160-sample cap, the graph's wrapping) are tested on the engine alone.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from tests.conftest import SERVER_SETTINGS
from tests.helpers import run

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.latency import (
    HISTOGRAM_LEVELS,
    LEVEL_LABELS,
    SERIES_LENGTH,
    EventSeries,
    histogram_level,
    render_graph,
)
from redpocket.server import Server

THRESHOLD_MS = 10  # high enough that an ordinary command on a loaded machine does not reach it

DISABLED = (
    "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use "
    '"CONFIG SET latency-monitor-threshold <milliseconds>." in order to enable it. If we weren\'t in a deep space '
    "mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
)
NO_SPIKES = (
    "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. "
    "I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
)
SPIKES_HEADER = (
    "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n"
)
ADVICE_TUNE_SLOWLOG = (
    "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor "
    "threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.\n"
)
ADVICE_ENABLE_SLOWLOG = (
    "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis "
    "feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Redis is not "
    "able to log slow commands execution for you.\n"
)
ADVICE_INSPECT_SLOWLOG = (
    "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. "
    "Please check https://redis.io/commands/slowlog for more information.\n"
)
ADVICE_LARGE_OBJECTS = (
    "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you "
    "have very large objects that are often deleted, expired, or evicted, try to fragment those objects into "
    "multiple smaller objects.\n"
)
EVENT_LINE = re.compile(
    r"(\d+)\. command: (\d+) latency spikes \(average (\d+)ms, mean deviation (\d+)ms, period (\d+\.\d\d) sec\)\. "
    r"Worst all time event (\d+)ms\.\n"
)


def latency(client: redis.Redis, *args: Any) -> Any:
    """Run ``LATENCY args...`` without redis-py's reply callbacks."""
    return client.execute_command("LATENCY", *args)


def text(reply: Any) -> str:
    """Return a DOCTOR or GRAPH reply as text, whatever the protocol."""
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def spike(client: redis.Redis, seconds: float) -> None:
    """Run a command that takes ``seconds`` (DEBUG SLEEP: the server does nothing else meanwhile)."""
    assert client.execute_command("DEBUG", "SLEEP", seconds) == b"OK"


def early_in_a_second() -> None:
    """Wait until the wall clock has just turned a second, so the next few commands share it."""
    while time.time() % 1 > 0.2:
        time.sleep(0.02)


def restore(client: redis.Redis) -> None:
    """Put back the defaults this suite changes and forget every event (the real server is shared)."""
    client.config_set("latency-monitor-threshold", 0)
    client.config_set("latency-tracking", "yes")
    client.config_set("slowlog-log-slower-than", 10000)
    latency(client, "RESET")


@pytest.fixture
def monitor(r: redis.Redis) -> Iterator[redis.Redis]:
    """A client whose server samples every command of THRESHOLD_MS or more, starting with no events."""
    restore(r)
    r.config_set("latency-monitor-threshold", THRESHOLD_MS)
    yield r
    restore(r)


@pytest.fixture
def quiet(r: redis.Redis) -> Iterator[redis.Redis]:
    """A client whose server has no events and the monitor off."""
    restore(r)
    yield r
    restore(r)


def check_sample(when: int, milliseconds: int, slept: float) -> None:
    """Check one sample of a DEBUG SLEEP spike: a recent timestamp and about the time slept."""
    assert isinstance(when, int) and abs(when - time.time()) < 5
    assert isinstance(milliseconds, int) and slept * 1000 <= milliseconds < slept * 1000 + 500


# -- CONFIG -------------------------------------------------------------------------------------


def test_threshold_parameter(quiet: redis.Redis) -> None:
    assert quiet.config_get("latency-monitor-threshold") == {"latency-monitor-threshold": "0"}
    quiet.config_set("latency-monitor-threshold", 25)
    assert quiet.config_get("latency-*")["latency-monitor-threshold"] == "25"


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", ""])
def test_threshold_parameter_errors_match_redis(pair, value: str) -> None:  # type: ignore[no-untyped-def]
    embedded, real = pair(protocol=2)
    args = ("CONFIG", "SET", "latency-monitor-threshold", value)
    assert run(embedded, *args) == run(real, *args)
    assert run(real, *args)[0] == "error"


# -- events: LATEST HISTORY RESET -----------------------------------------------------------------


def test_nothing_is_sampled_while_the_monitor_is_off(quiet: redis.Redis) -> None:
    spike(quiet, 0.02)
    assert latency(quiet, "LATEST") == []
    assert latency(quiet, "HISTORY", "command") == []


def test_a_slow_command_is_sampled(monitor: redis.Redis) -> None:
    spike(monitor, 0.03)
    [[event, when, milliseconds, worst]] = latency(monitor, "LATEST")
    assert event == b"command"  # DEBUG is not flagged fast
    check_sample(when, milliseconds, 0.03)
    assert worst == milliseconds
    assert latency(monitor, "HISTORY", "command") == [[when, milliseconds]]


def test_commands_under_the_threshold_are_not_sampled(monitor: redis.Redis) -> None:
    monitor.config_set("latency-monitor-threshold", 500)
    spike(monitor, 0.02)
    monitor.set("k", "v")
    assert latency(monitor, "LATEST") == []


def test_spikes_in_one_second_make_one_sample_holding_the_worst(monitor: redis.Redis) -> None:
    early_in_a_second()
    spike(monitor, 0.02)
    spike(monitor, 0.06)
    spike(monitor, 0.03)
    [[when, milliseconds]] = latency(monitor, "HISTORY", "command")
    check_sample(when, milliseconds, 0.06)
    assert latency(monitor, "LATEST") == [[b"command", when, milliseconds, milliseconds]]


def test_each_second_has_its_sample_oldest_first(monitor: redis.Redis) -> None:
    early_in_a_second()
    spike(monitor, 0.06)
    time.sleep(1.0)
    spike(monitor, 0.02)
    [[first, worst], [second, latest]] = latency(monitor, "HISTORY", "command")
    assert second > first
    check_sample(first, worst, 0.06)
    check_sample(second, latest, 0.02)
    # LATEST: the newest sample and the all-time high
    assert latency(monitor, "LATEST") == [[b"command", second, latest, worst]]


def test_history_of_an_event_is_case_sensitive(monitor: redis.Redis) -> None:
    spike(monitor, 0.02)
    assert latency(monitor, "HISTORY", "COMMAND") == []
    assert latency(monitor, "HISTORY", "nosuch") == []


def test_reset_counts_the_events_it_forgets(monitor: redis.Redis) -> None:
    assert latency(monitor, "RESET") == 0
    spike(monitor, 0.02)
    assert latency(monitor, "RESET", "nosuch") == 0
    assert latency(monitor, "RESET", "COMMAND", "command") == 1  # case-insensitive; gone after the first
    assert latency(monitor, "LATEST") == []
    spike(monitor, 0.02)
    assert latency(monitor, "RESET") == 1
    assert latency(monitor, "HISTORY", "command") == []


def test_turning_the_monitor_off_keeps_the_events(monitor: redis.Redis) -> None:
    spike(monitor, 0.02)
    monitor.config_set("latency-monitor-threshold", 0)
    spike(monitor, 0.05)
    [[event, _when, milliseconds, _worst]] = latency(monitor, "LATEST")
    assert event == b"command" and milliseconds < 50


def test_a_command_inside_exec_is_sampled(monitor: redis.Redis) -> None:
    pipe = monitor.pipeline(transaction=True)
    pipe.execute_command("DEBUG", "SLEEP", "0.02")
    pipe.set("k", "v")
    assert pipe.execute() == [b"OK", True]
    [[event, when, milliseconds, _worst]] = latency(monitor, "LATEST")
    assert event == b"command"
    check_sample(when, milliseconds, 0.02)


# -- GRAPH ----------------------------------------------------------------------------------------


def test_graph_of_an_unknown_event(pair) -> None:  # type: ignore[no-untyped-def]
    embedded, real = pair(protocol=2)
    for client in (embedded, real):
        latency(client, "RESET")
    assert run(embedded, "LATENCY", "GRAPH", "command") == run(real, "LATENCY", "GRAPH", "command")
    assert run(real, "LATENCY", "GRAPH", "command") == ("error", "No samples available for event 'command'")


def test_graph_of_one_sample(monitor: redis.Redis) -> None:
    spike(monitor, 0.02)
    [[_when, milliseconds]] = latency(monitor, "HISTORY", "command")
    graph = text(latency(monitor, "GRAPH", "command"))
    header = f"command - high {milliseconds} ms, low {milliseconds} ms (all time high {milliseconds} ms)\n"
    assert graph.startswith(header + "-" * 80 + "\n \n \n \n_\n \n")
    assert re.fullmatch(r"\d\ns\n", graph[len(header) + 81 + 10 :])  # "0s" or "1s" ago, written downwards


def test_graph_of_two_samples(monitor: redis.Redis) -> None:
    early_in_a_second()
    spike(monitor, 0.06)
    time.sleep(1.0)
    spike(monitor, 0.02)
    [[_, high], [_, low]] = latency(monitor, "HISTORY", "command")
    lines = text(latency(monitor, "GRAPH", "command")).split("\n")
    assert lines[0] == f"command - high {high} ms, low {low} ms (all time high {high} ms)"
    assert lines[1] == "-" * 80
    assert lines[2:7] == ["# ", "| ", "| ", "|_", "  "]  # the higher spike fills the 4 rows
    assert re.fullmatch(r"\d\d", lines[7]) and int(lines[7][0]) == int(lines[7][1]) + 1
    assert lines[8:] == ["ss", ""]


def test_graph_wraps_at_80_columns_with_minute_labels() -> None:
    series = EventSeries()
    for second in range(85):  # 85 spikes one second apart, the newest 10 s ago
        series.add(1000 + second, 10 + second % 5)
    series.max = 99
    graph = render_graph("command", series, now=1000 + 84 + 10)
    head, first, second = graph.split("\n", 2)[0], graph.split("\n")[2:10], graph.split("\n")[11:]
    assert head == "command - high 14 ms, low 10 ms (all time high 99 ms)"
    assert [len(line) for line in first] == [80] * 8
    # 10 .. 14 ms over a range of 4: steps 0, 3, 6, 9, 11 of 12 ("_o#" per row, "|" below a full row)
    assert first[:4] == ["   _#" * 16, "  _||" * 16, " _|||" * 16, "_||||" * 16]
    assert first[4] == " " * 80
    assert first[5] == "1" * 35 + "5" * 10 + "4" * 10 + "3" * 10 + "2" * 10 + "1" * 5  # 1m (94 s) .. 15s ago
    assert first[6][:35] == "m" * 35 and first[6][35:] == "9876543210" * 4 + "98765"
    assert first[7] == " " * 35 + "s" * 45
    assert graph.split("\n")[10] == ""  # a blank line between blocks
    assert second == ["   _#", "  _||", " _|||", "_||||", "     ", "11111", "43210", "sssss", ""]


# -- DOCTOR ---------------------------------------------------------------------------------------


def test_doctor_when_the_monitor_was_never_on(quiet: redis.Redis) -> None:
    assert text(latency(quiet, "DOCTOR")) == DISABLED


def test_doctor_without_spikes(monitor: redis.Redis) -> None:
    assert text(latency(monitor, "DOCTOR")) == NO_SPIKES


def test_doctor_resp3_is_verbatim_text(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(protocol=3)
    restore(client)
    assert text(latency(client, "DOCTOR")) == DISABLED


def check_spike_report(report: str, slept: tuple[float, ...]) -> str:
    """Check the report's first part for one ``command`` event of the spikes slept; return the advice part."""
    assert report.startswith(SPIKES_HEADER)
    line = EVENT_LINE.match(report, len(SPIKES_HEADER))
    assert line is not None, report
    number, spikes, average, deviation, period, worst = line.groups()
    assert (number, int(spikes)) == ("1", len(slept))
    assert int(worst) >= max(slept) * 1000 and int(average) >= min(slept) * 1000
    assert 0 <= int(deviation) <= int(worst) and 0 < float(period) <= 5
    return report[line.end() :]


def test_doctor_with_a_spike(monitor: redis.Redis) -> None:
    spike(monitor, 0.03)
    advice = check_spike_report(text(latency(monitor, "DOCTOR")), (0.03,))
    # slowlog-log-slower-than (10 ms) does not exceed the threshold (10 ms): nothing to tune
    assert advice == "\nI have a few advices for you:\n\n" + ADVICE_INSPECT_SLOWLOG + ADVICE_LARGE_OBJECTS


def test_doctor_advises_a_slow_log_catching_what_the_monitor_sees(monitor: redis.Redis) -> None:
    monitor.config_set("latency-monitor-threshold", 5)
    spike(monitor, 0.02)
    advice = check_spike_report(text(latency(monitor, "DOCTOR")), (0.02,))
    assert advice == ("\nI have a few advices for you:\n\n" + ADVICE_TUNE_SLOWLOG.format(5000)
                      + ADVICE_INSPECT_SLOWLOG + ADVICE_LARGE_OBJECTS)


def test_doctor_advises_enabling_a_disabled_slow_log(monitor: redis.Redis) -> None:
    monitor.config_set("slowlog-log-slower-than", -1)
    spike(monitor, 0.02)
    advice = check_spike_report(text(latency(monitor, "DOCTOR")), (0.02,))
    assert advice == ("\nI have a few advices for you:\n\n" + ADVICE_ENABLE_SLOWLOG.format(THRESHOLD_MS * 1000)
                      + ADVICE_INSPECT_SLOWLOG + ADVICE_LARGE_OBJECTS)


def test_doctor_reports_the_events_kept_after_the_monitor_is_off(monitor: redis.Redis) -> None:
    spike(monitor, 0.02)
    monitor.config_set("latency-monitor-threshold", 0)
    advice = check_spike_report(text(latency(monitor, "DOCTOR")), (0.02,))
    assert advice.startswith("\nI have a few advices for you:\n\n" + ADVICE_TUNE_SLOWLOG.format(0))


# -- HISTOGRAM --------------------------------------------------------------------------------------


def check_histogram(entry: dict[bytes, Any], calls: int) -> dict[int, int]:
    """Check one command's histogram (``calls`` calls; cumulative counts on Redis's levels); return its levels."""
    assert set(entry) == {b"calls", b"histogram_usec"}
    assert entry[b"calls"] == calls
    levels = entry[b"histogram_usec"]
    assert list(levels) == sorted(levels) and set(levels) <= set(LEVEL_LABELS)
    counts = list(levels.values())
    assert counts == sorted(counts) and len(set(counts)) == len(counts) and counts[-1] == calls
    return dict(levels)


def histograms(client: redis.Redis, *names: str) -> dict[bytes, Any]:
    """Return LATENCY HISTOGRAM as nested dicts, whatever the protocol."""
    reply = latency(client, "HISTOGRAM", *names)
    if isinstance(reply, dict):
        return reply
    entries = dict(zip(reply[::2], reply[1::2], strict=True))
    return {name: {b"calls": entry[1], b"histogram_usec": dict(zip(entry[3][::2], entry[3][1::2], strict=True))}
            for name, entry in entries.items()}


@pytest.mark.parametrize("protocol", [2, 3])
def test_histogram_counts_every_call(make_client, protocol: int) -> None:  # type: ignore[no-untyped-def]
    client = make_client(protocol=protocol)
    client.config_resetstat()
    for i in range(5):
        client.set(f"k{i}", i)
    client.get("k1")
    found = histograms(client, "set", "get", "hset")
    assert set(found) == {b"set", b"get"}  # a command never called has no histogram
    check_histogram(found[b"set"], 5)
    check_histogram(found[b"get"], 1)


def test_histogram_resp2_shape(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(protocol=2)
    client.config_resetstat()
    client.ping()
    [name, [calls_key, calls, levels_key, levels]] = latency(client, "HISTOGRAM", "ping")
    assert (name, calls_key, calls, levels_key) == (b"ping", b"calls", 1, b"histogram_usec")
    assert len(levels) == 2 and levels[0] in LEVEL_LABELS and levels[1] == 1


def test_histogram_level_of_a_slow_command(r: redis.Redis) -> None:
    r.config_resetstat()
    spike(r, 0.02)
    spike(r, 0.04)
    levels = check_histogram(histograms(r, "debug")[b"debug"], 2)
    # 20 ms is counted under 33816 us (2**25 ns), 40 ms under 67633 us (2**26 ns)
    assert levels == {33816: 1, 67633: 2}


def test_histogram_names(r: redis.Redis) -> None:
    r.config_resetstat()
    r.config_get("maxmemory")
    r.config_set("latency-tracking", "yes")
    found = histograms(r, "CONFIG|GET", "nosuch", "get|x", "config|get|x")
    assert list(found) == [b"config|get"]  # unknown names are left out
    assert set(histograms(r, "config")) == {b"config|get", b"config|set", b"config|resetstat"}
    everything = histograms(r)
    assert {b"config|get", b"config|set", b"config|resetstat"} <= set(everything)
    assert b"latency|histogram" in everything  # the calls before this one
    for name, entry in everything.items():
        check_histogram(entry, entry[b"calls"])
        assert b"|" not in name or name.startswith((b"config|", b"latency|"))


def test_config_resetstat_forgets_the_histograms(r: redis.Redis) -> None:
    r.set("k", "v")
    r.config_resetstat()
    assert set(histograms(r)) == {b"config|resetstat"}  # counted once it ran, as INFO's calls are


def test_latency_tracking_off_stops_recording(r: redis.Redis) -> None:
    r.config_resetstat()
    r.ping()
    r.config_set("latency-tracking", "no")
    try:
        r.ping()
        r.set("k", "v")
        found = histograms(r, "ping", "set")
        assert list(found) == [b"ping"] and found[b"ping"][b"calls"] == 1
    finally:
        r.config_set("latency-tracking", "yes")


def test_failed_calls_are_counted(r: redis.Redis) -> None:
    r.config_resetstat()
    r.set("k", "v")
    assert run(r, "LPUSH", "k", "x")[0] == "error"
    check_histogram(histograms(r, "lpush")[b"lpush"], 1)


# -- errors and HELP ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [(), ("NOPE",), ("LATEST", "x"), ("DOCTOR", "x"), ("HELP", "x"), ("HISTORY",), ("HISTORY", "a", "b"),
     ("GRAPH",), ("GRAPH", "a", "b"), ("latest", "x")],
)
def test_errors_match_redis(pair, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    embedded, real = pair(protocol=2)
    assert run(embedded, "LATENCY", *args) == run(real, "LATENCY", *args)
    assert run(real, "LATENCY", *args)[0] == "error"


def test_help_matches_redis(pair) -> None:  # type: ignore[no-untyped-def]
    embedded, real = pair(protocol=2)
    assert run(embedded, "LATENCY", "HELP") == run(real, "LATENCY", "HELP")
    assert run(real, "LATENCY", "HELP")[-2:] == [b"HELP", b"    Prints this help."]


# -- engine internals -----------------------------------------------------------------------------------


@pytest.fixture
def embedded() -> EmbeddedRedis:
    """An embedded client whose engine samples commands of THRESHOLD_MS or more."""
    client = EmbeddedRedis(Engine(config={**SERVER_SETTINGS, "latency-monitor-threshold": str(THRESHOLD_MS)}))
    return client


def test_a_slow_fast_command_is_a_fast_command_event(embedded: EmbeddedRedis) -> None:
    engine = embedded.engine
    session = engine.session()
    engine.account(session, engine.commands[b"get"], [b"GET", b"k"], 0.025)
    engine.account(session, engine.commands[b"keys"], [b"KEYS", b"*"], 0.015)
    latest = {entry[0]: entry[1:] for entry in latency(embedded, "LATEST")}
    assert set(latest) == {b"fast-command", b"command"}
    assert latest[b"fast-command"][1:] == [25, 25] and latest[b"command"][1:] == [15, 15]
    report = text(latency(embedded, "DOCTOR"))
    assert "1. fast-command: 1 latency spikes (average 25ms, mean deviation 0ms, period 1.00 sec)." in report
    assert "- The system is slow to execute Redis code paths not containing system calls." in report


def test_a_run_is_sampled_by_its_average(embedded: EmbeddedRedis) -> None:
    engine = embedded.engine
    session = engine.session()
    get = engine.commands[b"get"]
    engine.account(session, get, [b"GET", b"k"], 0.055, calls=10)  # 5.5 ms each: under the threshold
    assert latency(embedded, "LATEST") == []
    engine.account(session, get, [b"GET", b"k"], 0.305, calls=10)  # 30.5 ms each
    assert latency(embedded, "LATEST")[0][2:] == [30, 30]
    assert histograms(embedded, "get") == {b"get": {b"calls": 20, b"histogram_usec": {8454: 10, 33816: 20}}}


def test_quick_calls_fill_the_first_level_without_being_recorded(embedded: EmbeddedRedis) -> None:
    engine = embedded.engine
    session = engine.session()
    get = engine.commands[b"get"]
    engine.account(session, get, [b"GET", b"k"], 0.5e-6)
    engine.account(session, get, [b"GET", b"k"], 1.5e-6)
    engine.account(session, get, [b"GET", b"k"], 15e-6, calls=10)  # a run of 1.5 us calls
    engine.account(session, get, [b"GET", b"k"], 3e-6)
    assert id(get) in engine.latency.histograms and engine.latency.histograms[id(get)][0] == 0  # never written
    assert histograms(embedded, "get") == {b"get": {b"calls": 13, b"histogram_usec": {1: 12, 4: 13}}}


def test_a_blocked_command_is_neither_sampled_nor_counted_in_the_histogram(embedded: EmbeddedRedis) -> None:
    engine = embedded.engine
    engine.account(engine.session(), engine.commands[b"blpop"], [b"BLPOP", b"l", b"0"], 0.05, loggable=False)
    assert latency(embedded, "LATEST") == []
    assert histograms(embedded, "blpop") == {}


def test_a_series_keeps_the_newest_160_samples() -> None:
    engine = Engine(config={"latency-monitor-threshold": "1"})
    for second in range(SERIES_LENGTH + 40):
        engine.latency.add_sample("command", 1 + second % 7, now=10_000 + second)
    engine.latency.add_sample("command", 1, now=9_000)  # (the clock went back: a new sample all the same)
    history = engine.latency.events["command"].samples
    assert len(history) == SERIES_LENGTH
    assert history[0] == [10_000 + 41, 1 + 41 % 7] and history[-1] == [9_000, 1]
    assert engine.latency.events["command"].max == 7


def test_histogram_levels_follow_redis_hdr_histogram() -> None:
    # (2**k + 2**(k-7) - 1) // 1000 for k = 10 .. 30: the labels LATENCY HISTOGRAM prints
    assert LEVEL_LABELS[:8] == (1, 2, 4, 8, 16, 33, 66, 132)
    assert LEVEL_LABELS[-1] == 1082130 and len(LEVEL_LABELS) == 21
    # a duration of d us falls under the first label >= d (0 counts as 1 ns, past 1 s as 1 s)
    expected = {0: 1, 1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 16: 16, 17: 33, 33: 33, 34: 66, 1056: 1056, 1057: 2113,
                65535: 67633, 65536: 67633, 10**6: 1082130, 10**9: 1082130}
    for usec, label in expected.items():
        assert LEVEL_LABELS[histogram_level(usec)] == label, usec
        if usec < len(HISTOGRAM_LEVELS):
            assert HISTOGRAM_LEVELS[usec] == histogram_level(usec)


# -- over TCP -------------------------------------------------------------------------------------------


@pytest.fixture
def tcp_server() -> Iterator[Server]:
    """A redpocket server in a background thread."""
    context = Server(port=0, engine=Engine(config=SERVER_SETTINGS)).run_in_thread()
    yield context.__enter__()
    context.__exit__(None, None, None)


def exchange(port: int, request: bytes, wait: float = 0.3) -> bytes:
    """Send raw RESP to a server on ``port`` and return everything it answers within ``wait`` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        deadline = time.monotonic() + wait
        data = b""
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        return data


def command(*args: str) -> bytes:
    """Encode one request as RESP."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg.encode()) for arg in args)


HELLO3 = command("HELLO", "3")


@pytest.mark.parametrize(
    "requests",
    [[command("LATENCY", "HELP")], [command("LATENCY", "DOCTOR")], [HELLO3, command("LATENCY", "DOCTOR")],
     [command("LATENCY", "GRAPH", "nosuch")], [command("LATENCY", "LATEST")], [HELLO3, command("LATENCY", "LATEST")],
     [command("LATENCY", "RESET", "a", "b")], [command("LATENCY", "HISTORY", "command")],
     [HELLO3, command("LATENCY", "HISTOGRAM", "nosuch")]],
)
def test_tcp_bytes_match_redis(tcp_server: Server, redis_server, requests: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    admin = redis_server.client()
    restore(admin)
    admin.close()
    ours, theirs = (exchange(port, b"".join(requests)) for port in (tcp_server.port, redis_server.port))
    if requests[0] == HELLO3:  # HELLO's own reply differs (server name, version, id): compare what follows
        end = b"$7\r\nmodules\r\n*0\r\n"
        ours, theirs = (data[data.index(end) + len(end) :] for data in (ours, theirs))
    assert ours == theirs


def test_tcp_spikes_and_histogram(tcp_server: Server) -> None:
    client = redis.Redis(port=tcp_server.port, socket_timeout=10)
    try:
        client.config_set("latency-monitor-threshold", THRESHOLD_MS)
        spike(client, 0.02)
        [[event, when, milliseconds, _worst]] = latency(client, "LATEST")
        assert event == b"command"
        check_sample(when, milliseconds, 0.02)
        assert text(latency(client, "GRAPH", "command")).startswith("command - high ")
        pipe = client.pipeline(transaction=False)  # the server times a run of GETs with one clock reading
        for _ in range(50):
            pipe.get("k")
        pipe.execute()
        check_histogram(histograms(client, "get")[b"get"], 50)
    finally:
        client.close()


def test_resp3_histogram_over_tcp(tcp_server: Server) -> None:
    client: Callable[..., Any] = redis.Redis(port=tcp_server.port, protocol=3, socket_timeout=10).execute_command
    client("SET", "k", "v")
    reply = client("LATENCY", "HISTOGRAM", "set")
    check_histogram(reply[b"set"], 1)
