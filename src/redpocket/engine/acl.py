"""ACL users, as Redis 7.0 has them: the users table, rule parsing and permission checks (the ACL command is in :mod:`.commands.acl`).

:class:`Users` (one per engine, from :func:`users`) maps names to :class:`User`;
a user holds its flags, password hashes and a root :class:`Selector` plus
optional ``(...)`` selectors, each with the commands, key patterns and
channel patterns it allows.  Commands are allowed by full name
(``get``, ``config|get``), as Redis's per-command bitmap does.

A session's ``user`` is ``None`` for the default user; ``restricted`` is
set only while its user may not run every command on every key and
channel, so the engine checks permissions (:meth:`Users.denied`) for those
sessions alone and everyone else pays nothing.  The default user's
password follows ``requirepass`` (``CONFIG SET requirepass`` replaces its
passwords, as Redis's ``ACLUpdateDefaultUserPassword`` does).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from typing import TYPE_CHECKING, Any, Final

from .categories import acl_categories, reference
from .clients import describe_client
from .registry import CommandSpec
from .replies import ReplyError
from .types.scan import glob_matcher

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

# Redis's ACLCommandCategories, in its order (ACL CAT and ACL LIST follow it).
CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo",
    "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting",
)
READ, WRITE = 1, 2
_PERMISSION_PREFIX = {READ | WRITE: "~", READ: "%R~", WRITE: "%W~"}
# Channel arguments that ACLs check (getChannelsFromCommand): command -> (first argument, all after it, patterns).
_CHANNEL_COMMANDS = {
    "publish": (1, False, False), "spublish": (1, False, False),
    "subscribe": (1, True, False), "ssubscribe": (1, True, False), "psubscribe": (1, True, True),
}
DENIED_COMMAND, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 1, 2, 3, 4
_REASONS = {DENIED_COMMAND: "command", DENIED_KEY: "key", DENIED_AUTH: "auth", DENIED_CHANNEL: "channel"}
_LOG_GROUPING_MS = 60000
NO_ACL_FILE = (
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the "
    "ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) "
    "in order to store users in the Redis configuration."
)
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
_ERRORS = {
    "ENOENT": "Unknown command or category name in ACL",
    "EINVAL": "Syntax error",
    "EEXIST": "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any "
              "effect. Try 'resetkeys' to start with an empty list of patterns",
    "EISDIR": "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have "
              "any effect. Try 'resetchannels' to start with an empty list of channels",
    "ENODEV": "The password you are trying to remove from the user does not exist",
    "EBADMSG": "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
    "ECHILD": "Allowing first-arg of a subcommand is not supported",
}
_HEX = frozenset(b"0123456789abcdef")


class RuleError(Exception):
    """A rule ACL SETUSER refuses; ``code`` names Redis's errno (``EINVAL`` ...)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def text(self) -> str:
        """Return Redis's description of the error (``ACLSetUserStringError``)."""
        return _ERRORS.get(self.code, "Wrong format")


def password_hash(password: bytes) -> str:
    """Return the SHA-256 hex digest Redis stores for a password."""
    return hashlib.sha256(password).hexdigest()


class CommandIndex:
    """The engine's commands as ACLs see them: every full name, and the commands in each category."""

    def __init__(self, commands: dict[bytes, CommandSpec]) -> None:
        self.size = len(commands)
        self.top: list[CommandSpec] = sorted(commands.values(), key=lambda spec: spec.name)
        self.names: set[str] = set()
        self.by_name: dict[str, CommandSpec] = {}
        self.members: dict[str, list[CommandSpec]] = {name: [] for name in CATEGORIES}
        for spec in self.top:
            for each in (spec, *spec.subcommands.values()):
                self.names.add(each.fullname)
                self.by_name[each.fullname] = each
                for category in acl_categories(each):
                    members = self.members.get(category[1:])
                    if members is not None:
                        members.append(each)

    def lookup(self, name: str) -> CommandSpec | None:
        """Find a command by its ACL name (``get``, ``config|get``), case-insensitively."""
        return self.by_name.get(name.lower())


