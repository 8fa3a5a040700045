"""Helpers shared by the server tests: raw sockets speaking bytes, and RESP for client-side caching tests."""

from __future__ import annotations

import socket
import time
from typing import Any


class Raw:
    """A plain socket speaking bytes to the server: ``send`` then ``recv_until`` / ``read_all``."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=5)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_exact(self, size: int, timeout: float = 5) -> bytes:
        """Read exactly ``size`` bytes."""
        self.sock.settimeout(timeout)
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def read_for(self, seconds: float = 0.3) -> bytes:
        """Read whatever arrives within ``seconds``; ``<EOF>`` marks a closed connection."""
        deadline = time.monotonic() + seconds
        data = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return data
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return data
            except ConnectionResetError:
                return data + b"<EOF>"
            if not chunk:
                return data + b"<EOF>"
            data += chunk

    def roundtrip(self, data: bytes, expected: bytes) -> bytes:
        """Send ``data`` and read ``len(expected)`` bytes back."""
        self.send(data)
        return self.recv_exact(len(expected))

    def close(self) -> None:
        self.sock.close()


Command = str | tuple[Any, ...]


def resp(argv: list[bytes]) -> bytes:
    """Encode one request."""
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in argv)


def to_argv(command: Command) -> list[bytes]:
    """Split ``"GET k"`` on spaces, or take a tuple's items as they are."""
    items = command.split() if isinstance(command, str) else command
    return [item if isinstance(item, bytes) else str(item).encode() for item in items]


def bulk_array(keys: tuple[bytes, ...]) -> bytes:
    return b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)


def invalidate(*keys: bytes) -> bytes:
    """The RESP3 push invalidating ``keys``."""
    return b">2\r\n$10\r\ninvalidate\r\n" + bulk_array(keys)


def message(*keys: bytes) -> bytes:
    """The RESP2 pub/sub message invalidating ``keys`` (after REDIRECT)."""
    return b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n" + bulk_array(keys)


NULL_PUSH = b">2\r\n$10\r\ninvalidate\r\n_\r\n"


class Wire:
    """One client connection speaking bytes."""

    def send(self, *commands: Command) -> None:
        """Send commands in one go (one turn)."""
        raise NotImplementedError

    def receive(self, size: int) -> bytes:
        """Return the next ``size`` bytes received."""
        raise NotImplementedError

    def line(self) -> bytes:
        """Return the next line received, CRLF included."""
        raise NotImplementedError

    def idle(self, seconds: float = 0.05) -> bytes:
        """Return whatever else arrives within ``seconds`` (nothing, mostly)."""
        raise NotImplementedError

    def expect(self, *commands: Command, reply: bytes) -> None:
        """Send commands and check the bytes they bring back."""
        self.send(*commands)
        assert self.receive(len(reply)) == reply

    def client_id(self) -> int:
        self.send("CLIENT ID")
        return int(self.line()[1:-2])

    def hello3(self) -> None:
        self.send("HELLO 3")
        self.receive(len(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n"
                          b"$2\r\nid\r\n"))
        self.line()  # the id
        self.receive(len(b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"))

    def close(self) -> None:
        """Disconnect."""


class SocketWire(Wire):
    """A raw socket to a server (redpocket's or redis-server)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.pending = b""

    def send(self, *commands: Command) -> None:
        self.sock.sendall(b"".join(resp(to_argv(command)) for command in commands))

    def receive(self, size: int) -> bytes:
        self.sock.settimeout(5)
        while len(self.pending) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.pending += chunk
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def line(self) -> bytes:
        self.sock.settimeout(5)
        while b"\r\n" not in self.pending:
            self.pending += self.sock.recv(65536)
        end = self.pending.index(b"\r\n") + 2
        return self.receive(end)

    def idle(self, seconds: float = 0.05) -> bytes:
        self.sock.settimeout(seconds)
        try:
            while chunk := self.sock.recv(65536):
                self.pending += chunk
        except TimeoutError:
            pass
        data, self.pending = self.pending, b""
        return data

    def close(self) -> None:
        self.sock.close()
