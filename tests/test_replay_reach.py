"""replay and targets that do not answer: where nothing has ever answered it gives up within
seconds and names scheme://host:port (exit 6, report and summary written); a target that
answered once keeps the rules' whole retry policy; long runs say how they are doing on stderr
when it is not a terminal (a status line every few seconds; none with -q)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from aiohttp import web
from aioserve import ServeThread
from waiting import wait_for

from conftest import subprocess_env
from notifyctl.providers.pelion.rules import DEFAULT_ATTEMPTS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_target_that_never_answered_is_given_up_and_named(cli: Any, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    report = tmp_path / "r.json"
    result = cli("replay", "--fixture", "pelion/notifications", "--to",
                 f"http://127.0.0.1:{port}/hook", "--report", str(report))
    assert result.exit_code == 6
    assert f"http://127.0.0.1:{port} could not be reached (connect-error)" in result.stderr
    data = json.loads(report.read_text())
    assert f"http://127.0.0.1:{port}" in data["stopped"]
    # Pelion would try 8 times over 127 s; the grace allows a few attempts over 3 s.
    assert data["statuses"] == {"connect-error": data["attempts"]}
    assert data["attempts"] < DEFAULT_ATTEMPTS
    assert data["deliveries"] == data["failed"] == 1  # nothing after the first batch
    assert "deliveries" in result.stderr  # the summary is written


def test_until_accepted_still_gives_up_where_nothing_answered(run: Any) -> None:
    port = free_port()
    # A subprocess: retrying for ever must fail the test, not hang it.
    result = run("replay", "--fixture", "pelion/notifications", "--to",
                 f"http://127.0.0.1:{port}/hook", "--max-attempts", "0", "-o", "json",
                 timeout=120)
    assert result.exit_code == 6
    assert f"127.0.0.1:{port} could not be reached" in result.json()["stopped"]


def test_a_target_that_answered_once_keeps_the_retry_policy(cli: Any, tmp_path: Path) -> None:
    # The receiver answers the first batch, then its port refuses connections.
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    port = listening.getsockname()[1]
    accepted = threading.Event()

    def answer_once() -> None:
        conn, _ = listening.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            while len(body) < length:
                body += conn.recv(65536)
            # Refuse from now on, before answering: a connection the client opens as soon as it
            # has the answer must not land in the backlog and be reset (a ServerDisconnected,
            # not the connect-error this test counts).
            listening.close()
            conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        accepted.set()

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    # Back-off 0.4 + 0.8 + 1.6 + 3.2 s: well past the grace a never-answered target gets.
    result = cli("replay", "--fixture", "pelion/notifications", "--to",
                 f"http://127.0.0.1:{port}/hook", "--max-attempts", "5", "--retry-base", "0.4",
                 "-o", "json")
    thread.join(10)
    assert accepted.is_set()
    assert result.exit_code == 6
    data = result.json()
    assert data["statuses"] == {"204": 1, "connect-error": 5}  # every attempt the rules allow
    assert "could not be reached" not in (data["stopped"] or "")
    assert "sends nothing after it" in data["stopped"]


def test_a_long_run_prints_a_status_line_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    release = asyncio.Event()
    arrived: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        arrived.append(request.headers.get("X-Run", ""))
        await release.wait()
        return web.Response(status=204)

    body = tmp_path / "b.json"
    body.write_text('{"n": 1}')
    with ServeThread(lambda app: app.router.add_post("/hook", handle)) as server:

        def start(name: str, *extra: str) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-m", "notifyctl", *extra, "replay", str(body), "--provider",
                 "generic", "--to", server.url + "/hook", "-H", f"X-Run: {name}"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())

        quiet = start("quiet", "-q")
        try:
            # -q is held longer than the other run
            wait_for(lambda: "quiet" in arrived, what="the -q run")
            loud = start("loud")
            try:
                assert loud.stderr is not None
                first: list[str] = []
                reader = threading.Thread(target=lambda: first.append(loud.stderr.readline()),
                                          daemon=True)
                reader.start()
                wait_for(lambda: first, timeout=60, what="the first delivery")
                # the first thing it writes, while its delivery is still held: a status line
                assert first[0].startswith("replay: 0 deliveries"), first
            finally:
                server.loop.call_soon_threadsafe(release.set)
            try:
                _, rest = loud.communicate(timeout=60)
            finally:
                loud.kill()
            _, quiet_err = quiet.communicate(timeout=60)
        finally:
            quiet.kill()
    assert loud.returncode == 0 and quiet.returncode == 0, rest + quiet_err
    assert "replay:" not in quiet_err and quiet_err == ""