class Selector:
    """One set of permissions: allowed commands, key patterns, channel patterns."""

    __slots__ = ("allchannels", "allcommands", "allkeys", "allowed", "channels", "firstargs", "future", "keys")

    def __init__(self, allchannels: bool = False) -> None:
        self.allowed: set[str] = set()
        self.firstargs: dict[str, list[str]] = {}
        self.future = False  # the bit only +@all sets: ACL LIST starts from +@all rather than -@all
        self.allcommands = False  # Redis's SELECTOR_FLAG_ALLCOMMANDS
        self.keys: list[list[Any]] = []  # [pattern, READ|WRITE bits]
        self.allkeys = False
        self.channels: list[bytes] = []
        self.allchannels = allchannels

    def copy(self) -> Selector:
        """Return an independent copy."""
        clone = Selector(self.allchannels)
        clone.allowed = set(self.allowed)
        clone.firstargs = {name: list(args) for name, args in self.firstargs.items()}
        clone.future, clone.allcommands, clone.allkeys = self.future, self.allcommands, self.allkeys
        clone.keys = [list(pattern) for pattern in self.keys]
        clone.channels = list(self.channels)
        return clone

    # -- rules ------------------------------------------------------------------------
    def change(self, spec: CommandSpec, allow: bool) -> None:
        """Allow or deny one command and its subcommands (``ACLChangeSelectorPerm``)."""
        names = [spec.fullname, *(sub.fullname for sub in spec.subcommands.values())]
        if allow:
            self.allowed.update(names)
        else:
            self.allowed.difference_update(names)
            self.allcommands = False
        self.firstargs.pop(spec.fullname, None)

    def apply(self, rule: bytes, index: CommandIndex) -> None:
        """Apply one selector rule (a command, category, key or channel rule), or raise :class:`RuleError`."""
        lowered = rule.lower()
        if lowered in (b"allkeys", b"~*"):
            self.allkeys = True
            self.keys = []
        elif lowered == b"resetkeys":
            self.allkeys = False
            self.keys = []
        elif lowered in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels = []
        elif lowered == b"resetchannels":
            self.allchannels = False
            self.channels = []
        elif lowered in (b"allcommands", b"+@all"):
            self.allcommands = self.future = True
            self.allowed = set(index.names)
            self.firstargs = {}
        elif lowered in (b"nocommands", b"-@all"):
            self.allcommands = self.future = False
            self.allowed = set()
            self.firstargs = {}
        elif rule[:1] in (b"~", b"%"):
            self._add_key_pattern(rule)
        elif rule[:1] == b"&":
            if self.allchannels:
                raise RuleError("EISDIR")
            if rule[1:] not in self.channels:
                self.channels.append(rule[1:])
        elif rule[:2] in (b"+@", b"-@"):
            members = index.members.get(rule[2:].decode("utf-8", "replace").lower())
            if members is None:
                raise RuleError("ENOENT")
            allow = rule[:1] == b"+"
            for spec in members:  # (a container in the category brings all its subcommands)
                self.change(spec, allow)
        elif rule[:1] == b"+":
            self._allow_command(rule[1:].decode("utf-8", "replace"), index)
        elif rule[:1] == b"-":
            denied = index.lookup(rule[1:].decode("utf-8", "replace"))
            if denied is None:
                raise RuleError("ENOENT")
            self.change(denied, False)
        else:
            raise RuleError("EINVAL")

    def _add_key_pattern(self, rule: bytes) -> None:
        if self.allkeys:
            raise RuleError("EEXIST")
        if rule[:1] == b"~":
            flags, offset = READ | WRITE, 1
        else:
            flags, offset = 0, 1
            while offset < len(rule):
                char = rule[offset:offset + 1].upper()
                offset += 1
                if char == b"R" and not flags & READ:
                    flags |= READ
                elif char == b"W" and not flags & WRITE:
                    flags |= WRITE
                elif char == b"~":
                    break
                else:
                    raise RuleError("EINVAL")
            if not flags:  # (Redis takes "%R~" and even "%R": an empty pattern)
                raise RuleError("EINVAL")
        pattern = rule[offset:]
        if pattern == b"*" and flags == READ | WRITE:
            self.allkeys = True
            self.keys = []
            return
        for existing in self.keys:
            if existing[0] == pattern:
                existing[1] |= flags
                return
        self.keys.append([pattern, flags])

    def _allow_command(self, name: str, index: CommandIndex) -> None:
        if "|" not in name:
            spec = index.lookup(name)
            if spec is None:
                raise RuleError("ENOENT")
            self.change(spec, True)
            return
        command_name, _, first_arg = name.rpartition("|")
        spec = index.lookup(command_name)
        if spec is None:
            raise RuleError("ENOENT")
        if spec.parent is not None:
            raise RuleError("ECHILD")
        if not first_arg:
            raise RuleError("EINVAL")
        if spec.subcommands:
            sub = index.lookup(name)
            if sub is None:
                raise RuleError("ENOENT")
            self.change(sub, True)
        else:  # (Redis's deprecated "first-arg" rule: +select|0)
            allowed = self.firstargs.setdefault(spec.fullname, [])
            if first_arg.lower() not in allowed:
                allowed.append(first_arg.lower())

    # -- checks -------------------------------------------------------------------------
    def unrestricted(self, index: CommandIndex) -> bool:
        """Tell whether this selector allows every command on every key and channel."""
        return self.allkeys and self.allchannels and (self.allcommands or self.allowed >= index.names)

    def check(self, spec: CommandSpec, argv: list[bytes]) -> tuple[int, bytes]:
        """Return ``(0, b"")`` when allowed, else (Redis's denial code, the denied object)."""
        if not self.allcommands and "no-auth" not in spec.flags and spec.fullname not in self.allowed:
            firstargs = self.firstargs.get(spec.fullname)
            position = 2 if spec.parent is not None else 1
            if not firstargs or len(argv) <= position or argv[position].lower().decode("utf-8", "replace") not in firstargs:
                return DENIED_COMMAND, spec.fullname.encode()
        if not self.allkeys:
            for key, needed in key_references(spec, argv):
                if not any(flags & needed == needed and glob_matcher(pattern)(key) for pattern, flags in self.keys):
                    return DENIED_KEY, key
        if not self.allchannels:
            channel_rule = _CHANNEL_COMMANDS.get(spec.fullname)
            if channel_rule is not None:
                first, rest, patterns = channel_rule
                for channel in argv[first:] if rest else argv[first:first + 1]:
                    if patterns:
                        allowed = channel in self.channels
                    else:
                        allowed = any(glob_matcher(pattern)(channel) for pattern in self.channels)
                    if not allowed:
                        return DENIED_CHANNEL, channel
        return 0, b""

    # -- description ----------------------------------------------------------------------
    def describe_keys(self) -> str:
        """Return the key patterns as rules (``~*``, ``%R~a*``)."""
        if self.allkeys:
            return "~*"
        return " ".join(_PERMISSION_PREFIX[flags] + _text(pattern) for pattern, flags in self.keys)

    def describe_channels(self) -> str:
        """Return the channel patterns as rules (``&*``, ``&news.*``)."""
        if self.allchannels:
            return "&*"
        return " ".join("&" + _text(channel) for channel in self.channels)

    def describe_commands(self, index: CommandIndex) -> str:
        """Return the command rules, worked out from the allowed set as Redis 7.0 does (best-fitting categories first)."""
        additive = not self.future
        rules = ["-@all" if additive else "+@all"]
        fake = set() if additive else set(index.names)
        temp = set(self.allowed)
        applied: set[str] = set()
        while True:
            best, least_diff, most_same = "", 1 << 30, 0
            for category in CATEGORIES:
                if category in applied:
                    continue
                on = sum(1 for spec in index.members[category] if spec.fullname in temp)
                off = len(index.members[category]) - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < least_diff or (diff == least_diff and same > most_same)):
                    best, least_diff, most_same = category, diff, same
            if not best:
                break
            applied.add(best)
            rules.append(("+@" if additive else "-@") + best)
            for spec in index.members[best]:
                _change_set(fake, spec, additive)
                _change_set(temp, spec, not additive)

        def single(spec: CommandSpec) -> None:
            user_bit = spec.fullname in self.allowed
            if user_bit != (spec.fullname in fake):
                rules.append(("+" if user_bit else "-") + spec.fullname)
                _change_set(fake, spec, user_bit)
            for sub in sorted(spec.subcommands.values(), key=lambda s: s.name):
                single(sub)
            if not user_bit:
                rules.extend("+" + spec.fullname + "|" + arg for arg in self.firstargs.get(spec.fullname, ()))

        for spec in index.top:
            single(spec)
        return " ".join(rules)

    def describe(self, index: CommandIndex) -> str:
        """Return the whole selector as rules, as ACL LIST shows it."""
        parts = []
        keys = self.describe_keys()
        if keys:
            parts.append(keys)
        if self.allchannels:
            parts.append("&*")
        else:
            parts.append("resetchannels")
            if self.channels:
                parts.append(self.describe_channels())
        parts.append(self.describe_commands(index))
        return " ".join(parts)


