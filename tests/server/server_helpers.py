"""Helpers shared by the server tests: a raw socket speaking bytes."""

from __future__ import annotations

import socket
import time


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


def free_port() -> int:
    """Return a loopback TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
