"""The settings the engine honours, read and written by ``CONFIG GET/SET``.

The table mirrors Redis 7.0's ``static_configs`` (``src/config.c``): every
parameter with its alias, type, bounds and default, so ``CONFIG GET *``
lists the same names and ``CONFIG SET`` rejects the same values with the
same words.  Most parameters only describe a server the embedded engine is
not (ports, TLS, replication); they are stored and reported, nothing more.

Two ways in: :meth:`Config.set` is the configuration-file path (the
``Engine(config=...)`` argument), which may also set immutable and
protected parameters; :meth:`Config.set_many` is ``CONFIG SET``: runtime
rules, all pairs validated before any is applied.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from .args import is_int
from .replies import ReplyError

INT_MIN: Final = -(2**31)
INT_MAX: Final = 2**31 - 1
UINT_MAX: Final = 2**32 - 1
LONG_MAX: Final = 2**63 - 1
ULLONG_MAX: Final = 2**64 - 1

MAX_HZ: Final = 500
# Engine.account hands a command to the latency monitor once it ran this long
# (seconds): 2 us, where the command histogram's second level starts.  Quicker
# calls belong to its first level, which the monitor counts as the calls not
# counted elsewhere (see latency.py), so they cost one comparison.
LATENCY_FLOOR: Final = 2e-6

_DIGITS_RE: Final = re.compile(r"[0-9]*")
_MEMORY_UNITS: Final = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
_STRTOLL_RE: Final = re.compile(r"\s*[+-]?[0-9]+\Z")


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration parameter: its default and how a value is checked.

    ``kind`` is one of ``bool``, ``int`` (``string2ll``), ``memory`` (``1gb``
    ...), ``memory-percent``, ``octal``, ``enum``, ``string`` or a special
    parser name (``save``, ``notify``, ``bind``, ``obuf``, ``oom``,
    ``percentiles``, ``replicaof``).  ``unsigned`` selects Redis's unsigned
    boundary check (a negative number wraps round and is reported as too big).
    """

    name: str
    default: str
    kind: str = "string"
    lower: int = 0
    upper: int = LONG_MAX
    choices: tuple[str, ...] = ()
    alias: str = ""
    immutable: bool = False
    protected: bool = False
    unsigned: bool = False
    validate: str = ""


def _b(name: str, default: str, alias: str = "", immutable: bool = False) -> Setting:
    return Setting(name, default, "bool", alias=alias, immutable=immutable)


def _i(name: str, default: int, lower: int, upper: int, alias: str = "", immutable: bool = False,
       kind: str = "int", unsigned: bool = False) -> Setting:
    return Setting(name, str(default), kind, lower, upper, alias=alias, immutable=immutable, unsigned=unsigned)


def _s(name: str, default: str = "", immutable: bool = False, protected: bool = False, alias: str = "",
       validate: str = "") -> Setting:
    return Setting(name, default, "string", alias=alias, immutable=immutable, protected=protected, validate=validate)


def _e(name: str, default: str, choices: tuple[str, ...], immutable: bool = False) -> Setting:
    return Setting(name, default, "enum", choices=choices, immutable=immutable)


_PROTECTED_ACTION = ("no", "yes", "local")
_ENUM_MAXMEMORY = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                   "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")