def _change_set(allowed: set[str], spec: CommandSpec, allow: bool) -> None:
    names = [spec.fullname, *(sub.fullname for sub in spec.subcommands.values())]
    if allow:
        allowed.update(names)
    else:
        allowed.difference_update(names)


def _text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


class User:
    """One ACL user: flags, password hashes, the root selector and any other selectors."""

    __slots__ = ("enabled", "name", "nopass", "passwords", "root", "sanitize", "selectors")

    def __init__(self, name: bytes, allchannels: bool = False) -> None:
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize = ""  # "", "sanitize-payload" or "skip-sanitize-payload"
        self.passwords: list[str] = []
        self.root = Selector(allchannels)
        self.selectors: list[Selector] = []

    def copy(self) -> User:
        """Return an independent copy (ACL SETUSER applies its rules to one, all or nothing)."""
        clone = User(self.name)
        clone.enabled, clone.nopass, clone.sanitize = self.enabled, self.nopass, self.sanitize
        clone.passwords = list(self.passwords)
        clone.root = self.root.copy()
        clone.selectors = [selector.copy() for selector in self.selectors]
        return clone

    def apply(self, rule: bytes, index: CommandIndex, pubsub_default_all: bool) -> None:
        """Apply one ACL SETUSER rule, or raise :class:`RuleError`."""
        lowered = rule.lower()
        if lowered == b"on":
            self.enabled = True
        elif lowered == b"off":
            self.enabled = False
        elif lowered in (b"skip-sanitize-payload", b"sanitize-payload"):
            self.sanitize = lowered.decode()
        elif lowered == b"nopass":
            self.nopass = True
            self.passwords = []
        elif lowered == b"resetpass":
            self.nopass = False
            self.passwords = []
        elif rule[:1] in (b">", b"<"):
            digest = password_hash(rule[1:])
            self._change_password(digest, rule[:1] == b">")
        elif rule[:1] in (b"#", b"!"):
            digest_bytes = rule[1:]
            if len(digest_bytes) != 64 or not set(digest_bytes) <= _HEX:
                raise RuleError("EBADMSG")
            self._change_password(digest_bytes.decode(), rule[:1] == b"#")
        elif lowered == b"clearselectors":
            self.selectors = []
        elif lowered == b"reset":
            for each in (b"resetpass", b"resetkeys", b"resetchannels", b"off", b"clearselectors", b"-@all"):
                self.apply(each, index, pubsub_default_all)
            if pubsub_default_all:
                self.root.allchannels = True
            self.sanitize = "sanitize-payload"
        elif rule[:1] == b"(" and rule[-1:] == b")":
            selector = Selector(pubsub_default_all)
            for part in rule[1:-1].split():
                selector.apply(part, index)
            self.selectors.append(selector)
        else:
            self.root.apply(rule, index)

    def _change_password(self, digest: str, add: bool) -> None:
        if add:
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif digest in self.passwords:
            self.passwords.remove(digest)
        else:
            raise RuleError("ENODEV")

    def all_selectors(self) -> list[Selector]:
        """Return the root selector, then the others."""
        return [self.root, *self.selectors]

    def unrestricted(self, index: CommandIndex) -> bool:
        """Tell whether one of the selectors allows everything."""
        return any(selector.unrestricted(index) for selector in self.all_selectors())

    def check(self, spec: CommandSpec, argv: list[bytes]) -> tuple[int, bytes]:
        """Check a command against every selector: ``(0, b"")`` if one allows it, else the most relevant denial."""
        worst = (0, b"")
        for selector in self.all_selectors():
            found = selector.check(spec, argv)
            if not found[0]:
                return found
            if found[0] > worst[0]:
                worst = found
        return worst

    def accepts(self, password: bytes) -> bool:
        """Tell whether ``password`` logs in as this user (Redis's ``ACLCheckUserCredentials``)."""
        if not self.enabled:
            return False
        if self.nopass:
            return True
        digest = password_hash(password)
        return any(hmac.compare_digest(digest, known) for known in self.passwords)

    def flag_names(self) -> list[str]:
        """Return the user's flags in Redis's order."""
        flags = ["on" if self.enabled else "off"]
        if self.nopass:
            flags.append("nopass")
        if self.sanitize:
            flags.append(self.sanitize)
        return flags

    def describe(self, index: CommandIndex) -> str:
        """Return the ACL LIST line of this user."""
        parts = ["user", _text(self.name), *self.flag_names(), *("#" + digest for digest in self.passwords)]
        parts.append(self.root.describe(index))
        parts.extend("(" + selector.describe(index) + ")" for selector in self.selectors)
        return " ".join(parts)


