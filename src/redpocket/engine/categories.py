"""Command flags and ACL categories as Redis reports them, and Redis 7.0.15's command metadata.

Low-level data shared by COMMAND INFO (``commands/introspection.py``) and
the ACL rules (``acl.py``): neither needs the other to know a command's
categories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .registry import CommandSpec

# Redis's order of command flags in COMMAND INFO (addReplyFlagsForCommand).
FLAG_ORDER: Final = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking", "loading",
    "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth", "may_replicate",
    "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy",
)
_FLAG_RANK: Final = {name: rank for rank, name in enumerate(FLAG_ORDER)}

# Redis's ACL categories in bit order (acl.c ACLCommandCategories).
CATEGORY_ORDER: Final = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
    "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
    "transaction", "scripting",
)
_CATEGORY_RANK: Final = {"@" + name: rank for rank, name in enumerate(CATEGORY_ORDER)}

# The explicit category a command of each group carries, for commands Redis does not have.
GROUP_CATEGORY: Final = {
    "generic": "@keyspace", "keyspace": "@keyspace", "string": "@string", "list": "@list", "set": "@set",
    "sorted-set": "@sortedset", "sorted_set": "@sortedset", "sortedset": "@sortedset", "hash": "@hash",
    "pubsub": "@pubsub", "transactions": "@transaction", "transaction": "@transaction",
    "connection": "@connection", "scripting": "@scripting", "hyperloglog": "@hyperloglog",
    "geo": "@geo", "stream": "@stream", "bitmap": "@bitmap",
}

_reference: dict[str, Any] | None = None


def reference() -> dict[str, Any]:
    """Return Redis 7.0.15's command metadata, loading it on first use (it is large)."""
    global _reference
    if _reference is None:
        from .command_reference import REFERENCE

        _reference = REFERENCE
    return _reference


def reported_flags(spec: CommandSpec) -> list[str]:
    """Return the flags COMMAND INFO shows for ``spec``, spelled and ordered as Redis does."""
    names = {flag.replace("-", "_") for flag in spec.flags}
    if spec.key_finder is not None:
        names.add("movablekeys")
    return sorted((name for name in names if name in _FLAG_RANK), key=_FLAG_RANK.__getitem__)


def acl_categories(spec: CommandSpec) -> list[str]:
    """Return ``spec``'s ACL categories (``@read``, ``@string`` ...) in Redis's order."""
    flags = set(reported_flags(spec))
    entry = reference().get(spec.fullname)
    if entry is not None:
        categories = set(entry[0])
    else:
        group_category = GROUP_CATEGORY.get(spec.group)
        categories = {group_category} if group_category else set()
    if "write" in flags:
        categories.add("@write")
    if "readonly" in flags and "@scripting" not in categories:
        categories.add("@read")
    if "admin" in flags:
        categories.update(("@admin", "@dangerous"))
    if "pubsub" in flags:
        categories.add("@pubsub")
    if "fast" in flags:
        categories.add("@fast")
    if "blocking" in flags:
        categories.add("@blocking")
    if "@fast" not in categories:
        categories.add("@slow")
    return sorted(categories, key=lambda name: _CATEGORY_RANK.get(name, len(_CATEGORY_RANK)))
