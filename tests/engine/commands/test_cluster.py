"""The cluster commands of a server with cluster support disabled, and ACL rules naming them, on both backends."""

from __future__ import annotations

import redis
from tests.helpers import run

DISABLED = ("error", "This instance has cluster support disabled")


def test_cluster_commands_answer_cluster_support_disabled(r: redis.Redis) -> None:
    for command in [("CLUSTER", "INFO"), ("CLUSTER", "HELP"), ("CLUSTER", "KEYSLOT", "x"), ("CLUSTER", "SLOTS"),
                    ("CLUSTER", "SHARDS"), ("READONLY",), ("READWRITE",), ("ASKING",)]:
        assert run(r, *command) == DISABLED, command
    assert run(r, "CLUSTER", "FOO") == ("error", "unknown subcommand 'FOO'. Try CLUSTER HELP.")
    assert run(r, "CLUSTER", "INFO", "x") == ("error", "wrong number of arguments for 'cluster|info' command")


def test_acl_rules_may_name_cluster_commands(r: redis.Redis) -> None:
    assert r.execute_command("ACL", "SETUSER", "u", "+cluster") == b"OK"
    assert r.execute_command("ACL", "SETUSER", "u2", "+cluster|info", "+readonly", "+asking") == b"OK"
    listed = [line.decode() if isinstance(line, bytes) else line for line in r.execute_command("ACL", "LIST")]
    assert "user u off resetchannels -@all +cluster" in listed
    rules = next(line for line in listed if line.startswith("user u2 ")).split()
    assert rules[:5] == ["user", "u2", "off", "resetchannels", "-@all"]  # (Redis orders the rest by command id)
    assert sorted(rules[5:]) == ["+asking", "+cluster|info", "+readonly"]
    r.execute_command("ACL", "DELUSER", "u", "u2")
