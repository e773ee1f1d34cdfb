"""`tail` as a command: --count/--timeout exit codes, filters and --save, bad options, the
embedded sandbox, the live table, and signals and close codes as exit codes of a subprocess."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from pelion_events import message, note
from sandbox import SandboxThread
from waiting import Lines, wait_for

from conftest import subprocess_env
from notifyctl.events import Event, read_capture
from notifyctl.tail import StreamStats, TailRun
from notifyctl.tail_view import LiveTable, sparkline


@pytest.fixture
def keyed(sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch) -> SandboxThread:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", sandbox.api_key)
    return sandbox


def args(sb: SandboxThread) -> list[str]:
    return ["--provider", "pelion", "--api-url", sb.url]


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_count_timeout_exit_codes(cli, keyed: SandboxThread) -> None:
    keyed.inject(message(range(5)))
    got = cli("tail", *args(keyed), "--count", "3", "--timeout", "10")
    assert got.exit_code == 0, got.stderr
    assert [e["id"] for e in lines(got.stdout)] == ["u0", "u1", "u2"]
    # (u3 and u4 came in the same frame: received, beyond the count, not printed)
    keyed.inject(message(range(5, 7)))
    # (2 s to connect and print the two queued events, even on a busy machine)
    short = cli("tail", *args(keyed), "--count", "10", "--timeout", "2")
    assert short.exit_code == 8, short.stderr
    assert [e["id"] for e in lines(short.stdout)] == ["u5", "u6"]
    assert "2 of 10 events" in short.stderr
    quiet = cli("tail", *args(keyed), "--timeout", "0.3")
    assert (quiet.exit_code, quiet.stdout) == (0, "")
    assert keyed.api_key not in got.stderr + short.stderr + quiet.stderr


def test_cli_filters_and_save(cli, keyed: SandboxThread, tmp_path) -> None:
    keyed.inject({"notifications": [note(1, ep="dev-a1"), note(2, ep="dev-b1")]})
    keyed.inject({"notifications": [note(3, ep="dev-a2", path="/5/0/0")],
                  "registrations": [{"ep": "dev-a9", "ept": "x", "q": False, "resources": []}]})
    capture = tmp_path / "cap.jsonl"
    result = cli("tail", *args(keyed), "-o", "jsonl", "--device", "dev-a*", "--kind",
                 "notification", "--count", "2", "--save", str(capture))
    assert result.exit_code == 0, result.stderr
    events = lines(result.stdout)
    assert [(e["device"], e["path"], e["payload"]) for e in events] == [
        ("dev-a1", "/3/0/1", "v1"), ("dev-a2", "/5/0/0", "v3")]
    frames = [json.loads(d.body or "") for _, d in read_capture(capture)]
    assert {d.source for _, d in read_capture(capture)} == {"websocket"}
    # The capture holds the frames as received, unfiltered.
    assert [n["ep"] for f in frames for n in f.get("notifications", [])] == [
        "dev-a1", "dev-b1", "dev-a2"]
    assert os.stat(capture).st_mode & 0o777 == 0o600


def test_bad_options_exit_2(cli) -> None:
    for bad in (["--count", "0"], ["--timeout", "-1"], ["--kind", "telemetry"], ["-o", "csv"]):
        result = cli("tail", "--provider", "pelion", *bad)
        assert result.exit_code == 2, bad
        assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_cli_exit_5(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", "ak_x")
    result = cli("tail", "--provider", "pelion", "--api-url", "http://127.0.0.1:9",
                 "--retry-for", "0.2")
    assert result.exit_code == 5 and "gave up" in result.stderr


def test_sandbox_mode_in_process(cli) -> None:
    result = cli("tail", "--sandbox", "--rate", "500", "--count", "20", "-o", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert len(lines(result.stdout)) == 20
    assert "sandbox at http://127.0.0.1:" in result.stderr


def test_table_output_is_inert(cli, keyed: SandboxThread) -> None:
    keyed.inject({"notifications": [note(1, text="\x1b[31mred[/] [bold]x")]})
    result = cli("tail", *args(keyed), "-o", "table", "--count", "1")
    assert result.exit_code == 0, result.stderr
    assert "\x1b[31mred" not in result.stdout and "\\x1b[31mred[/] [bold" in result.stdout
    assert "total 1" in result.stdout and "dev-a1" in result.stdout


def test_live_table_redraws_at_most_10_per_second() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=120, height=30)
    view = LiveTable(console=console)
    run = TailRun()
    frame = [Event("pelion", "notification", device=f"d{i}", id=str(i)) for i in range(10_000)]

    class Stats:  # the view reads only the source's stats
        stats = StreamStats(state="connected")

    view.start(Stats(), run)  # type: ignore[arg-type]
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        view.emit(frame)
        run.events += len(frame)
    view.close()
    elapsed = time.monotonic() - started
    assert view.renders <= 10 * elapsed + 3
    assert run.events >= 100_000  # emitting is cheap whatever the redraws
    assert sparkline([0, 5, 10]) == "▁▅█"


# -- signals (subprocess) ------------------------------------------------------------------
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_exit_with_complete_capture(sandbox: SandboxThread, tmp_path,
                                           signum: int, code: int) -> None:
    capture = tmp_path / "cap.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "notifyctl", "tail", *args(sandbox), "-o", "jsonl",
         "--save", str(capture)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=subprocess_env(NOTIFYCTL_API_KEY=sandbox.api_key),
    )
    try:
        for batch in range(3):
            sandbox.inject(message(range(batch * 100, batch * 100 + 100)))
        assert proc.stdout is not None
        received = [proc.stdout.readline() for _ in range(300)]
        proc.send_signal(signum)
        rest, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert len(received) + len(rest.splitlines()) == 300
    frames = [json.loads(d.body or "") for _, d in read_capture(capture)]
    assert sum(len(f["notifications"]) for f in frames) == 300
    assert b"Traceback" not in err and sandbox.api_key.encode() not in err


@pytest.mark.parametrize(("close", "code"), [(1008, 3), (1001, 4)])
def test_close_code_exit_codes_subprocess(sandbox: SandboxThread, close: int, code: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "notifyctl", "tail", *args(sandbox), "-o", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=subprocess_env(NOTIFYCTL_API_KEY=sandbox.api_key),
    )
    try:
        wait_for(lambda: sandbox.key_state().get("connected") or proc.poll() is not None,
                 interval=0.02, what="the tail's socket")
        assert proc.poll() is None
        sandbox.fault(action="close", code=close)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert err.decode().strip().splitlines()[-1].startswith("error: ")


def test_sandbox_mode_ctrl_c_exits_130_cleanly(tmp_path) -> None:
    capture = tmp_path / "cap.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "notifyctl", "tail", "--sandbox", "--rate", "200", "-o", "jsonl",
         "--save", str(capture)],
        # Unbuffered: readline must not read ahead lines that communicate() would then miss.
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env(), bufsize=0,
    )
    out = Lines(proc.stdout)  # every line, however much the pipe held when the signal came
    try:
        first = [json.loads(line) for line in out.wait(10, what="10 events")]
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr is not None
    err, rest = proc.stderr.read(), b"".join(out.finish()[10:])
    assert proc.returncode == 130, err
    assert {e["provider"] for e in first} == {"pelion"}
    assert b"Traceback" not in err and b"Task was destroyed" not in err
    captured = sum(len(v) for _, d in read_capture(capture)
                   for v in json.loads(d.body or "").values())
    assert captured == 10 + len(rest.splitlines())




def test_table_cells_for_tlv_and_async_responses() -> None:
    from notifyctl.tail_view import _content, _middle

    tlv = [{"type": "resource", "id": 0, "hex": "41", "value": "A"},
           {"type": "multiple-resource", "id": 7, "children": [
               {"type": "resource-instance", "id": 0, "hex": "05", "value": 5}]}]
    assert _content(Event("pelion", "notification", payload=tlv)) == "0=A 7:[0=5]"
    assert _content(Event("pelion", "async-response", status=504, payload=None)) == "[504] "
    assert _content(Event("pelion", "notification", payload_b64="AAE=")) == "base64:AAE="
    assert _middle("0176000000000000000000000000000a", 12) == "01760…00000a"