SETTINGS_LIST: Final[tuple[Setting, ...]] = (
    # Bool configs
    _b("rdbchecksum", "yes", immutable=True),
    _b("daemonize", "no", immutable=True),
    _b("io-threads-do-reads", "no", immutable=True),
    _b("always-show-logo", "no", immutable=True),
    _b("protected-mode", "yes"),
    _b("rdbcompression", "yes"),
    _b("rdb-del-sync-files", "no"),
    _b("activerehashing", "yes"),
    _b("stop-writes-on-bgsave-error", "yes"),
    _b("set-proc-title", "yes", immutable=True),
    _b("dynamic-hz", "yes"),
    _b("lazyfree-lazy-eviction", "no"),
    _b("lazyfree-lazy-expire", "no"),
    _b("lazyfree-lazy-server-del", "no"),
    _b("lazyfree-lazy-user-del", "no"),
    _b("lazyfree-lazy-user-flush", "no"),
    _b("repl-disable-tcp-nodelay", "no"),
    _b("repl-diskless-sync", "yes"),
    _b("aof-rewrite-incremental-fsync", "yes"),
    _b("no-appendfsync-on-rewrite", "no"),
    _b("cluster-require-full-coverage", "yes"),
    _b("rdb-save-incremental-fsync", "yes"),
    _b("aof-load-truncated", "yes"),
    _b("aof-use-rdb-preamble", "yes"),
    _b("aof-timestamp-enabled", "no"),
    _b("cluster-replica-no-failover", "no", alias="cluster-slave-no-failover"),
    _b("replica-lazy-flush", "no", alias="slave-lazy-flush"),
    _b("replica-serve-stale-data", "yes", alias="slave-serve-stale-data"),
    _b("replica-read-only", "yes", alias="slave-read-only"),
    _b("replica-ignore-maxmemory", "yes", alias="slave-ignore-maxmemory"),
    _b("jemalloc-bg-thread", "yes"),
    _b("activedefrag", "no"),
    _b("syslog-enabled", "no", immutable=True),
    _b("cluster-enabled", "no", immutable=True),
    _b("appendonly", "no"),
    _b("cluster-allow-reads-when-down", "no"),
    _b("cluster-allow-pubsubshard-when-down", "yes"),
    _b("crash-log-enabled", "yes"),
    _b("crash-memcheck-enabled", "yes"),
    _b("disable-thp", "yes", immutable=True),
    _b("cluster-allow-replica-migration", "yes"),
    _b("replica-announced", "yes"),
    _b("latency-tracking", "yes"),
    _b("aof-disable-auto-gc", "no"),
    _b("replica-ignore-disk-write-errors", "no"),
    # String configs
    _s("aclfile", immutable=True),
    _s("unixsocket", immutable=True),
    _s("pidfile", immutable=True),
    _s("replica-announce-ip", alias="slave-announce-ip"),
    _s("masteruser"),
    _s("cluster-announce-ip"),
    _s("cluster-config-file", "nodes.conf", immutable=True),
    _s("cluster-announce-hostname"),
    _s("syslog-ident", "redis", immutable=True),
    _s("dbfilename", "dump.rdb", protected=True, validate="basename"),
    _s("appendfilename", "appendonly.aof", immutable=True),
    _s("appenddirname", "appendonlydir", immutable=True),
    _s("server_cpulist", immutable=True),
    _s("bio_cpulist", immutable=True),
    _s("aof_rewrite_cpulist", immutable=True),
    _s("bgsave_cpulist", immutable=True),
    _s("ignore-warnings"),
    _s("proc-title-template", "{title} {listen-addr} {server-mode}"),
    _s("bind-source-addr"),
    _s("logfile", immutable=True),
    _s("masterauth"),
    _s("requirepass"),
    _s("dir", ".", protected=True),
    _s("tls-cert-file"),
    _s("tls-key-file"),
    _s("tls-key-file-pass"),
    _s("tls-client-cert-file"),
    _s("tls-client-key-file"),
    _s("tls-client-key-file-pass"),
    _s("tls-dh-params-file"),
    _s("tls-ca-cert-file"),
    _s("tls-ca-cert-dir"),
    _s("tls-protocols"),
    _s("tls-ciphers"),
    _s("tls-ciphersuites"),
    # Enum configs
    _e("supervised", "no", ("upstart", "systemd", "auto", "no"), immutable=True),
    _e("syslog-facility", "local0", ("user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"), immutable=True),
    _e("repl-diskless-load", "disabled", ("disabled", "on-empty-db", "swapdb")),
    _e("loglevel", "notice", ("debug", "verbose", "notice", "warning")),
    _e("maxmemory-policy", "noeviction", _ENUM_MAXMEMORY),
    _e("appendfsync", "everysec", ("everysec", "always", "no")),
    _e("oom-score-adj", "no", ("no", "yes", "relative", "absolute")),
    _e("acl-pubsub-default", "resetchannels", ("allchannels", "resetchannels")),
    _e("sanitize-dump-payload", "no", ("no", "yes", "clients")),
    _e("enable-protected-configs", "no", _PROTECTED_ACTION, immutable=True),
    _e("enable-debug-command", "no", _PROTECTED_ACTION, immutable=True),
    _e("enable-module-command", "no", _PROTECTED_ACTION, immutable=True),
    _e("cluster-preferred-endpoint-type", "ip", ("ip", "hostname", "unknown-endpoint")),
    _e("propagation-error-behavior", "ignore", ("ignore", "panic", "panic-on-replicas")),
    _e("shutdown-on-sigint", "default", ("default", "save", "nosave", "now", "force")),
    _e("shutdown-on-sigterm", "default", ("default", "save", "nosave", "now", "force")),
    _e("tls-auth-clients", "yes", ("no", "yes", "optional")),
    # Integer configs
    _i("databases", 16, 1, INT_MAX, immutable=True),
    _i("port", 6379, 0, 65535),
    _i("io-threads", 1, 1, 128, immutable=True),
    _i("auto-aof-rewrite-percentage", 100, 0, INT_MAX),
    _i("cluster-replica-validity-factor", 10, 0, INT_MAX, alias="cluster-slave-validity-factor"),
    _i("list-max-listpack-size", -2, INT_MIN, INT_MAX, alias="list-max-ziplist-size"),
    _i("tcp-keepalive", 300, 0, INT_MAX),
    _i("cluster-migration-barrier", 1, 0, INT_MAX),
    _i("active-defrag-cycle-min", 1, 1, 99),
    _i("active-defrag-cycle-max", 25, 1, 99),
    _i("active-defrag-threshold-lower", 10, 0, 1000),
    _i("active-defrag-threshold-upper", 100, 0, 1000),
    _i("lfu-log-factor", 10, 0, INT_MAX),
    _i("lfu-decay-time", 1, 0, INT_MAX),
    _i("replica-priority", 100, 0, INT_MAX, alias="slave-priority"),
    _i("repl-diskless-sync-delay", 5, 0, INT_MAX),
    _i("maxmemory-samples", 5, 1, INT_MAX),
    _i("maxmemory-eviction-tenacity", 10, 0, 100),
    _i("timeout", 0, 0, INT_MAX),
    _i("replica-announce-port", 0, 0, 65535, alias="slave-announce-port"),
    _i("tcp-backlog", 511, 0, INT_MAX, immutable=True),
    _i("cluster-port", 0, 0, 65535, immutable=True),
    _i("cluster-announce-bus-port", 0, 0, 65535),
    _i("cluster-announce-port", 0, 0, 65535),
    _i("cluster-announce-tls-port", 0, 0, 65535),
    _i("repl-timeout", 60, 1, INT_MAX),
    _i("repl-ping-replica-period", 10, 1, INT_MAX, alias="repl-ping-slave-period"),
    _i("list-compress-depth", 0, 0, INT_MAX),
    _i("active-expire-effort", 1, 1, 10),
    _i("hz", 10, 0, INT_MAX),
    _i("min-replicas-to-write", 0, 0, INT_MAX, alias="min-slaves-to-write"),
    _i("min-replicas-max-lag", 10, 0, INT_MAX, alias="min-slaves-max-lag"),
    _i("shutdown-timeout", 10, 0, INT_MAX),
    _i("repl-diskless-sync-max-replicas", 0, 0, INT_MAX),
    _i("socket-mark-id", 0, 0, UINT_MAX, unsigned=True),
    _i("maxclients", 10000, 1, UINT_MAX, unsigned=True),
    _i("unixsocketperm", 0, 0, 0o777, immutable=True, kind="octal", unsigned=True),
    _i("active-defrag-max-scan-fields", 1000, 1, LONG_MAX),
    _i("slowlog-max-len", 128, 0, LONG_MAX),
    _i("acllog-max-len", 128, 0, LONG_MAX),
    _i("busy-reply-threshold", 5000, 0, LONG_MAX, alias="lua-time-limit"),
    _i("cluster-node-timeout", 15000, 0, LONG_MAX),
    _i("slowlog-log-slower-than", 10000, -1, LONG_MAX),
    _i("latency-monitor-threshold", 0, 0, LONG_MAX),
    _i("proto-max-bulk-len", 512 * 1024 * 1024, 1024 * 1024, LONG_MAX, kind="memory"),
    _i("stream-node-max-entries", 100, 0, LONG_MAX),
    _i("repl-backlog-size", 1024 * 1024, 1, LONG_MAX, kind="memory"),
    _i("maxmemory", 0, 0, ULLONG_MAX, kind="memory", unsigned=True),
    _i("cluster-link-sendbuf-limit", 0, 0, ULLONG_MAX, kind="memory", unsigned=True),
    _i("hash-max-listpack-entries", 512, 0, LONG_MAX, alias="hash-max-ziplist-entries", unsigned=True),
    _i("set-max-intset-entries", 512, 0, LONG_MAX, unsigned=True),
    _i("zset-max-listpack-entries", 128, 0, LONG_MAX, alias="zset-max-ziplist-entries", unsigned=True),
    _i("active-defrag-ignore-bytes", 100 << 20, 1, LONG_MAX, kind="memory", unsigned=True),
    _i("hash-max-listpack-value", 64, 0, LONG_MAX, alias="hash-max-ziplist-value", kind="memory", unsigned=True),
    _i("stream-node-max-bytes", 4096, 0, LONG_MAX, kind="memory", unsigned=True),
    _i("zset-max-listpack-value", 64, 0, LONG_MAX, alias="zset-max-ziplist-value", kind="memory", unsigned=True),
    _i("hll-sparse-max-bytes", 3000, 0, LONG_MAX, kind="memory", unsigned=True),
    _i("tracking-table-max-keys", 1000000, 0, LONG_MAX, unsigned=True),
    _i("client-query-buffer-limit", 1024**3, 1024 * 1024, LONG_MAX, kind="memory", unsigned=True),
    _i("maxmemory-clients", 0, -100, LONG_MAX, kind="memory-percent"),
    _i("repl-backlog-ttl", 3600, 0, LONG_MAX),
    _i("auto-aof-rewrite-min-size", 64 * 1024 * 1024, 0, LONG_MAX, kind="memory"),
    _i("tls-port", 0, 0, 65535),
    _i("tls-session-cache-size", 20 * 1024, 0, INT_MAX),
    _i("tls-session-cache-timeout", 300, 0, INT_MAX),
    _b("tls-cluster", "no"),
    _b("tls-replication", "no"),
    _b("tls-prefer-server-ciphers", "no"),
    _b("tls-session-caching", "yes"),
    # Special configs
    Setting("save", "3600 1 300 100 60 10000", "save"),
    Setting("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", "obuf"),
    Setting("oom-score-adj-values", "0 200 800", "oom"),
    Setting("notify-keyspace-events", "", "notify"),
    Setting("bind", "* -::*", "bind"),
    Setting("replicaof", "", "replicaof", alias="slaveof", immutable=True),  # (startup only; REPLICAOF changes it)
    Setting("latency-tracking-info-percentiles", "50 99 99.9", "percentiles"),
)