def key_references(spec: CommandSpec, argv: list[bytes]) -> list[tuple[bytes, int]]:
    """Return each key argument of a command with the permission it needs (``READ``, ``WRITE`` or both)."""
    name = spec.fullname
    if name == "set" and len(argv) > 1:  # (its key's flags vary: Redis's setGetKeys)
        return [(argv[1], READ | WRITE if any(arg.lower() == b"get" for arg in argv[3:]) else WRITE)]
    if name == "bitfield" and len(argv) > 1:  # (bitfieldGetKeys)
        writes = any(arg.lower() in (b"set", b"incrby") for arg in argv[2:])
        return [(argv[1], READ | WRITE if writes else READ)]
    entry = reference().get(name)
    key_specs = entry[2] if entry is not None else []
    if key_specs and not any("incomplete" in ks["flags"] or "variable_flags" in ks["flags"] for ks in key_specs):
        found = _keys_from_specs(key_specs, argv)
        if found is not None:
            return [(key, _permission(flags)) for key, flags in found]
    needed = 0
    for key_spec in key_specs:
        needed |= _permission(key_spec["flags"])
    if not key_specs:
        needed = READ | WRITE if spec.write else READ
    return [(key, needed) for key in spec.keys(argv)]


_WRITE_ONLY: Final = ["OW", "update"]
_READ_WRITE: Final = ["RW", "access", "update"]
_READ_ONLY: Final = ["RO", "access"]


