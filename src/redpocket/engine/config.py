"""The settings the engine honours, read and written by ``CONFIG GET/SET``."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from .replies import ReplyError


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration parameter: its default and how a value is checked."""

    name: str
    default: str
    kind: str = "string"  # string | int | bool | enum
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    immutable: bool = False


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("databases", "16", "int", minimum=1, immutable=True),
        Setting("hz", "10", "int", minimum=1),
        Setting("maxmemory", "0", "int", minimum=0),
        Setting("maxmemory-policy", "noeviction", "enum", ("noeviction", "allkeys-lru", "volatile-lru", "allkeys-random", "volatile-random", "volatile-ttl", "allkeys-lfu", "volatile-lfu")),
        Setting("hash-max-listpack-entries", "128", "int", minimum=0),
        Setting("hash-max-listpack-value", "64", "int", minimum=0),
        Setting("hash-max-ziplist-entries", "128", "int", minimum=0),
        Setting("hash-max-ziplist-value", "64", "int", minimum=0),
        Setting("set-max-intset-entries", "512", "int", minimum=0),
        Setting("zset-max-listpack-entries", "128", "int", minimum=0),
        Setting("zset-max-listpack-value", "64", "int", minimum=0),
        Setting("zset-max-ziplist-entries", "128", "int", minimum=0),
        Setting("zset-max-ziplist-value", "64", "int", minimum=0),
        Setting("list-max-listpack-size", "-2", "int"),
        Setting("list-max-ziplist-size", "-2", "int"),
        Setting("list-compress-depth", "0", "int", minimum=0),
        Setting("proto-max-bulk-len", "536870912", "int", minimum=1),
        Setting("lua-time-limit", "5000", "int", minimum=0),
        Setting("busy-reply-threshold", "5000", "int", minimum=0),
        Setting("notify-keyspace-events", "", "string"),
        Setting("appendonly", "no", "bool"),
        Setting("appendfsync", "everysec", "enum", ("always", "everysec", "no")),
        Setting("appendfilename", "appendonly.aof", "string", immutable=True),
        Setting("dir", ".", "string"),
        Setting("dbfilename", "dump.rdb", "string"),
        Setting("requirepass", "", "string"),
        Setting("maxclients", "10000", "int", minimum=1),
        Setting("timeout", "0", "int", minimum=0),
        Setting("port", "6379", "int", minimum=0, immutable=True),
        Setting("bind", "127.0.0.1", "string", immutable=True),
        Setting("protected-mode", "yes", "bool"),
        Setting("save", "", "string"),
        Setting("slowlog-log-slower-than", "10000", "int"),
        Setting("slowlog-max-len", "128", "int", minimum=0),
        Setting("auto-aof-rewrite-percentage", "100", "int", minimum=0),
        Setting("auto-aof-rewrite-min-size", "67108864", "int", minimum=0),
        Setting("loglevel", "notice", "enum", ("debug", "verbose", "notice", "warning")),
    )
}


class Config:
    """Current values of the settings; ``hz`` is cached as an attribute for the hot path."""

    def __init__(self, **overrides: Any) -> None:
        self.values: dict[str, str] = {name: s.default for name, s in SETTINGS.items()}
        for name, value in overrides.items():
            self.values[name.replace("_", "-")] = str(value)
        self.hz = int(self.values["hz"])

    def get(self, name: str) -> str:
        """Return the value of one setting."""
        return self.values[name]

    def match(self, pattern: str) -> dict[str, str]:
        """Return the settings whose names match a glob pattern (``CONFIG GET``)."""
        pattern = pattern.lower()
        return {n: v for n, v in self.values.items() if fnmatch.fnmatchcase(n, pattern)}

    def set(self, name: str, value: str) -> None:
        """Validate and change one setting, raising Redis's error when it cannot be set."""
        setting = SETTINGS.get(name.lower())
        if setting is None:
            raise ReplyError(f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
        if setting.immutable:
            raise ReplyError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config")
        bad = f"ERR CONFIG SET failed (possibly related to argument '{name}') - argument couldn't be parsed into an integer"
        if setting.kind == "int":
            try:
                number = int(value)
            except ValueError:
                raise ReplyError(bad) from None
            if setting.minimum is not None and number < setting.minimum:
                raise ReplyError(
                    f"ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be between {setting.minimum} and 2147483647 inclusive"
                )
            value = str(number)
        elif setting.kind == "bool":
            if value.lower() not in ("yes", "no"):
                raise ReplyError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be 'yes' or 'no'")
            value = value.lower()
        elif setting.kind == "enum" and value.lower() not in setting.choices:
            raise ReplyError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - argument(s) must be one of the following: {', '.join(setting.choices)}")
        elif setting.kind == "enum":
            value = value.lower()
        self.values[setting.name] = value
        if setting.name == "hz":
            self.hz = min(max(int(value), 1), 500)
