"""The ACL command: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS, DRYRUN, LOG, SAVE, LOAD, HELP.

Thin handlers over the users table of :mod:`redpocket.engine.acl`.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from ..acl import CATEGORIES, DENIED_COMMAND, DENIED_KEY, NO_ACL_FILE, CommandIndex, User, username, users
from ..args import to_int
from ..registry import define, define_container
from ..replies import OK, ReplyError, double_reply, help_reply, map_reply, set_reply

if TYPE_CHECKING:
    from ..session import Session


# -- the ACL command ------------------------------------------------------------------------------
define_container("acl", -2, "", group="server", since="6.0.0")


def _user_map(protocol: int, user: User, index: CommandIndex) -> Any:
    selectors = [
        map_reply(protocol, [b"commands", s.describe_commands(index).encode("utf-8", "surrogateescape"),
                             b"keys", s.describe_keys().encode("utf-8", "surrogateescape"),
                             b"channels", s.describe_channels().encode("utf-8", "surrogateescape")])
        for s in user.selectors
    ]
    root = user.root
    return map_reply(protocol, [
        b"flags", set_reply(protocol, [flag.encode() for flag in user.flag_names()]),
        b"passwords", [digest.encode() for digest in user.passwords],
        b"commands", root.describe_commands(index).encode("utf-8", "surrogateescape"),
        b"keys", root.describe_keys().encode("utf-8", "surrogateescape"),
        b"channels", root.describe_channels().encode("utf-8", "surrogateescape"),
        b"selectors", selectors,
    ])


@define("acl|setuser", -3, "admin noscript loading stale", group="server", since="6.0.0")
def acl_setuser(session: Session, argv: list[bytes]) -> Any:
    """ACL SETUSER username [rule [rule ...]]"""
    name = argv[2]
    if any(byte in b" \x00" for byte in name):
        raise ReplyError("ERR Usernames can't contain spaces or null characters")
    users(session.engine).set_user(name, argv[3:])
    return OK


@define("acl|getuser", 3, "admin noscript loading stale", group="server", since="6.0.0")
def acl_getuser(session: Session, argv: list[bytes]) -> Any:
    """ACL GETUSER username"""
    table = users(session.engine)
    user = table.table.get(argv[2])
    if user is None:
        return None
    return _user_map(session.protocol, user, table.index)


@define("acl|deluser", -3, "admin noscript loading stale", group="server", since="6.0.0")
def acl_deluser(session: Session, argv: list[bytes]) -> Any:
    """ACL DELUSER username [username ...]"""
    return users(session.engine).delete_users(argv[2:])


@define("acl|users", 2, "admin noscript loading stale", group="server", since="6.0.0")
def acl_users(session: Session, argv: list[bytes]) -> Any:
    """ACL USERS"""
    return sorted(users(session.engine).table)


@define("acl|list", 2, "admin noscript loading stale", group="server", since="6.0.0")
def acl_list(session: Session, argv: list[bytes]) -> Any:
    """ACL LIST"""
    table = users(session.engine)
    index = table.index
    return [table.table[name].describe(index).encode("utf-8", "surrogateescape") for name in sorted(table.table)]


@define("acl|whoami", 2, "noscript loading stale", group="server", since="6.0.0")
def acl_whoami(session: Session, argv: list[bytes]) -> Any:
    """ACL WHOAMI"""
    return username(session)


@define("acl|cat", -2, "noscript loading stale", group="server", since="6.0.0")
def acl_cat(session: Session, argv: list[bytes]) -> Any:
    """ACL CAT [category]"""
    if len(argv) > 3:
        raise ReplyError("ERR Unknown subcommand or wrong number of arguments for 'cat'. Try ACL HELP.")
    if len(argv) == 2:
        return [name.encode() for name in CATEGORIES]
    category = argv[2].decode("utf-8", "replace")
    members = users(session.engine).index.members.get(category.lower())
    if members is None:
        raise ReplyError(f"ERR Unknown category '{category}'")
    return [spec.fullname.encode() for spec in members]


@define("acl|genpass", -2, "noscript loading stale", group="server", since="6.0.0")
def acl_genpass(session: Session, argv: list[bytes]) -> Any:
    """ACL GENPASS [bits]"""
    if len(argv) > 3:
        raise ReplyError("ERR Unknown subcommand or wrong number of arguments for 'genpass'. Try ACL HELP.")
    bits = 256
    if len(argv) == 3:
        bits = to_int(argv[2])
        if not 0 < bits <= 4096:
            raise ReplyError("ERR ACL GENPASS argument must be the number of bits for the output password, "
                             "a positive number up to 4096")
    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars].encode()


@define("acl|dryrun", -4, "admin noscript loading stale", group="server", since="7.0.0")
def acl_dryrun(session: Session, argv: list[bytes]) -> Any:
    """ACL DRYRUN username command [arg [arg ...]]"""
    table = users(session.engine)
    user = table.table.get(argv[2])
    if user is None:
        raise ReplyError(f"ERR User '{argv[2].decode('utf-8', 'surrogateescape')}' not found")
    command = argv[3:]
    spec = session.engine.commands.get(command[0].lower())
    if spec is not None and spec.subcommands and len(command) > 1:
        spec = spec.subcommands.get(command[1].lower())
    if spec is None:
        raise ReplyError(f"ERR Command '{command[0].decode('utf-8', 'surrogateescape')}' not found")
    if not spec.arity_ok(len(command)):
        raise ReplyError(f"ERR wrong number of arguments for '{spec.fullname}' command")
    code, obj = user.check(spec, command)
    if not code:
        return OK
    if code == DENIED_COMMAND:
        return f"This user has no permissions to run the '{spec.fullname}' command".encode()
    kind = "key" if code == DENIED_KEY else "channel"
    return b"This user has no permissions to access the '" + obj + b"' " + kind.encode()


@define("acl|log", -2, "admin noscript loading stale", group="server", since="6.0.0")
def acl_log(session: Session, argv: list[bytes]) -> Any:
    """ACL LOG [count | RESET]"""
    table = users(session.engine)
    if len(argv) > 3:
        raise ReplyError("ERR Unknown subcommand or wrong number of arguments for 'log'. Try ACL HELP.")
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            table.log.clear()
            return OK
        count = to_int(argv[2])
    now = time.time()
    protocol = session.protocol
    return [
        map_reply(protocol, [
            b"count", entry.count, b"reason", entry.reason.encode(), b"context", entry.context.encode(),
            b"object", entry.object, b"username", entry.username,
            b"age-seconds", double_reply(protocol, int((now - entry.created) * 1000) / 1000),
            b"client-info", entry.client_info,
        ])
        for entry in table.log[:max(count, 0)]
    ]


@define("acl|save", 2, "admin noscript loading stale", group="server", since="6.0.0")
def acl_save(session: Session, argv: list[bytes]) -> Any:
    """ACL SAVE"""
    path = session.engine.config.values["aclfile"]
    if not path:
        raise ReplyError(NO_ACL_FILE)
    try:
        users(session.engine).save_file(path)
    except OSError:
        raise ReplyError("ERR There was an error trying to save the ACLs. Please check the server logs for more "
                         "information") from None
    return OK


@define("acl|load", 2, "admin noscript loading stale", group="server", since="6.0.0")
def acl_load(session: Session, argv: list[bytes]) -> Any:
    """ACL LOAD"""
    path = session.engine.config.values["aclfile"]
    if not path:
        raise ReplyError(NO_ACL_FILE)
    try:
        users(session.engine).load_file(path)
    except OSError as error:
        raise ReplyError(f"ERR Error loading ACLs, opening file '{path}': {error.strerror}") from None
    return OK


@define("acl|help", 2, "loading stale", group="server", since="6.0.0")
def acl_help(session: Session, argv: list[bytes]) -> Any:
    """ACL HELP"""
    return help_reply([
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ])