def key_flags(spec: CommandSpec, argv: list[bytes]) -> list[tuple[bytes, list[str]]]:
    """Return each key argument with its key-spec flags, as COMMAND GETKEYSANDFLAGS reports them.

    The flags of the key specification that found the key (LMOVE's source
    ``RW access delete``, its destination ``RW insert``); SET and BITFIELD
    resolve their ``variable_flags`` from the arguments as Redis's
    ``setGetKeys`` / ``bitfieldGetKeys`` do.
    """
    name = spec.fullname
    if name == "set" and len(argv) > 1:
        return [(argv[1], _READ_WRITE if any(arg.lower() == b"get" for arg in argv[3:]) else _WRITE_ONLY)]
    if name == "bitfield" and len(argv) > 1:
        writes = any(arg.lower() in (b"set", b"incrby") for arg in argv[2:])
        return [(argv[1], _READ_WRITE if writes else _READ_ONLY)]
    entry = reference().get(name)
    key_specs = [ks for ks in (entry[2] if entry is not None else []) if "not_key" not in ks["flags"]]
    if key_specs and not any("incomplete" in ks["flags"] or ks["begin_search"]["type"] == "unknown"
                             for ks in key_specs):
        found = _keys_from_specs(key_specs, argv)
        if found is not None:
            return found
    keys = spec.keys(argv)
    if not key_specs:
        return [(key, _READ_WRITE if spec.write else _READ_ONLY) for key in keys]
    # Keys a getkeys procedure finds (SORT k ... STORE d, MIGRATE ... KEYS a b): the first key has the first
    # spec's flags, the others the last spec's.
    first, rest = ([flag for flag in ks["flags"] if flag != "incomplete"] for ks in (key_specs[0], key_specs[-1]))
    return [(key, first if index == 0 else rest) for index, key in enumerate(keys)]


def _permission(flags: list[str]) -> int:
    needed = READ if "access" in flags else 0
    if "insert" in flags or "delete" in flags or "update" in flags:
        needed |= WRITE
    return needed