SETTINGS: Final[dict[str, Setting]] = {s.name: s for s in SETTINGS_LIST}
# Every name CONFIG GET/SET accepts (aliases included), lower case, to its setting.
NAMES: Final[dict[str, Setting]] = {
    **{s.name: s for s in SETTINGS_LIST},
    **{s.alias: s for s in SETTINGS_LIST if s.alias},
}


def memtoull(text: str) -> int | None:
    """Parse a memory amount (``100``, ``1kb``, ``5m``, ``2GB``) as Redis's ``memtoull``; ``None`` if invalid."""
    if text.startswith("-"):
        return None
    digits = _DIGITS_RE.match(text).group()  # type: ignore[union-attr]
    multiplier = _MEMORY_UNITS.get(text[len(digits):].lower())
    if multiplier is None:
        return None
    value = int(digits) if digits else 0
    if value > ULLONG_MAX:
        return None
    return (value * multiplier) % (ULLONG_MAX + 1)


def _strtoll(text: str) -> int | None:
    """Parse like ``strtoll`` with a full-string check (leading blanks and a sign allowed)."""
    if text == "":
        return 0
    if _STRTOLL_RE.match(text) is None:
        return None
    return max(min(int(text), LONG_MAX), -LONG_MAX - 1)


_NOTIFY_TYPES: Final = "g$lshzxetd"  # 'A' stands for all of these


