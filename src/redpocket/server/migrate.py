"""The network half of MIGRATE: connect to the target, send its commands, read one reply line each.

The engine's MIGRATE handler (:mod:`redpocket.engine.commands.dump`) builds
``AUTH`` / ``SELECT`` / ``RESTORE`` commands and hands them to the engine
extension ``"migrate_transport"``; :func:`install_migrate_transport` puts
:func:`send_commands` there.  Like Redis's ``migrateCommand`` it writes the
whole batch, then reads one line per command (``+OK`` or ``-ERR ...``:
every reply to these commands is a single line), each step bounded by the
timeout.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from ..engine.commands.dump import MIGRATE_TRANSPORT, MigrateConnectError, MigrateIOError

if TYPE_CHECKING:
    from ..engine import Engine


def encode_command(argv: list[bytes]) -> bytes:
    """Return ``argv`` as a RESP array of bulk strings."""
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%b\r\n" % (len(item), item) for item in argv)


def send_commands(host: str, port: int, timeout: float, commands: list[list[bytes]]) -> list[bytes]:
    """Send ``commands`` to ``host:port`` and return the first line of each reply (without CRLF)."""
    try:
        connection = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        raise MigrateConnectError from None
    with connection:
        try:
            connection.sendall(b"".join(encode_command(argv) for argv in commands))
        except OSError:
            raise MigrateIOError(writing=True) from None
        lines = []
        try:
            reader = connection.makefile("rb")
            for _ in commands:
                line = reader.readline(1 << 20)
                if not line.endswith(b"\r\n"):
                    raise MigrateIOError(writing=False)
                lines.append(line[:-2])
        except OSError:
            raise MigrateIOError(writing=False) from None
        return lines


def install_migrate_transport(engine: Engine) -> None:
    """Let ``engine``'s MIGRATE reach other servers (keeps a transport installed before)."""
    engine.extensions.setdefault(MIGRATE_TRANSPORT, send_commands)