def _keys_from_specs(key_specs: list[dict[str, Any]], argv: list[bytes]) -> list[tuple[bytes, list[str]]] | None:
    """Walk Redis's key specifications over ``argv`` (``getKeysUsingKeySpecs``): each key with its spec's flags.

    ``None`` when one does not fit.
    """
    argc = len(argv)
    found: list[tuple[bytes, list[str]]] = []
    for key_spec in key_specs:
        if "not_key" in key_spec["flags"]:
            continue
        begin, find = key_spec["begin_search"], key_spec["find_keys"]
        if begin["type"] == "index":
            first = begin["spec"]["index"]
        elif begin["type"] == "keyword":
            keyword = begin["spec"]["keyword"].encode().lower()
            start_from = begin["spec"]["startfrom"]
            positions = range(start_from, argc) if start_from > 0 else range(argc + start_from, 0, -1)
            first = next((i + 1 for i in positions if 1 <= i < argc and argv[i].lower() == keyword), 0)
            if not first:
                continue
        else:
            continue
        if find["type"] == "range":
            last_key, limit = find["spec"]["lastkey"], find["spec"]["limit"]
            if last_key >= 0:
                last = first + last_key
            elif not limit:
                last = argc + last_key
            else:
                last = first + ((argc - first) // limit + last_key)
            step = find["spec"]["keystep"]
        elif find["type"] == "keynum":
            index = first + find["spec"]["keynumidx"]
            if index >= argc:
                return None
            try:
                count = int(argv[index])
            except ValueError:
                return None
            if count < 0:
                return None
            first += find["spec"]["firstkey"]
            last = first + count - 1
            step = find["spec"]["keystep"]
        else:
            continue
        if last >= argc or last < first or first >= argc:
            if last < first and find["type"] == "keynum":
                continue  # (no keys: numkeys 0)
            return None
        flags = key_spec["flags"]
        found.extend((argv[i], flags) for i in range(first, last + 1, max(step, 1)))
    return found


class LogEntry:
    """One ACL LOG entry (entries alike within a minute are grouped, as in Redis)."""

    __slots__ = ("client_info", "context", "count", "created", "object", "reason", "username")

    def __init__(self, reason: str, context: str, obj: bytes, username: bytes, client_info: bytes) -> None:
        self.count = 1
        self.reason, self.context, self.object, self.username = reason, context, obj, username
        self.client_info = client_info
        self.created = time.time()


class Users:
    """The users table of one engine, its ACL log, and the bookkeeping of sessions' users."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._index: CommandIndex | None = None
        self.table: dict[bytes, User] = {}
        self.default = self.table[b"default"] = self.new_default()
        self.log: list[LogEntry] = []
        config = engine.config
        self.set_default_password(config.values["requirepass"])
        config.requirepass_listener = self.set_default_password
        aclfile = config.values["aclfile"]
        if aclfile:
            try:
                self.load_file(aclfile)
            except (OSError, ReplyError) as error:
                import logging

                logging.getLogger("redpocket.engine").warning("Could not load the ACL file %s: %s", aclfile, error)

    @property
    def index(self) -> CommandIndex:
        """Return the command index, rebuilt when the command table has grown or shrunk."""
        if self._index is None or self._index.size != len(self.engine.commands):
            self._index = CommandIndex(self.engine.commands)
            for user in self.table.values():  # (+@all covers commands added since: the server's, structures')
                for selector in user.all_selectors():
                    if selector.allcommands:
                        selector.allowed |= self._index.names
        return self._index

    def new_default(self) -> User:
        """Return a fresh default user: ``on nopass ~* &* +@all``."""
        user = User(b"default")
        for rule in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            user.apply(rule, self.index, False)
        return user

    def set_default_password(self, password: str) -> None:
        """Make ``password`` the default user's only password, or make it ``nopass`` when empty (requirepass)."""
        default = self.default
        default.apply(b"resetpass", self.index, False)
        default.apply(b">" + password.encode() if password else b"nopass", self.index, False)

    @property
    def pubsub_default_all(self) -> bool:
        """Tell whether new users start with ``allchannels`` (acl-pubsub-default)."""
        return self.engine.config.values["acl-pubsub-default"] == "allchannels"

    # -- sessions -------------------------------------------------------------------------
    def user_of(self, session: Session) -> User:
        """Return the user a session is authenticated as."""
        return session.user if session.user is not None else self.default

    def attach(self, session: Session) -> None:
        """Set a new session's ``restricted`` flag from the default user."""
        session.restricted = not self.default.unrestricted(self.index)

    def refresh(self, user: User) -> None:
        """Recompute ``restricted`` for every session of ``user`` after its rules changed."""
        restricted = not user.unrestricted(self.index)
        for session in list(self.engine.sessions.values()):
            if self.user_of(session) is user:
                session.restricted = restricted

    def authenticate(self, session: Session, username: bytes, password: bytes, argv: list[bytes]) -> bool:
        """Log ``session`` in as ``username``; on failure log it (reason ``auth``) and return False."""
        user = self.table.get(username)
        if user is None or not user.accepts(password):
            self.add_log(session, DENIED_AUTH, argv[0], username, command=_text(argv[0]).lower())
            return False
        session.user = None if user is self.default else user
        session.restricted = not user.unrestricted(self.index)
        return True

    def requires_auth(self) -> bool:
        """Tell whether a new connection must authenticate (the default user has a password or is off)."""
        return not self.default.nopass or not self.default.enabled

    # -- checks ---------------------------------------------------------------------------
    def denied(self, session: Session, spec: CommandSpec, argv: list[bytes], context: str = "") -> ReplyError | None:
        """Check a restricted session's command; log and return the NOPERM error, or None when allowed."""
        code, obj = self.user_of(session).check(spec, argv)
        if not code:
            return None
        self.add_log(session, code, obj, context=context, command=spec.fullname)
        if code == DENIED_COMMAND:
            return ReplyError(f"NOPERM this user has no permissions to run the '{spec.fullname}' command")
        if code == DENIED_KEY:
            return ReplyError("NOPERM this user has no permissions to access one of the keys used as arguments")
        return ReplyError("NOPERM this user has no permissions to access one of the channels used as arguments")

    def denied_in_exec(self, session: Session, spec: CommandSpec, argv: list[bytes]) -> ReplyError | None:
        """Check a queued command again as EXEC runs it (the rules may have changed meanwhile)."""
        code, obj = self.user_of(session).check(spec, argv)
        if not code:
            return None
        self.add_log(session, code, obj, context="multi", command=spec.fullname)
        reason = {
            DENIED_COMMAND: "no permission to execute the command or subcommand",
            DENIED_KEY: "no permission to touch the specified keys",
            DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
        }[code]
        return ReplyError("NOPERM ACLs rules changed between the moment the transaction was accumulated and the "
                          "EXEC call. This command is no longer allowed for the following reason: " + reason)

    def denied_in_script(self, session: Session, spec: CommandSpec, argv: list[bytes]) -> str | None:
        """Check a command a script calls for its caller; return the script's error text, or None when allowed."""
        code, obj = self.user_of(session).check(spec, argv)
        if not code:
            return None
        self.add_log(session, code, obj, context="lua", command=spec.fullname)
        if code == DENIED_COMMAND:
            return "ERR The user executing the script can't run this command or subcommand"
        if code == DENIED_KEY:
            return ("ERR The user executing the script can't access at least one of the keys mentioned in the "
                    "command arguments")
        return "ERR The user executing the script can't publish to the channel mentioned in the command"

    def add_log(self, session: Session, code: int, obj: bytes, username: bytes | None = None,
                context: str = "", command: str = "") -> None:
        """Record a denial of ``command`` in the ACL log, grouping it with a like entry from the last minute."""
        if not context:
            context = "multi" if session.multi is not None else "toplevel"
        reason = _REASONS[code]
        name = username if username is not None else self.user_of(session).name
        info = describe_client(session, None, command)
        now = time.time()
        for position, entry in enumerate(self.log):
            if (entry.reason == reason and entry.context == context and entry.object == obj
                    and entry.username == name and (now - entry.created) * 1000 <= _LOG_GROUPING_MS):
                entry.count += 1
                entry.created = now
                entry.client_info = info
                self.log.insert(0, self.log.pop(position))
                return
        self.log.insert(0, LogEntry(reason, context, obj, name, info))
        del self.log[max(self.engine.config.get_int("acllog-max-len"), 0):]

    # -- users ----------------------------------------------------------------------------
    def set_user(self, name: bytes, rules: list[bytes]) -> None:
        """Create or change a user with ACL SETUSER's rules: all applied, or none (raise ReplyError)."""
        existing = self.table.get(name)
        user = existing.copy() if existing is not None else User(name, self.pubsub_default_all)
        index = self.index
        for rule in merge_selectors(rules):
            try:
                user.apply(rule, index, self.pubsub_default_all)
            except RuleError as error:
                raise ReplyError(f"ERR Error in ACL SETUSER modifier '{_text(rule)}': {error.text}") from None
        if existing is None:
            self.table[name] = user
            return
        # Change the user in place: sessions hold the object.
        for slot in User.__slots__:
            setattr(existing, slot, getattr(user, slot))
        self.refresh(existing)

    def delete_users(self, names: list[bytes]) -> int:
        """Delete users (ACL DELUSER), closing the sessions authenticated as them; return how many existed."""
        if b"default" in names:
            raise ReplyError("ERR The 'default' user cannot be removed")
        deleted = 0
        for name in names:
            user = self.table.pop(name, None)
            if user is None:
                continue
            deleted += 1
            self._drop_sessions(user)
        return deleted

    def _drop_sessions(self, user: User) -> None:
        nobody = User(user.name)
        for session in list(self.engine.sessions.values()):
            if session.user is user:
                session.user = nobody  # (it may run nothing while its connection closes)
                session.restricted = True
                session.close()

    # -- the ACL file ------------------------------------------------------------------------
    def save_file(self, path: str) -> None:
        """Write every user's ACL LIST line to ``path`` (ACL SAVE), through a temporary file."""
        temporary = f"{path}.tmp-{os.getpid()}"
        with open(temporary, "w", encoding="utf-8", errors="surrogateescape") as file:
            for name in sorted(self.table):
                file.write(self.table[name].describe(self.index) + "\n")
        os.replace(temporary, path)

    def load_file(self, path: str) -> None:
        """Replace the users with those of an ACL file (ACL LOAD): all of them, or none if a line is wrong."""
        with open(path, "rb") as file:
            lines = file.read().split(b"\n")
        name_of_file = path
        loaded: dict[bytes, User] = {}
        errors = ""
        index = self.index
        for number, raw in enumerate(lines, 1):
            line = raw.strip(b" \t\r\n")
            if not line or line.startswith(b"#"):
                continue
            words = line.split(b" ")
            if words[0] != b"user" or len(words) < 2:
                errors += f"{name_of_file}:{number} should start with user keyword followed by the username. "
                continue
            name = words[1]
            if name in loaded:
                errors += f"WARNING: Duplicate user '{_text(name)}' found on line {number}. "
                continue
            user = User(name, self.pubsub_default_all)
            loaded[name] = user
            try:
                rules = merge_selectors(words[2:])
            except ReplyError:
                errors += f"{name_of_file}:{number}: Unmatched parenthesis in selector definition."
                continue
            for rule in rules:
                rule = rule.strip(b"\t\r\n")
                try:
                    user.apply(rule, index, self.pubsub_default_all)
                except RuleError as error:
                    if error.code == "ENOENT":
                        errors += (f"{name_of_file}:{number}: Error in applying operation '{_text(rule)}': "
                                   f"{error.text}. ")
                    else:
                        errors += f"{name_of_file}:{number}: {error.text}. "
                        break
        if errors:
            raise ReplyError("ERR " + errors + "WARNING: ACL errors detected, no change to the previously "
                             "active ACL rules was performed")
        default = loaded.pop(b"default", None) or self.new_default()
        for slot in User.__slots__:  # (sessions of the default user keep it)
            setattr(self.default, slot, getattr(default, slot))
        for user in list(self.table.values()):
            if user is not self.default:
                self._drop_sessions(user)
        self.table = {b"default": self.default, **loaded}
        self.refresh(self.default)


def merge_selectors(rules: list[bytes]) -> list[bytes]:
    """Join the words of each ``(...)`` selector into one rule (``ACLMergeSelectorArguments``)."""
    merged: list[bytes] = []
    selector: bytes | None = None
    start = b""
    for rule in rules:
        if selector is None and rule[:1] == b"(" and rule[-1:] != b")":
            selector, start = rule, rule
            continue
        if selector is not None:
            selector += b" " + rule
            if rule[-1:] == b")":
                merged.append(selector)
                selector = None
            continue
        merged.append(rule)
    if selector is not None:
        raise ReplyError(f"ERR Unmatched parenthesis in acl selector starting at '{_text(start)}'.")
    return merged


def users(engine: Engine) -> Users:
    """Return the users table of ``engine``, creating it on first use."""
    found = engine.extensions.get("acl")
    if found is None:
        found = engine.extensions["acl"] = Users(engine)
    return found  # type: ignore[no-any-return]


def authenticate(session: Session, username: bytes, password: bytes, argv: list[bytes]) -> None:
    """Log a session in (AUTH, HELLO AUTH), or raise Redis's WRONGPASS error."""
    if not users(session.engine).authenticate(session, username, password, argv):
        raise ReplyError(WRONGPASS)


def username(session: Session) -> bytes:
    """Return the name of the user ``session`` is authenticated as."""
    return session.user.name if session.user is not None else b"default"
