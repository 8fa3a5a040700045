"""ACL users on both backends: rules, ACL LIST / GETUSER / LOG / DRYRUN ..., NOPERM, AUTH (texts from Redis 7.0)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from tests.helpers import run

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine

P_HASH = "148de9c5a7a44d19e56cd9ae1a554bf67847afb0c58f6e12fa29ac7ddfca9940"  # sha256("p")
NOPERM_KEY = "this user has no permissions to access one of the keys used as arguments"
NOPERM_CHANNEL = "this user has no permissions to access one of the channels used as arguments"


@pytest.fixture
def admin(make_client: Callable[..., redis.Redis]) -> Iterator[redis.Redis]:
    """A default-user client; the users, the ACL log and requirepass are put back afterwards (the server is shared)."""
    client = make_client(protocol=2)
    client.execute_command("ACL", "LOG", "RESET")
    yield client
    client.execute_command("CONFIG", "SET", "requirepass", "")
    client.execute_command("ACL", "SETUSER", "default", "on", "nopass", "resetkeys", "~*", "resetchannels", "&*",
                           "+@all", "clearselectors")
    for name in client.execute_command("ACL", "USERS"):
        if name != b"default":
            client.execute_command("ACL", "DELUSER", name)
    client.execute_command("ACL", "LOG", "RESET")


def failure(client: redis.Redis, *args: object) -> str:
    """Return the text of the error a command raises (AUTH's raise AuthenticationError, not ResponseError)."""
    with pytest.raises(redis.RedisError) as info:
        client.execute_command(*args)
    return str(info.value)


def log_fields(entry: list[bytes]) -> dict[bytes, object]:
    """Return an ACL LOG entry (RESP2) as a dict, without the fields that vary (age, client-info)."""
    fields = dict(zip(entry[::2], entry[1::2], strict=True))
    assert float(fields.pop(b"age-seconds")) >= 0
    assert b"cmd=" in fields.pop(b"client-info")
    return fields


def test_default_user(admin: redis.Redis) -> None:
    assert admin.execute_command("ACL", "LIST") == [b"user default on nopass ~* &* +@all"]
    assert admin.execute_command("ACL", "USERS") == [b"default"]
    assert admin.execute_command("ACL", "WHOAMI") == b"default"
    assert admin.execute_command("ACL", "GETUSER", "default") == [
        b"flags", [b"on", b"nopass"], b"passwords", [], b"commands", b"+@all", b"keys", b"~*",
        b"channels", b"&*", b"selectors", []]
    assert admin.execute_command("ACL", "GETUSER", "nobody") is None
    assert b"user=default" in admin.execute_command("CLIENT", "INFO")


def test_setuser_list_and_getuser(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    assert admin.execute_command("ACL", "SETUSER", "u", "on", ">p", "+get", "~k*", "&ch*") == b"OK"
    assert admin.execute_command("ACL", "SETUSER", "w", "on", "nopass", "~*", "+@all", "-@write") == b"OK"
    assert admin.execute_command("ACL", "SETUSER", "r", "reset") == b"OK"
    assert admin.execute_command("ACL", "SETUSER", "s", "%R~r*", "%W~w*", "+@read", "-@dangerous",
                                 "allcommands", "-config") == b"OK"
    assert admin.execute_command("ACL", "USERS") == [b"default", b"r", b"s", b"u", b"w"]
    assert admin.execute_command("ACL", "LIST") == [
        b"user default on nopass ~* &* +@all",
        b"user r off sanitize-payload resetchannels -@all",
        b"user s off %R~r* %W~w* resetchannels +@all -config",
        b"user u on #" + P_HASH.encode() + b" ~k* resetchannels &ch* -@all +get",
        b"user w on nopass ~* resetchannels +@all -@write",
    ]
    assert admin.execute_command("ACL", "GETUSER", "u") == [
        b"flags", [b"on"], b"passwords", [P_HASH.encode()], b"commands", b"-@all +get", b"keys", b"~k*",
        b"channels", b"&ch*", b"selectors", []]
    assert admin.execute_command("ACL", "GETUSER", "r") == [
        b"flags", [b"off", b"sanitize-payload"], b"passwords", [], b"commands", b"-@all", b"keys", b"",
        b"channels", b"", b"selectors", []]
    resp3 = make_client(protocol=3)
    assert resp3.execute_command("ACL", "GETUSER", "u") == {
        b"flags": [b"on"], b"passwords": [P_HASH.encode()], b"commands": b"-@all +get", b"keys": b"~k*",
        b"channels": b"&ch*", b"selectors": []}


def test_categories_fit_best_first(admin: redis.Redis) -> None:
    admin.execute_command("ACL", "SETUSER", "w", "+@hash", "+@set", "-hset", "+config|get", "+@admin")
    assert admin.execute_command("ACL", "LIST")[1] == b"user w off resetchannels -@all +@admin +@set +@hash -hset"
    admin.execute_command("ACL", "SETUSER", "v", "+@all", "-config|set", "+get|x")
    assert admin.execute_command("ACL", "GETUSER", "v")[5] == b"+@all -config|set"
    admin.execute_command("ACL", "SETUSER", "f", "-@all", "+select|0")
    assert admin.execute_command("ACL", "GETUSER", "f")[5] == b"-@all +select|0"


def test_passwords(admin: redis.Redis) -> None:
    admin.execute_command("ACL", "SETUSER", "u", ">p", ">q", "<q", "#" + "a" * 64)
    assert admin.execute_command("ACL", "GETUSER", "u")[3] == [P_HASH.encode(), b"a" * 64]
    admin.execute_command("ACL", "SETUSER", "u", "!" + "a" * 64, "nopass")
    assert admin.execute_command("ACL", "GETUSER", "u")[1] == [b"off", b"nopass"]
    admin.execute_command("ACL", "SETUSER", "u", "resetpass", "on")
    assert admin.execute_command("ACL", "GETUSER", "u")[1:4] == [[b"on"], b"passwords", []]


@pytest.mark.parametrize(("rule", "error"), [
    ("foo", "Syntax error"),
    ("+nocmd", "Unknown command or category name in ACL"),
    ("+@nocat", "Unknown command or category name in ACL"),
    ("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
    ("<nope", "The password you are trying to remove from the user does not exist"),
    ("+config|get|x", "Allowing first-arg of a subcommand is not supported"),
    ("%X~a", "Syntax error"),
    ("%~a", "Syntax error"),
    ("%Rx~a", "Syntax error"),
])
def test_setuser_errors(admin: redis.Redis, rule: str, error: str) -> None:
    assert run(admin, "ACL", "SETUSER", "u", "on", rule) == (
        "error", f"Error in ACL SETUSER modifier '{rule}': {error}")
    assert admin.execute_command("ACL", "USERS") == [b"default"]  # (all or nothing: not even created)


def test_setuser_pattern_and_name_errors(admin: redis.Redis) -> None:
    assert run(admin, "ACL", "SETUSER", "u", "allkeys", "~x") == ("error", (
        "Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) is not "
        "valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"))
    assert run(admin, "ACL", "SETUSER", "u", "allchannels", "&x") == ("error", (
        "Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern (or the 'allchannels' flag) is "
        "not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"))
    assert run(admin, "ACL", "SETUSER", "u", "(~x", "+get") == (
        "error", "Unmatched parenthesis in acl selector starting at '(~x'.")
    assert run(admin, "ACL", "SETUSER", "u", "(~x +get") == (
        "error", "Unmatched parenthesis in acl selector starting at '(~x +get'.")
    admin.execute_command("ACL", "SETUSER", "u", "%R~", "%W~x", "%RW~y", "%wr~z")  # (an empty pattern is taken)
    assert admin.execute_command("ACL", "LIST")[1] == b"user u off %R~ %W~x ~y ~z resetchannels -@all"
    assert run(admin, "ACL", "SETUSER", "a b") == ("error", "Usernames can't contain spaces or null characters")


def test_command_key_and_channel_denials(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    admin.execute_command("ACL", "SETUSER", "u", "on", ">p", "+get", "+publish", "~k*", "&ch*")
    user = make_client(username="u", password="p", protocol=2)
    assert run(user, "SET", "k1", "v") == ("error", "this user has no permissions to run the 'set' command")
    assert run(user, "GET", "x") == ("error", NOPERM_KEY)
    assert user.get("k1") is None
    assert run(user, "PUBLISH", "zz", "m") == ("error", NOPERM_CHANNEL)
    assert user.publish("ch1", "m") == 0
    assert run(user, "CONFIG", "GET", "x") == ("error", "this user has no permissions to run the 'config|get' command")
    entries = admin.execute_command("ACL", "LOG")
    assert [log_fields(e) for e in entries] == [
        {b"count": 1, b"reason": b"command", b"context": b"toplevel", b"object": b"config|get", b"username": b"u"},
        {b"count": 1, b"reason": b"channel", b"context": b"toplevel", b"object": b"zz", b"username": b"u"},
        {b"count": 1, b"reason": b"key", b"context": b"toplevel", b"object": b"x", b"username": b"u"},
        {b"count": 1, b"reason": b"command", b"context": b"toplevel", b"object": b"set", b"username": b"u"},
    ]
    assert b"user=u" in entries[0][-1]
    run(user, "GET", "x")
    assert log_fields(admin.execute_command("ACL", "LOG", 1)[0])[b"count"] == 2  # (grouped with the like entry)
    assert admin.execute_command("ACL", "LOG", "RESET") == b"OK"
    assert admin.execute_command("ACL", "LOG") == []


def test_read_and_write_key_patterns(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    admin.execute_command("ACL", "SETUSER", "u", "on", "nopass", "+@all", "%R~r*", "%W~w*")
    user = make_client(username="u", password="x", protocol=2)
    assert user.get("r1") is None
    assert run(user, "SET", "r1", "v") == ("error", NOPERM_KEY)
    assert user.set("w1", "v") is True
    assert run(user, "GET", "w1") == ("error", NOPERM_KEY)
    assert run(user, "COPY", "w1", "r2") == ("error", NOPERM_KEY)
    assert run(user, "LMOVE", "r1", "w2", "LEFT", "LEFT") == ("error", NOPERM_KEY)  # (LMOVE's source: RW)
    assert user.execute_command("ACL", "DRYRUN", "u", "GET", "r9") == b"OK"
    assert user.execute_command("ACL", "DRYRUN", "u", "GET", "w9") == b"This user has no permissions to access the 'w9' key"


def test_dryrun(admin: redis.Redis) -> None:
    admin.execute_command("ACL", "SETUSER", "u", "on", "+get", "~k*", "&c*")
    assert admin.execute_command("ACL", "DRYRUN", "u", "get", "k1") == b"OK"
    assert admin.execute_command("ACL", "DRYRUN", "u", "get", "x") == b"This user has no permissions to access the 'x' key"
    assert admin.execute_command("ACL", "DRYRUN", "u", "set", "k1", "v") == (
        b"This user has no permissions to run the 'set' command")
    assert run(admin, "ACL", "DRYRUN", "nobody", "get", "x") == ("error", "User 'nobody' not found")
    assert run(admin, "ACL", "DRYRUN", "u", "nocmd") == ("error", "Command 'nocmd' not found")
    assert run(admin, "ACL", "DRYRUN", "u", "get") == ("error", "wrong number of arguments for 'get' command")
    admin.execute_command("ACL", "SETUSER", "u", "+publish")
    assert admin.execute_command("ACL", "DRYRUN", "u", "publish", "x", "m") == (
        b"This user has no permissions to access the 'x' channel")
    assert admin.execute_command("ACL", "LOG") == []  # (a dry run logs nothing)


def test_selectors(admin: redis.Redis) -> None:
    admin.execute_command("ACL", "SETUSER", "u", "on", "nopass", "+get", "~a*", "(+set ~b*)", "(+del ~c*)")
    line = admin.execute_command("ACL", "LIST")[1]
    assert line == b"user u on nopass ~a* resetchannels -@all +get (~b* resetchannels -@all +set) (~c* resetchannels -@all +del)"
    assert admin.execute_command("ACL", "DRYRUN", "u", "SET", "b1", "v") == b"OK"
    assert admin.execute_command("ACL", "DRYRUN", "u", "SET", "a1", "v") == (  # (the most relevant denial)
        b"This user has no permissions to access the 'a1' key")
    assert admin.execute_command("ACL", "DRYRUN", "u", "DEL", "a1") == b"This user has no permissions to access the 'a1' key"
    assert admin.execute_command("ACL", "GETUSER", "u")[-1] == [
        [b"commands", b"-@all +set", b"keys", b"~b*", b"channels", b""],
        [b"commands", b"-@all +del", b"keys", b"~c*", b"channels", b""]]
    admin.execute_command("ACL", "SETUSER", "u", "clearselectors")
    assert admin.execute_command("ACL", "DRYRUN", "u", "SET", "b1", "v") == (
        b"This user has no permissions to run the 'set' command")


def test_auth(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    admin.execute_command("ACL", "SETUSER", "u", "on", ">p", "+@all", "~*")
    admin.execute_command("ACL", "SETUSER", "off", "off", ">p", "+@all")
    client = make_client(protocol=2, retry=Retry(NoBackoff(), 0))  # (redis-py retries an AuthenticationError)
    assert failure(client, "AUTH", "x") == (
        "AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?")
    assert client.execute_command("AUTH", "default", "anything") is True  # (nopass: any password will do)
    wrong = "invalid username-password pair or user is disabled."
    assert failure(client, "AUTH", "u", "wrong") == wrong
    assert failure(client, "AUTH", "off", "p") == wrong
    assert failure(client, "AUTH", "nobody", "p") == wrong
    assert failure(client, "AUTH", "a", "b", "c") == "syntax error"
    assert client.execute_command("AUTH", "u", "p") is True
    assert client.execute_command("ACL", "WHOAMI") == b"u"
    assert b"user=u" in client.execute_command("CLIENT", "INFO")
    assert client.execute_command("HELLO", 2, "AUTH", "default", "x")[1] == b"redis"
    assert client.execute_command("ACL", "WHOAMI") == b"default"
    entries = [log_fields(e) for e in admin.execute_command("ACL", "LOG")]
    assert entries[0] == {b"count": 1, b"reason": b"auth", b"context": b"toplevel", b"object": b"AUTH",
                          b"username": b"nobody"}
    assert [e[b"username"] for e in entries] == [b"nobody", b"off", b"u"]


def test_requirepass_is_the_default_password(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    admin.execute_command("CONFIG", "SET", "requirepass", "p")
    assert admin.execute_command("ACL", "LIST") == [b"user default on #" + P_HASH.encode() + b" ~* &* +@all"]
    client = make_client(protocol=2, password="p", retry=Retry(NoBackoff(), 0))
    assert client.execute_command("ACL", "WHOAMI") == b"default"
    assert failure(client, "AUTH", "q") == "invalid username-password pair or user is disabled."
    admin.execute_command("CONFIG", "SET", "requirepass", "")
    assert admin.execute_command("ACL", "LIST") == [b"user default on nopass ~* &* +@all"]


def test_restricted_default_user(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    admin.execute_command("ACL", "SETUSER", "default", "-flushall")
    assert run(admin, "FLUSHALL") == ("error", "this user has no permissions to run the 'flushall' command")
    other = make_client(protocol=2)
    assert run(other, "FLUSHALL") == ("error", "this user has no permissions to run the 'flushall' command")
    assert other.set("k", "v") is True
    admin.execute_command("ACL", "SETUSER", "default", "+flushall")
    assert other.flushall() is True


def test_multi_and_exec(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    admin.execute_command("ACL", "SETUSER", "u", "on", "nopass", "-@all", "+multi", "+exec", "+get", "+acl",
                          "~k*")
    user = make_client(username="u", password="x", protocol=2)
    with user.pipeline(transaction=True) as pipe:
        pipe.get("k1").set("k1", "v")
        with pytest.raises(redis.RedisError, match="no permissions to run the 'set' command"):
            pipe.execute()
    assert log_fields(admin.execute_command("ACL", "LOG", 1)[0])[b"context"] == b"multi"
    # Rules changed while the transaction was queued: EXEC checks each command again.
    with user.pipeline(transaction=True) as pipe:
        pipe.get("k1").execute_command("ACL", "SETUSER", "u", "resetkeys").get("k1")
        replies = pipe.execute(raise_on_error=False)
    assert replies[:2] == [None, b"OK"]
    assert str(replies[2]) == (
        "ACLs rules changed between the moment the transaction was accumulated and the EXEC call. "
        "This command is no longer allowed for the following reason: no permission to touch the specified keys")
    entry = log_fields(admin.execute_command("ACL", "LOG", 1)[0])
    assert (entry[b"reason"], entry[b"context"], entry[b"object"]) == (b"key", b"multi", b"k1")


def test_scripts_check_the_callers_user(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    admin.execute_command("ACL", "SETUSER", "u", "on", "nopass", "-@all", "+eval", "+get", "~k*")
    user = make_client(username="u", password="x", protocol=2)
    error = run(user, "EVAL", "return redis.call('get', 'zz')", 0)[1]
    assert error.startswith("The user executing the script can't access at least one of the keys mentioned in the "
                            "command arguments script: ")
    assert error.endswith(", on @user_script:1.")
    assert run(user, "EVAL", "return redis.call('set', 'k1', 'v')", 0)[1].startswith(
        "The user executing the script can't run this command or subcommand script: ")
    assert run(user, "EVAL", "return redis.pcall('get', 'zz')", 0) == ("error", (
        "The user executing the script can't access at least one of the keys mentioned in the command arguments"))
    assert user.eval("return redis.call('get', 'k1')", 0) is None
    assert user.eval("return redis.acl_check_cmd('set', 'k1', 'v')", 0) is None  # (false)
    assert user.eval("return redis.acl_check_cmd('get', 'k1')", 0) == 1
    entry = log_fields(admin.execute_command("ACL", "LOG", 1)[0])
    assert (entry[b"reason"], entry[b"context"], entry[b"object"], entry[b"count"]) == (b"key", b"lua", b"zz", 2)


def test_deluser(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    admin.execute_command("ACL", "SETUSER", "a")
    admin.execute_command("ACL", "SETUSER", "b", "on", "nopass", "+@all", "~*")
    user = make_client(username="b", password="x", protocol=2)
    assert user.execute_command("ACL", "WHOAMI") == b"b"
    assert run(admin, "ACL", "DELUSER", "default") == ("error", "The 'default' user cannot be removed")
    assert run(admin, "ACL", "DELUSER", "a", "default") == ("error", "The 'default' user cannot be removed")
    assert admin.execute_command("ACL", "DELUSER", "a", "b", "nobody") == 2
    assert admin.execute_command("ACL", "USERS") == [b"default"]
    assert b"user=b" not in admin.execute_command("CLIENT", "LIST")


def test_client_kill_user(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    admin.execute_command("ACL", "SETUSER", "b", "on", "nopass", "+@all", "~*")
    user = make_client(username="b", password="x", protocol=2)
    assert user.ping() is True
    assert b"user=b" in admin.execute_command("CLIENT", "LIST")
    assert run(admin, "CLIENT", "KILL", "USER", "nobody") == ("error", "No such user 'nobody'")
    assert admin.execute_command("CLIENT", "KILL", "USER", "b") == 1
    assert b"user=b" not in admin.execute_command("CLIENT", "LIST")


def test_cat_genpass_help(admin: redis.Redis) -> None:
    assert admin.execute_command("ACL", "CAT") == [
        b"keyspace", b"read", b"write", b"set", b"sortedset", b"list", b"hash", b"string", b"bitmap", b"hyperloglog",
        b"geo", b"stream", b"pubsub", b"admin", b"fast", b"slow", b"blocking", b"dangerous", b"connection",
        b"transaction", b"scripting"]
    hashes = set(admin.execute_command("ACL", "CAT", "hash"))
    assert {b"hset", b"hget", b"hgetall", b"hincrbyfloat"} <= hashes and b"get" not in hashes
    assert b"config|get" in admin.execute_command("ACL", "CAT", "admin")
    assert run(admin, "ACL", "CAT", "nosuch") == ("error", "Unknown category 'nosuch'")
    password = admin.execute_command("ACL", "GENPASS")
    assert len(password) == 64 and set(password) <= set(b"0123456789abcdef")
    assert len(admin.execute_command("ACL", "GENPASS", 5)) == 2
    bits_error = ("error", "ACL GENPASS argument must be the number of bits for the output password, "
                  "a positive number up to 4096")
    assert run(admin, "ACL", "GENPASS", 0) == bits_error
    assert run(admin, "ACL", "GENPASS", 4097) == bits_error
    assert run(admin, "ACL", "GENPASS", "x") == ("error", "value is not an integer or out of range")
    help_lines = admin.execute_command("ACL", "HELP")
    assert help_lines[0] == b"ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert help_lines[-2:] == [b"HELP", b"    Prints this help."] and len(help_lines) == 29
    assert run(admin, "ACL", "LOG", "x") == ("error", "value is not an integer or out of range")


def test_save_and_load_need_an_acl_file(admin: redis.Redis) -> None:
    error = ("error", "This Redis instance is not configured to use an ACL file. You may want to specify users via "
             "the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration "
             "file set) in order to store users in the Redis configuration.")
    assert run(admin, "ACL", "SAVE") == error
    assert run(admin, "ACL", "LOAD") == error


def test_reset_logs_back_in_as_default(admin: redis.Redis, make_client: Callable[..., redis.Redis]) -> None:
    admin.execute_command("ACL", "SETUSER", "u", "on", "nopass", "-@all", "+reset", "+acl|whoami")
    user = make_client(username="u", password="x", protocol=2)
    assert run(user, "GET", "k") == ("error", "this user has no permissions to run the 'get' command")
    assert user.execute_command("RESET") in (b"RESET", "RESET")
    assert user.execute_command("ACL", "WHOAMI") == b"default"
    assert user.get("k") is None


# -- embedded only: an ACL file needs a server started with aclfile -----------------------------------
def test_acl_file_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "users.acl"
    path.write_text("user alice on >p ~a* +get\n")
    engine = Engine(config={"aclfile": str(path)})
    client = EmbeddedRedis(engine, protocol=2)
    assert client.execute_command("ACL", "USERS") == [b"alice", b"default"]
    client.execute_command("ACL", "SETUSER", "bob", "on", "nopass", "+@read", "~*")
    assert client.execute_command("ACL", "SAVE") == b"OK"
    saved = path.read_text().splitlines()
    assert saved == [
        "user alice on #" + P_HASH + " ~a* resetchannels -@all +get",
        "user bob on nopass ~* resetchannels -@all +@read",
        "user default on nopass ~* &* +@all",
    ]
    client.execute_command("ACL", "DELUSER", "bob")
    assert client.execute_command("ACL", "LOAD") == b"OK"
    assert client.execute_command("ACL", "USERS") == [b"alice", b"bob", b"default"]
    path.write_text("user carol on +nocmd\nbad line\n")
    error = run(client, "ACL", "LOAD")[1]
    assert error == (f"{path}:1: Error in applying operation '+nocmd': Unknown command or category name in ACL. "
                     f"{path}:2 should start with user keyword followed by the username. "
                     "WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
    assert client.execute_command("ACL", "USERS") == [b"alice", b"bob", b"default"]
