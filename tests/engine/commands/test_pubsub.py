"""Sharded pub/sub (SSUBSCRIBE SUNSUBSCRIBE SPUBLISH PUBSUB SHARD*) on both backends, through redis-py's PubSub."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from tests.helpers import run


def sharded_messages(pubsub: redis.client.PubSub, count: int) -> list[dict[str, object]]:
    """Read ``count`` messages (waiting up to a second each); fail when one does not come."""
    found = []
    for _ in range(count):
        message = pubsub.get_sharded_message(timeout=1)
        assert message is not None, f"message {len(found) + 1} of {count} did not come"
        found.append({key: message[key] for key in ("type", "channel", "data")})
    return found


@pytest.mark.parametrize("protocol", [2, 3])
def test_ssubscribe_spublish_sunsubscribe(make_client: Callable[..., redis.Redis], protocol: int) -> None:
    publisher = make_client(protocol=protocol)
    pubsub = make_client(protocol=protocol).pubsub()
    pubsub.ssubscribe("a", "b")
    pubsub.subscribe("plain")
    assert sharded_messages(pubsub, 2) == [
        {"type": "ssubscribe", "channel": b"a", "data": 1}, {"type": "ssubscribe", "channel": b"b", "data": 2}]
    assert pubsub.get_message(timeout=1)["data"] == 1  # subscribe counts channels and patterns only
    assert publisher.spublish("a", "hello") == 1
    assert publisher.publish("a", "not sharded") == 0  # shard channels are a namespace of their own
    assert publisher.spublish("plain", "x") == 0
    assert publisher.spublish("nobody", "x") == 0
    assert sharded_messages(pubsub, 1) == [{"type": "smessage", "channel": b"a", "data": b"hello"}]
    assert publisher.execute_command("PUBSUB", "SHARDCHANNELS") in ([b"a", b"b"], [b"b", b"a"])
    assert publisher.execute_command("PUBSUB", "SHARDCHANNELS", "a*") == [b"a"]
    assert publisher.execute_command("PUBSUB", "SHARDNUMSUB", "a", "plain") == [b"a", 1, b"plain", 0]
    assert publisher.execute_command("PUBSUB", "NUMSUB", "a", "plain") == [b"a", 0, b"plain", 1]
    assert publisher.execute_command("PUBSUB", "CHANNELS") == [b"plain"]
    pubsub.sunsubscribe("a", "nope")
    assert sharded_messages(pubsub, 2) == [
        {"type": "sunsubscribe", "channel": b"a", "data": 1}, {"type": "sunsubscribe", "channel": b"nope", "data": 1}]
    pubsub.sunsubscribe()
    assert sharded_messages(pubsub, 1) == [{"type": "sunsubscribe", "channel": b"b", "data": 0}]
    assert publisher.execute_command("PUBSUB", "SHARDCHANNELS") == []
    assert publisher.spublish("b", "gone") == 0
    pubsub.close()


def test_a_second_subscriber_and_a_closed_one(make_client: Callable[..., redis.Redis]) -> None:
    publisher = make_client()
    first, second = make_client().pubsub(), make_client().pubsub()
    for pubsub in (first, second):
        pubsub.ssubscribe("news")
        sharded_messages(pubsub, 1)
    assert publisher.spublish("news", "1") == 2
    assert publisher.execute_command("PUBSUB", "SHARDNUMSUB", "news") == [b"news", 2]
    first.close()
    assert publisher.execute_command("PUBSUB", "SHARDNUMSUB", "news") == [b"news", 1]
    assert publisher.spublish("news", "2") == 1
    assert sharded_messages(second, 2) == [{"type": "smessage", "channel": b"news", "data": b"1"},
                                           {"type": "smessage", "channel": b"news", "data": b"2"}]
    second.close()


def test_sharded_commands_in_transactions_and_scripts(make_client: Callable[..., redis.Redis]) -> None:
    r = make_client(protocol=2)  # (under RESP3 redis-py reads the lone SUNSUBSCRIBE frame as a push)
    pipe = r.pipeline(transaction=True)
    pipe.execute_command("SSUBSCRIBE", "x")
    pipe.execute_command("SPUBLISH", "x", "y")
    assert [str(reply) if isinstance(reply, Exception) else reply for reply in pipe.execute(raise_on_error=False)] == [
        "SSUBSCRIBE isn't allowed for a DENY BLOCKING client", 0]
    assert run(r, "EVAL", "return redis.call('spublish', 'x', 'y')", 0) == 0
    error = run(r, "EVAL", "return redis.call('ssubscribe', 'x')", 0)
    assert error[0] == "error" and error[1].startswith("This Redis command is not allowed from script")
    assert run(r, "COMMAND", "GETKEYS", "SPUBLISH", "ch", "msg") == ("error", "The command has no key arguments")
    assert run(r, "SUNSUBSCRIBE") == [b"sunsubscribe", None, 0]
