"""``redpocket serve``: the command line, configuration files, SIGTERM, Redis-style logs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from tests.helpers import free_port

from redpocket.server.config import ConfigFileError, parse_config


def _wait(port: int, password: str | None = None) -> redis.Redis:
    client = redis.Redis(port=port, password=password, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            return client
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_serve_with_config_file_and_sigterm(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(f'# a comment\nport {port}\nrequirepass "s3cret"\nnotify-keyspace-events KEA\nhz 20\n')
    process = subprocess.Popen([sys.executable, "-m", "redpocket", "serve", str(conf), "--maxclients", "50"],
                               stderr=subprocess.PIPE, text=True)
    try:
        client = _wait(port, "s3cret")
        assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
        assert client.config_get("maxclients") == {"maxclients": "50"}
        assert client.info("server")["tcp_port"] == port
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        log = process.stderr.read() if process.stderr else ""
        assert "Ready to accept connections" in log
        assert "Received SIGTERM scheduling shutdown..." in log
        assert ":M " in log
    finally:
        if process.poll() is None:
            process.kill()


def test_bad_config_file_is_fatal(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text('port 0\nsave "unterminated\n')
    done = subprocess.run([sys.executable, "-m", "redpocket", "serve", str(conf)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 1
    assert "FATAL CONFIG FILE ERROR" in done.stderr


def test_parse_config() -> None:
    assert parse_config(b'save ""\nbind 127.0.0.1 ::1\n# x\n\nappendonly yes\n') == [
        ("save", ""), ("bind", "127.0.0.1 ::1"), ("appendonly", "yes")]
    with pytest.raises(ConfigFileError):
        parse_config(b"port\n")


def test_serve_dir_without_appendonly_can_bgsave(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "redpocket", "serve", "--port", str(port), "--dir", str(tmp_path),
                                "--appendonly", "no"], stderr=subprocess.DEVNULL)
    try:
        client = _wait(port)
        client.set("k", "v")
        assert client.bgsave() is True
        deadline = time.monotonic() + 10
        while not list(tmp_path.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.iterdir()), "BGSAVE wrote nothing in --dir"
        assert client.config_get("dir")["dir"] == str(tmp_path)
        assert client.config_get("appendonly") == {"appendonly": "no"}
    finally:
        process.kill()
        process.wait(timeout=10)
