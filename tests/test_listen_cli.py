"""``notifyctl listen`` as a command: exit codes (0, 2, 7, 8, 130, 143), the URL as the first
stderr line, JSON lines on stdout, the live table's escaping and redraw rate, and a capture
that holds every request answered 2xx when SIGTERM arrives under load."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from waiting import wait_for

from conftest import subprocess_env
from notifyctl.events import read_capture
from notifyctl.providers.circle.signing import circle_sign

KEY = "circle-cli-key"


class Spawned:
    """``notifyctl listen ...`` in a subprocess, stdout/stderr in files (never a full pipe)."""

    def __init__(self, tmp: Path, *args: str, **env: str) -> None:
        self.out, self.err = tmp / "stdout.txt", tmp / "stderr.txt"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "notifyctl", "listen", *args],
                stdout=out, stderr=err, env=subprocess_env(**env),
            )
        try:
            wait_for(lambda: "\n" in self.err.read_text() or self.proc.poll() is not None,
                     what="listen's first stderr line (its URL)")
        except AssertionError:
            self.proc.kill()
            raise
        text = self.err.read_text()
        if "\n" not in text:
            raise AssertionError(f"listen did not start: {text!r}")
        self.url = text.splitlines()[0]

    @property
    def base(self) -> str:
        return "/".join(self.url.split("/", 3)[:3])

    def wait(self, timeout: float = 20) -> int:
        return self.proc.wait(timeout)

    def stdout_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines()]


def signed(body: bytes) -> dict[str, str]:
    return {"X-Logi-Verify": circle_sign(KEY, body), "Content-Type": "application/json"}


def test_count_reached_exit_0_url_first_and_jsonl(tmp_path: Path) -> None:
    listen = Spawned(tmp_path, "--provider", "iottly", "--count", "2", "--path", "/in")
    assert listen.url.startswith("http://127.0.0.1:") and listen.url.endswith("/in")
    with httpx.Client(timeout=10) as client:
        for device in ("d1", "d2"):
            answer = client.post(listen.url, json={"msg": {"from": device, "payload": 1}})
            assert answer.status_code == 200
    assert listen.wait() == 0
    assert [line["device"] for line in listen.stdout_lines()] == ["d1", "d2"]


def test_timeout_exit_codes(run: Any) -> None:
    missed = run("listen", "--provider", "iottly", "--timeout", "0.3", "--count", "5")
    assert missed.exit_code == 8 and "received 0 of 5" in missed.stderr
    assert missed.stderr.splitlines()[0].startswith("http://127.0.0.1:")
    assert run("listen", "--provider", "iottly", "--timeout", "0.3").exit_code == 0


def test_quiet_still_prints_the_url_and_nothing_else(run: Any) -> None:
    quiet = run("-q", "listen", "--provider", "iottly", "--timeout", "0.3")
    assert quiet.exit_code == 0
    assert quiet.stderr.splitlines()[0].startswith("http://127.0.0.1:")
    assert "listening for" not in quiet.stderr


def test_strict_verification_failure_exit_7(tmp_path: Path) -> None:
    listen = Spawned(tmp_path, "--provider", "circle", "--verify-key-env", "CK", "--strict",
                     "--count", "2", CK=KEY)
    body = b'{"accountId":"a","eventType":"motion_started","eventData":{"accessoryId":"x"}}'
    with httpx.Client(timeout=10) as client:
        assert client.post(listen.url, content=body, headers=signed(body)).status_code == 200
        forged = {"X-Logi-Verify": circle_sign("wrong", body)}
        assert client.post(listen.url, content=body, headers=forged).status_code == 401
    assert listen.wait() == 7
    assert "1 of 2 requests failed verification" in listen.err.read_text()
    kinds = [line["kind"] for line in listen.stdout_lines()]
    assert kinds == ["motion_started", "unverified"]


@pytest.mark.parametrize(("args", "message"), [
    (["--provider", "thingspace", "--callback-username", "u"], "--callback-password-env"),
    (["--provider", "sigfox", "--downlink-data", "00112233"], "exactly 16 hex"),
    (["--provider", "circle", "--verify-key-env", "NOT_SET_ANYWHERE"], "NOT_SET_ANYWHERE"),
    (["--provider", "circle"], "--verify-key-env"),
    (["--provider", "nope"], "no provider 'nope'"),
    (["--provider", "sigfx"], "did you mean 'sigfox'?"),
    (["--provider", "pelion", "--downlink-data", "0011223344556677"],
     "--downlink-data is a sigfox option, not for pelion"),
    (["--provider", "iottly", "--fail-ratio", "2"], "--fail-ratio"),
])
def test_usage_errors_exit_2(cli: Any, args: list[str], message: str) -> None:
    result = cli("listen", *args, "--timeout", "1")
    assert result.exit_code == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_another_platforms_option_is_refused_for_the_environments_provider(
        cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFYCTL_PROVIDER", "iottly")
    result = cli("listen", "--callback-username", "u", "--timeout", "1")
    assert result.exit_code == 2
    assert "--callback-username is a thingspace option, not for iottly" in result.stderr
    assert result.stderr.count("\n") == 1


def test_in_process_jsonl(cli: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def post() -> bool:
        try:
            httpx.post(f"http://127.0.0.1:{port}/h", content=b"device=AB12&data=ff",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        except httpx.ConnectError:
            return False  # not listening yet
        return True

    def send() -> None:
        wait_for(post, interval=0.02, what=f"listen on port {port}")

    sender = threading.Thread(target=send)
    sender.start()
    result = cli("listen", "--provider", "sigfox", "--port", str(port), "--count", "1")
    sender.join()
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == f"http://127.0.0.1:{port}/"
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert (line["provider"], line["device"], line["payload"]) == ("sigfox", "AB12", "ff")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_exit_codes(tmp_path: Path, signum: int, code: int) -> None:
    save = tmp_path / "cap.jsonl"
    listen = Spawned(tmp_path, "--provider", "iottly", "--save", str(save))
    assert httpx.post(listen.url, json={"n": 1}).status_code == 200
    listen.proc.send_signal(signum)
    assert listen.wait() == code
    assert len(list(read_capture(save))) == 1


def test_sigterm_under_load_keeps_every_2xx_in_capture(tmp_path: Path) -> None:
    save = tmp_path / "cap.jsonl"
    listen = Spawned(tmp_path, "--provider", "circle", "--verify-key-env", "CK",
                     "--save", str(save), "-o", "jsonl", CK=KEY)
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def hammer(worker: int) -> None:
        with httpx.Client(timeout=5) as client:
            for n in range(3000):  # bounded; stops far earlier when the listener goes away
                if stop.is_set():
                    return
                body = json.dumps({"accountId": "a", "eventType": "motion_started",
                                   "eventData": {"accessoryId": f"w{worker}-{n}"}}).encode()
                try:
                    answer = client.post(listen.url, content=body, headers=signed(body))
                except httpx.HTTPError:
                    return
                if 200 <= answer.status_code < 300:
                    with lock:
                        answered.append(f"w{worker}-{n}")

    workers = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    wait_for(lambda: len(answered) >= 200, what="200 requests answered")
    listen.proc.send_signal(signal.SIGTERM)
    code = listen.wait()
    stop.set()
    for worker in workers:
        worker.join(10)
    assert code == 143
    captured = set()
    for _number, delivery in read_capture(save):  # every line parses
        captured.add(json.loads(delivery.body_bytes())["eventData"]["accessoryId"])
    assert len(answered) >= 200
    assert set(answered) <= captured
    out_lines = listen.stdout_lines()  # stdout was flushed on the way out too
    assert {line["device"] for line in out_lines} >= set(answered)


def test_table_view_escapes_and_limits_redraws() -> None:
    from rich.console import Console

    from notifyctl.events import Event
    from notifyctl.listen.view import Seen, TableSink

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=140, height=30)

    async def burst() -> int:
        sink = TableSink(console, "iottly")
        redraws = 0
        original = sink.live.refresh

        def counted() -> None:
            nonlocal redraws
            redraws += 1
            original()

        sink.live.refresh = counted  # type: ignore[method-assign]
        started = time.monotonic()
        for n in range(2000):
            event = Event(provider="iottly", kind="message", device=f"d{n}",
                          payload="\x1b[31mred[bold]x" if n == 1999 else n)
            sink.show(Seen("iottly", "message", "POST", "/", 200, "2026-11-23T09:00:00.000Z",
                           None, None, [event]))
            if n % 200 == 0:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.15)
        elapsed = time.monotonic() - started
        sink.close()
        assert redraws <= elapsed * 10 + 3, (redraws, elapsed)
        return redraws

    redraws = asyncio.run(burst())
    text = buffer.getvalue()
    assert redraws >= 1
    assert "\\x1b[31mred[bold]x" in text  # shown as text, not obeyed or parsed as markup
    assert "\x1b[31mred" not in text
    assert "2000 requests" in text


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_first_stderr_line_even_when_port_is_busy(cli: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = cli("listen", "--provider", "iottly", "--port", str(port), "--timeout", "1")
    assert result.exit_code == 2 and "cannot listen on 127.0.0.1" in result.stderr


def test_reader_going_away_ends_the_run_quietly() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "notifyctl", "listen", "--provider", "iottly", "-o", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    url = proc.stderr.readline().decode().strip()
    assert httpx.post(url, json={"n": 1}).status_code == 200
    assert json.loads(proc.stdout.readline())["payload"] == {"n": 1}
    proc.stdout.close()  # `listen | head -1`

    def poke() -> bool:  # the next flush hits the closed pipe and ends the run
        with contextlib.suppress(httpx.HTTPError):  # already gone
            httpx.post(url, json={"n": 2}, timeout=5)
        return proc.poll() is not None

    wait_for(poke, interval=0.02, what="listen to end once its reader went away")
    assert proc.wait(10) == 0
    assert "Traceback" not in proc.stderr.read().decode()
