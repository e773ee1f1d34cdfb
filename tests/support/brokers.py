"""Real message brokers for the sink tests: mosquitto, nats-server (JetStream) and redis-server
from Debian's packages, each started on 127.0.0.1 on a port chosen at run time and stopped after.

    def test_x(nats_broker): nats_broker.url("iot.{device}")  # nats://127.0.0.1:PORT/...

A broker whose binary is missing skips the test with the package to install (CI installs them:
.ci/run). ``Broker.kill()`` stops it at once (SIGKILL) and ``Broker.start()`` starts it again on
the same port with the same data directory, for the restart tests. Readiness is a TCP connect
polled until it succeeds, never a sleep.
"""

from __future__ import annotations

import contextlib
import getpass
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Broker:
    scheme: str
    argv: list[str]
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Broker:
        log = open(self.workdir / "broker.log", "ab")  # noqa: SIM115 - kept by the process
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while not accepts(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = (self.workdir / "broker.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.argv[0]} did not start on {self.port}: {text}")
            time.sleep(0.02)  # polling a condition, not standing in for it
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.proc = None

    def url(self, rest: str = "") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{rest}"


def _binary(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {package}; .ci/run does)")
    return path


def mosquitto(workdir: Path, port: int | None = None, extra: str = "",
              anonymous: bool = True) -> Broker:
    """``extra``: more configuration (a TLS listener, a password_file)."""
    port = port or free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"allow_anonymous {str(anonymous).lower()}\n{extra}\n"
                    f"listener {port} 127.0.0.1\n"
                    f"persistence true\npersistence_location {workdir}/\n"
                    "max_queued_messages 0\n"
                    # Run as root, mosquitto drops to the user 'mosquitto', who cannot write
                    # its persistence file here: stay the user running the tests.
                    f"user {getpass.getuser()}\n")
    return Broker("mqtt", [_binary("mosquitto", "mosquitto"), "-c", str(conf)], port, workdir)


def nats(workdir: Path, port: int | None = None, extra: tuple[str, ...] = ()) -> Broker:
    """``extra``: more arguments (``--tls --tlscert FILE --tlskey FILE``)."""
    port = port or free_port()
    argv = [_binary("nats-server", "nats-server"), "-a", "127.0.0.1", "-p", str(port),
            "-js", "-sd", str(workdir / "js"), *extra]
    return Broker("nats", argv, port, workdir)


def redis(workdir: Path, port: int | None = None, durable: bool = True) -> Broker:
    port = port or free_port()
    # appendfsync always: an XADD answered is on disk, so a SIGKILL loses nothing acknowledged
    # (bench/sinks.py runs Redis as shipped instead: durable=False, no append-only file).
    durability = ["--appendonly", "yes", "--appendfsync", "always"] if durable else []
    argv = [_binary("redis-server", "redis-server"), "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", *durability, "--dir", str(workdir), "--protected-mode", "no"]
    return Broker("redis", argv, port, workdir)


@contextlib.contextmanager
def running(broker: Broker) -> Iterator[Broker]:
    broker.start()
    try:
        yield broker
    finally:
        broker.kill(signal.SIGTERM)


def _dir(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


@pytest.fixture
def mqtt_broker(tmp_path: Path) -> Iterator[Broker]:
    with running(mosquitto(_dir(tmp_path, "mosquitto"))) as broker:
        yield broker


@pytest.fixture
def nats_broker(tmp_path: Path) -> Iterator[Broker]:
    with running(nats(_dir(tmp_path, "nats"))) as broker:
        yield broker


@pytest.fixture
def redis_broker(tmp_path: Path) -> Iterator[Broker]:
    with running(redis(_dir(tmp_path, "redis"))) as broker:
        yield broker
