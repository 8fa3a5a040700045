"""Pub/sub commands: PUBLISH SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBSUB.

The channels and subscribers live in the engine's hub (:mod:`..pubsub`).
``SUBSCRIBE a b`` answers with one frame per channel, so its reply is a
:class:`~..replies.Pushes` list of frames rather than a single value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..pubsub import PubSub, hub
from ..registry import define, define_container
from ..replies import Push, Pushes, ReplyError
from ..types.scan import glob_matcher

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["PubSub", "Push", "Pushes", "hub"]  # (Push and Pushes were defined here once)

# -- commands ---------------------------------------------------------------------------

_FLAGS: Final = "pubsub noscript loading stale"


@define("subscribe", -2, _FLAGS, group="pubsub", since="2.0.0")
def subscribe(session: Session, argv: list[bytes]) -> Any:
    """SUBSCRIBE channel [channel ...]"""
    return hub(session.engine).subscribe(session, argv[1:])


@define("unsubscribe", -1, _FLAGS, group="pubsub", since="2.0.0")
def unsubscribe(session: Session, argv: list[bytes]) -> Any:
    """UNSUBSCRIBE [channel [channel ...]]"""
    return hub(session.engine).unsubscribe(session, argv[1:])


@define("psubscribe", -2, _FLAGS, group="pubsub", since="2.0.0")
def psubscribe(session: Session, argv: list[bytes]) -> Any:
    """PSUBSCRIBE pattern [pattern ...]"""
    return hub(session.engine).subscribe(session, argv[1:], pattern=True)


@define("punsubscribe", -1, _FLAGS, group="pubsub", since="2.0.0")
def punsubscribe(session: Session, argv: list[bytes]) -> Any:
    """PUNSUBSCRIBE [pattern [pattern ...]]"""
    return hub(session.engine).unsubscribe(session, argv[1:], pattern=True)


@define("publish", 3, "pubsub loading stale fast", group="pubsub", since="2.0.0")
def publish(session: Session, argv: list[bytes]) -> Any:
    """PUBLISH channel message"""
    return hub(session.engine).publish(argv[1], argv[2])


define_container("pubsub", -2, "", group="pubsub", since="2.8.0")


@define("pubsub|channels", -2, "pubsub loading stale", group="pubsub", since="2.8.0")
def pubsub_channels(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB CHANNELS [pattern]"""
    channels = list(hub(session.engine).channels)
    if len(argv) > 2:
        matches = glob_matcher(argv[2])
        channels = [channel for channel in channels if matches(channel)]
    return channels


@define("pubsub|numsub", -2, "pubsub loading stale", group="pubsub", since="2.8.0")
def pubsub_numsub(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB NUMSUB [channel [channel ...]]"""
    channels = hub(session.engine).channels
    reply: list[Any] = []
    for channel in argv[2:]:
        reply += [channel, len(channels.get(channel, ()))]
    return reply


@define("pubsub|numpat", 2, "pubsub loading stale", group="pubsub", since="2.8.0")
def pubsub_numpat(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB NUMPAT"""
    return len(hub(session.engine).patterns)


@define("pubsub|help", 2, "loading stale", group="pubsub", since="6.2.0")
def pubsub_help(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB HELP"""
    return [
        b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"CHANNELS [<pattern>]",
        b"    Return the currently active channels matching a <pattern> (default: '*').",
        b"NUMPAT",
        b"    Return number of subscriptions to patterns.",
        b"NUMSUB [<channel> ...]",
        b"    Return the number of subscribers for the specified channels, excluding",
        b"    pattern subscriptions(default: no channels).",
        b"SHARDCHANNELS [<pattern>]",
        b"    Return the currently active shard level channels matching a <pattern> (default: '*').",
        b"SHARDNUMSUB [<shardchannel> ...]",
        b"    Return the number of subscribers for the specified shard level channel(s)",
        b"HELP",
        b"    Print this help.",
    ]


# -- sharded pub/sub -------------------------------------------------------------------


@define("ssubscribe", -2, _FLAGS, 1, -1, 1, group="pubsub", since="7.0.0")
def ssubscribe(session: Session, argv: list[bytes]) -> Any:
    """SSUBSCRIBE shardchannel [shardchannel ...]"""
    if session.in_exec:  # (MULTI, like a script, may not wait for messages)
        raise ReplyError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    return hub(session.engine).shard_subscribe(session, argv[1:])


@define("sunsubscribe", -1, _FLAGS, 1, -1, 1, group="pubsub", since="7.0.0")
def sunsubscribe(session: Session, argv: list[bytes]) -> Any:
    """SUNSUBSCRIBE [shardchannel [shardchannel ...]]"""
    return hub(session.engine).shard_unsubscribe(session, argv[1:])


@define("spublish", 3, "pubsub loading stale fast", 1, 1, 1, group="pubsub", since="7.0.0")
def spublish(session: Session, argv: list[bytes]) -> Any:
    """SPUBLISH shardchannel message"""
    return hub(session.engine).shard_publish(argv[1], argv[2])


@define("pubsub|shardchannels", -2, "pubsub loading stale", group="pubsub", since="7.0.0")
def pubsub_shardchannels(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB SHARDCHANNELS [pattern]"""
    channels = list(hub(session.engine).shard_channels)
    if len(argv) > 2:
        matches = glob_matcher(argv[2])
        channels = [channel for channel in channels if matches(channel)]
    return channels


@define("pubsub|shardnumsub", -2, "pubsub loading stale", group="pubsub", since="7.0.0")
def pubsub_shardnumsub(session: Session, argv: list[bytes]) -> Any:
    """PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]"""
    channels = hub(session.engine).shard_channels
    reply: list[Any] = []
    for channel in argv[2:]:
        reply += [channel, len(channels.get(channel, ()))]
    return reply