def notify_flags_to_string(flags: set[str]) -> str:
    """Return the text Redis shows for a set of keyspace-event classes (``keyspaceEventsFlagsToString``).

    As in Redis, "A" swallows the "n" class: ``EAn`` reads back as ``AE``
    though "new" events are still sent.
    """
    if set(_NOTIFY_TYPES) <= flags:
        text = "A"
    else:
        text = "".join(c for c in _NOTIFY_TYPES + "n" if c in flags)
    return text + "".join(c for c in "KEm" if c in flags)


def _parse_notify(value: str) -> str:
    """Check a ``notify-keyspace-events`` value; return every class it enables, one letter each."""
    flags: set[str] = set()
    for char in value:
        if char == "A":
            flags.update(_NOTIFY_TYPES)
        elif char in _NOTIFY_TYPES or char in "KEmn":
            flags.add(char)
        else:
            raise _Invalid("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return "".join(c for c in _NOTIFY_TYPES + "nKEm" if c in flags)


class _Invalid(Exception):
    """A value rejected by a parser; the message is Redis's ``err`` string."""


def _parse_save(value: str) -> str:
    args = [] if value == "" else value.split(" ")
    if len(args) % 2:
        raise _Invalid("Invalid save parameters")
    numbers = []
    for i, arg in enumerate(args):
        number = _strtoll(arg) if arg else 0
        if number is None or (i % 2 == 0 and number < 1) or (i % 2 == 1 and number < 0):
            raise _Invalid("Invalid save parameters")
        numbers.append(str(number))
    return " ".join(numbers)


def _parse_obuf(value: str, current: str) -> str:
    args = value.split(" ")
    if len(args) % 4:
        raise _Invalid("Wrong number of arguments in buffer limit configuration.")
    words = current.split(" ")
    limits = {words[i]: words[i + 1 : i + 4] for i in range(0, len(words), 4)}
    for i in range(0, len(args), 4):
        name = args[i].lower()
        name = {"replica": "slave"}.get(name, name)
        if name not in limits:
            raise _Invalid("Invalid client class specified in buffer limit configuration.")
        hard, soft, seconds = memtoull(args[i + 1]), memtoull(args[i + 2]), _strtoll(args[i + 3])
        if hard is None or soft is None or seconds is None or seconds < 0 or args[i + 3] == "":
            raise _Invalid("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        limits[name] = [str(hard), str(soft), str(seconds)]
    return " ".join(f"{name} {' '.join(values)}" for name, values in limits.items())


def _parse_oom(value: str) -> str:
    args = value.split(" ")
    if len(args) != 3:
        raise _Invalid("wrong number of arguments")
    numbers = []
    for arg in args:
        number = _strtoll(arg) if arg else 0
        if number is None or not -2000 <= number <= 2000:
            raise _Invalid("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
        numbers.append(str(number))
    return " ".join(numbers)


def _parse_percentiles(value: str) -> str:
    if value == "":
        return ""
    out = []
    for arg in value.split(" "):
        try:
            number = float(arg)
        except ValueError:
            raise _Invalid("Invalid latency-tracking-info-percentiles parameters") from None
        if not 0.0 <= number <= 100.0:
            raise _Invalid("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
        text = "%f" % number
        out.append(text.rstrip("0").rstrip(".") if "." in text else text)
    return " ".join(out)


def _parse_replicaof(value: str) -> str:
    args = value.split(" ")
    if len(args) != 2:
        raise _Invalid("wrong number of arguments")
    if args[0].lower() == "no" and args[1].lower() == "one":
        return ""
    if not args[1].isdigit() or not 0 <= int(args[1]) <= 65535:
        raise _Invalid("Invalid master port")
    return f"{args[0]} {int(args[1])}"  # (the TCP server connects to it: server/replica.py)


def _parse_number(setting: Setting, value: str) -> int:
    kind = setting.kind
    number: int | None = None
    if kind in ("memory", "memory-percent"):
        number = memtoull(value)
        if number is not None and number > LONG_MAX and not setting.unsigned:
            number -= ULLONG_MAX + 1  # C stores the unsigned result in a signed long long
    if number is None and kind == "memory-percent" and len(value) > 1 and value.endswith("%"):
        digits = value[:-1]
        if is_int(digits.encode("utf-8", "replace")) and int(digits) >= 0:
            number = -int(digits)  # Redis stores a percentage as a negative number
    if number is None and kind == "octal":
        try:
            number = int(value, 8)
        except ValueError:
            number = None
    if number is None and kind == "int" and is_int(value.encode("utf-8", "replace")):
        number = int(value)
    if number is None:
        raise _Invalid({
            "memory": "argument must be a memory value",
            "memory-percent": "argument must be a memory or percent value",
            "octal": "argument couldn't be parsed as an octal number",
        }.get(kind, "argument couldn't be parsed into an integer"))
    if setting.unsigned:
        wrapped = number % (ULLONG_MAX + 1)
        if not setting.lower <= wrapped <= setting.upper:
            if kind == "octal":
                raise _Invalid(f"argument must be between {setting.lower:o} and {setting.upper:o} inclusive")
            raise _Invalid(f"argument must be between {setting.lower} and {setting.upper} inclusive")
        return wrapped
    if kind == "memory-percent" and number < 0:
        if number < setting.lower:
            raise _Invalid(f"percentage argument must be less or equal to {-setting.lower}")
        return number
    if not setting.lower <= number <= setting.upper:
        raise _Invalid(f"argument must be between {setting.lower} and {setting.upper} inclusive")
    return number


def _format_number(setting: Setting, number: int) -> str:
    if setting.kind == "memory-percent" and number < 0:
        return f"{-number}%"
    if setting.kind == "octal":
        return f"{number:o}"
    return str(number)


class Config:
    """Current values of the settings; ``hz``, the slow-log and latency thresholds and :meth:`get_int`'s numbers cached."""

    def __init__(self, **overrides: Any) -> None:
        self.values: dict[str, str] = {s.name: s.default for s in SETTINGS_LIST}
        self._ints: dict[str, int] = {}
        # notify-keyspace-events as one letter per class enabled ("n" survives "A" here only).
        self.notify_classes = ""
        self.values["save"] = ""  # the embedded engine does not snapshot by default
        self.config_file: str = ""
        # Called with the new requirepass, which becomes the default user's password (acl.Users).
        self.requirepass_listener: Callable[[str], None] | None = None
        # Called after maxmemory, maxmemory-policy or maxmemory-samples change (the engine's evictor).
        self.memory_listener: Callable[[], None] | None = None
        # For the latency monitor: latency-monitor-threshold in seconds (infinite
        # when 0, "off"), whether latency-tracking is on, and the duration from
        # which Engine.account hands it a command (every one while tracking is off).
        self.latency_monitor_seconds = float("inf")
        self.latency_tracking = True
        self.latency_floor = LATENCY_FLOOR
        # slowlog-log-slower-than in seconds (infinite when negative: the slow log is off).
        self.slowlog_seconds = 0.0
        self._cache_slowlog_threshold()
        for name, value in overrides.items():
            self.set(name, value)
        self.hz = self._effective_hz()

    def _effective_hz(self) -> int:
        return min(max(int(self.values["hz"]), 1), MAX_HZ)

    def get(self, name: str) -> str:
        """Return the value of one setting, by its name or alias."""
        setting = NAMES.get(name.lower())
        return self.values[setting.name if setting is not None else name]

    def get_int(self, name: str) -> int:
        """Return the value of a numeric setting as an ``int`` (a percentage is negative, as in Redis)."""
        number = self._ints.get(name)
        if number is None:
            value = self.get(name)
            if value.endswith("%"):
                number = -int(value[:-1])
            else:
                number = int(value, 8) if NAMES[name].kind == "octal" else int(value)
            self._ints[name] = number
        return number

    def match(self, *patterns: str) -> dict[str, str]:
        """Return the settings matching any of ``patterns`` (``CONFIG GET``): globs, names or aliases.

        A pattern without glob characters is looked up directly and its
        entry keeps the spelling asked for, as in Redis.
        """
        found: dict[str, str] = {}
        claimed: set[str] = set()
        for pattern in patterns:
            if not any(c in pattern for c in "[*?"):
                setting = NAMES.get(pattern.lower())
                if setting is not None and pattern not in found:
                    found[pattern] = self.values[setting.name]
                continue
            lowered = pattern.lower()
            for name, setting in NAMES.items():
                if name in found or name in claimed:
                    continue
                if fnmatch.fnmatchcase(name, lowered):
                    found[name] = self.values[setting.name]
                    claimed.add(name)
        return found

    def parse(self, setting: Setting, value: str) -> str:
        """Validate ``value`` for ``setting`` and return its canonical text, or raise :class:`ReplyError`."""
        try:
            return self._parse(setting, value)
        except _Invalid as error:
            raise ReplyError(
                f"ERR CONFIG SET failed (possibly related to argument '{setting.name}') - {error}"
            ) from None

    def _parse(self, setting: Setting, value: str) -> str:
        kind = setting.kind
        if kind == "bool":
            lowered = value.lower()
            if lowered not in ("yes", "no"):
                raise _Invalid("argument must be 'yes' or 'no'")
            return lowered
        if kind == "enum":
            lowered = value.lower()
            if lowered not in setting.choices:
                raise _Invalid("argument(s) must be one of the following: " + ", ".join(setting.choices))
            return lowered
        if kind in ("int", "memory", "memory-percent", "octal"):
            return _format_number(setting, _parse_number(setting, value))
        if kind == "string":
            if setting.validate == "basename" and "/" in value:
                raise _Invalid("dbfilename can't be a path, just a filename")
            return value
        if kind == "save":
            return _parse_save(value)
        if kind == "notify":
            return _parse_notify(value)
        if kind == "obuf":
            return _parse_obuf(value, self.values[setting.name])
        if kind == "oom":
            return _parse_oom(value)
        if kind == "percentiles":
            return _parse_percentiles(value)
        if kind == "replicaof":
            return _parse_replicaof(value)
        if kind == "bind":
            if len(value.split(" ")) > 16:
                raise _Invalid("Too many bind addresses specified.")
            return value
        return value

    def _apply(self, setting: Setting, value: str) -> None:
        if setting.kind == "notify":
            self.notify_classes = value
            value = notify_flags_to_string(set(value))
        self.values[setting.name] = value
        self._ints.clear()
        if setting.name == "requirepass" and self.requirepass_listener is not None:
            self.requirepass_listener(value)
        elif setting.name in ("maxmemory", "maxmemory-policy") and self.memory_listener is not None:
            self.memory_listener()
        elif setting.name == "hz":
            # Redis clamps the configured hz into [1, 500] (updateHZ).
            self.values["hz"] = str(self._effective_hz())
            self.hz = self._effective_hz()
        elif setting.name in ("latency-monitor-threshold", "latency-tracking"):
            self._cache_latency_settings()
        elif setting.name == "slowlog-log-slower-than":
            self._cache_slowlog_threshold()

    def _cache_slowlog_threshold(self) -> None:
        micros = int(self.values["slowlog-log-slower-than"])
        self.slowlog_seconds = float("inf") if micros < 0 else micros / 1e6

    def _cache_latency_settings(self) -> None:
        milliseconds = int(self.values["latency-monitor-threshold"])
        self.latency_monitor_seconds = milliseconds / 1000 if milliseconds else float("inf")
        self.latency_tracking = self.values["latency-tracking"] == "yes"
        self.latency_floor = LATENCY_FLOOR if self.latency_tracking else float("-inf")

    def set(self, name: str, value: Any) -> None:
        """Set one setting as a configuration file line would (immutable and protected ones too)."""
        setting = NAMES.get(name.lower().replace("_", "-"))
        if setting is None:
            raise ReplyError(f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
        self._apply(setting, self.parse(setting, str(value)))

    def set_many(self, pairs: list[tuple[str, str]], protected_allowed: bool = False) -> None:
        """Apply ``CONFIG SET name value [name value ...]``: check every pair, then set all or none."""
        settings: list[Setting] = []
        unknown: str | None = None
        refusal: str | None = None
        for name, _value in pairs:
            setting = NAMES.get(name.lower())
            if setting is None:
                if unknown is None and refusal is None:
                    unknown = name
                continue
            if unknown is not None or refusal is not None:
                continue
            if setting.immutable:
                refusal = f"ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
            elif setting.protected and not protected_allowed:
                refusal = f"ERR CONFIG SET failed (possibly related to argument '{name}') - can't set protected config"
            elif setting in settings:
                refusal = f"ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            settings.append(setting)
        if unknown is not None:
            raise ReplyError(f"ERR Unknown option or number of arguments for CONFIG SET - '{unknown}'")
        if refusal is not None:
            raise ReplyError(refusal)
        parsed = [self.parse(setting, value) for setting, (_name, value) in zip(settings, pairs, strict=True)]
        for setting, value in zip(settings, parsed, strict=True):
            self._apply(setting, value)
