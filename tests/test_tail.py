"""`tail`: the Pelion stream's close-code policy, reconnects without loss or repeats, filters,
de-duplication, --count/--timeout, --save captures, signals, and the live table.

Engine-level tests drive ``notifyctl.tail.tail`` with a real ``PelionStream`` against the real
sandbox (short injected reconnect delays); CLI tests run the command in-process and as a
subprocess.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sandbox import SandboxThread

from conftest import subprocess_env
from notifyctl.errors import AuthError, NetworkError, NotFoundError
from notifyctl.events import Event, read_capture
from notifyctl.http import NetOptions
from notifyctl.providers.pelion.api import PelionApi, websocket_url
from notifyctl.providers.pelion.stream import PelionStream
from notifyctl.tail import (
    Dedup,
    Filters,
    Source,
    StreamStats,
    TailOptions,
    TailRun,
    backoff_delays,
    tail,
)
from notifyctl.tail_view import LiveTable, sparkline


def note(i: int, ep: str = "dev-a1", path: str = "/3/0/1", text: str | None = None,
         uid: str | None = None) -> dict[str, Any]:
    payload = base64.b64encode((text if text is not None else f"v{i}").encode()).decode()
    return {"ep": ep, "path": path, "ct": "text/plain", "payload": payload, "max-age": 0,
            "uid": uid or f"u{i}"}


def message(ids: Iterator[int] | range) -> dict[str, Any]:
    return {"notifications": [note(i) for i in ids]}


class ListSink:
    """Collects events (the engine's sinks write to stdout; this one lets tests look)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False

    def start(self, source: Source, run: TailRun) -> None:
        pass

    def emit(self, events: list[Event]) -> None:
        self.events.extend(events)

    def close(self) -> None:
        self.closed = True


def make_stream(sb: SandboxThread, delay: float = 0.02, **kwargs: Any) -> PelionStream:
    kwargs.setdefault("reconnect_delays", lambda: itertools.repeat(delay))
    kwargs.setdefault("on_state", lambda text: None)
    return PelionStream(sb.url, sb.api_key, NetOptions(timeout=5, retry_base=0.01), **kwargs)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


Script = Callable[[PelionStream, ListSink], Awaitable[None]]


def drive(stream: PelionStream, options: TailOptions, script: Script) -> tuple[ListSink, Any]:
    """Run tail() and ``script`` side by side; returns the sink and the run or the error."""
    sink = ListSink()

    async def main() -> Any:
        task = asyncio.create_task(tail(stream, sink, options))
        scripted = asyncio.create_task(script(stream, sink))
        done, _ = await asyncio.wait({task, scripted}, return_when=asyncio.FIRST_EXCEPTION,
                                     timeout=15)
        if scripted in done and scripted.exception() is not None:
            task.cancel()
            raise scripted.exception()  # type: ignore[misc]
        try:
            return await asyncio.wait_for(task, 15)
        except Exception as exc:
            return exc
        finally:
            stream.close()

    return sink, asyncio.run(main())


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
    return asyncio.to_thread(function, *args, **kwargs)


# -- reconnects: nothing lost, nothing repeated ------------------------------------------------
@pytest.mark.parametrize("fault", [{"action": "close", "code": 1012},
                                   {"action": "drop"},
                                   {"action": "close", "code": 1011}],
                         ids=["1012", "1006-drop", "1011-once"])
def test_reconnect_loses_and_repeats_nothing(sandbox: SandboxThread, fault: dict[str, Any]) -> None:
    async def script(stream: PelionStream, sink: ListSink) -> None:
        await until(lambda: stream.stats.state == "connected")
        await call(sandbox.inject, message(range(50)))
        await until(lambda: len(sink.events) >= 50)
        await call(sandbox.fault, **fault)
        await call(sandbox.inject, message(range(50, 120)))  # queued while disconnected

    stream = make_stream(sandbox, delay=0.2)
    sink, result = drive(stream, TailOptions(count=120, timeout=10, dedup_window=0), script)
    assert isinstance(result, TailRun), result
    assert [e.id for e in sink.events] == [f"u{i}" for i in range(120)]
    assert stream.stats.reconnects == 1 and stream.stats.connections == 2
    assert sandbox.key_state()["channel"] == "websocket"  # never deleted to reconnect


def test_dead_connection_noticed_by_keepalive(sandbox: SandboxThread) -> None:
    async def script(stream: PelionStream, sink: ListSink) -> None:
        await until(lambda: stream.stats.state == "connected")
        await call(sandbox.inject, message(range(5)))
        await until(lambda: len(sink.events) >= 5)
        await call(sandbox.fault, action="stall")
        await call(sandbox.inject, message(range(5, 10)))

    stream = make_stream(sandbox, ping_interval=0.1, ping_timeout=0.2)
    sink, result = drive(stream, TailOptions(count=10, timeout=10, dedup_window=0), script)
    assert isinstance(result, TailRun), result
    assert [e.id for e in sink.events] == [f"u{i}" for i in range(10)]
    assert stream.stats.reconnects >= 1


def test_backoff_resets_after_a_healthy_connection(sandbox: SandboxThread) -> None:
    started: list[int] = []

    def delays() -> Iterator[float]:
        started.append(1)
        return itertools.repeat(0.02)

    async def script(stream: PelionStream, sink: ListSink) -> None:
        for round_ in range(3):
            await until(lambda r=round_: stream.stats.connections == r + 1)
            await call(sandbox.inject, message(range(round_ * 10, round_ * 10 + 10)))
            await until(lambda r=round_: len(sink.events) >= (r + 1) * 10)
            if round_ < 2:
                await call(sandbox.fault, action="close", code=1012)

    stream = make_stream(sandbox, reconnect_delays=delays)
    _sink, result = drive(stream, TailOptions(count=30, timeout=10), script)
    assert isinstance(result, TailRun), result
    assert len(started) == 3  # the first run, then a fresh back-off after each healthy one


@pytest.mark.parametrize(("code", "error", "text"), [
    (1008, AuthError, "refused the API key"),
    (1001, NotFoundError, "took this channel over"),
    (1000, NotFoundError, "deleted"),
])
def test_fatal_close_codes(sandbox: SandboxThread, code: int, error: type, text: str) -> None:
    async def script(stream: PelionStream, sink: ListSink) -> None:
        await until(lambda: stream.stats.state == "connected")
        await call(sandbox.fault, action="close", code=code)

    stream = make_stream(sandbox)
    _, result = drive(stream, TailOptions(timeout=10), script)
    assert isinstance(result, error) and text in str(result)
    assert stream.stats.reconnects == 0


def test_real_takeover_and_deletion(sandbox: SandboxThread) -> None:
    """The sandbox's own 1001 (a second socket) and 1000 (REST delete) end the tail."""
    from websockets.asyncio.client import connect

    async def takeover(stream: PelionStream, sink: ListSink) -> None:
        await until(lambda: stream.stats.state == "connected")
        url = websocket_url(sandbox.url)
        async with connect(url, subprotocols=["wss", f"pelion_{sandbox.api_key}"]):  # type: ignore[list-item]
            await asyncio.sleep(0.3)

    _, result = drive(make_stream(sandbox), TailOptions(timeout=10), takeover)
    assert isinstance(result, NotFoundError) and "1001" in str(result)

    async def delete(stream: PelionStream, sink: ListSink) -> None:
        await until(lambda: stream.stats.state == "connected")
        with PelionApi(sandbox.url, sandbox.api_key) as api:
            await call(api.delete_websocket_channel)

    _, result = drive(make_stream(sandbox), TailOptions(timeout=10), delete)
    assert isinstance(result, NotFoundError) and "1000" in str(result)


def test_1011_twice_is_not_found(sandbox: SandboxThread) -> None:
    # The PUT claims the channel exists but the server has none: 1011, PUT again, 1011 -> give up.
    sandbox.fault(action="http_status", path="/v2/notification/websocket", method="PUT",
                  status=200, times=2, body="{}")

    async def nothing(stream: PelionStream, sink: ListSink) -> None:
        pass

    stream = make_stream(sandbox)
    _, result = drive(stream, TailOptions(timeout=10), nothing)
    assert isinstance(result, NotFoundError) and "1011" in str(result)
    assert stream.stats.connections == 2


def test_unreachable_gives_up_after_retry_for() -> None:
    messages: list[str] = []
    stream = PelionStream("http://127.0.0.1:9", "ak_x", NetOptions(timeout=1, retry_base=0.01),
                          retry_for=0.3, reconnect_delays=lambda: itertools.repeat(0.05),
                          on_state=messages.append)

    async def nothing(stream: PelionStream, sink: ListSink) -> None:
        pass

    started = time.monotonic()
    _, result = drive(stream, TailOptions(timeout=10), nothing)
    assert isinstance(result, NetworkError) and "gave up" in str(result)
    assert time.monotonic() - started < 3
    assert any("retrying in" in m for m in messages)


# -- filters, de-duplication, counters ---------------------------------------------------------
def test_filters_and_dedup(sandbox: SandboxThread) -> None:
    sandbox.inject({"notifications": [note(1, ep="dev-a1", path="/3/0/1"),
                                      note(2, ep="dev-b1", path="/3/0/1"),
                                      note(3, ep="dev-a2", path="/5/0/0")],
                    "de-registrations": ["dev-a1"]})
    sandbox.inject({"notifications": [note(1, ep="dev-a1", path="/3/0/1"),  # a duplicate uid
                                      note(4, ep="dev-a3", path="/3/0/9")]})

    async def nothing(stream: PelionStream, sink: ListSink) -> None:
        pass

    options = TailOptions(count=2, timeout=10,
                          filters=Filters(devices=["dev-a*"], paths=["/3/*"],
                                          kinds=["notification"]))
    sink, result = drive(make_stream(sandbox), options, nothing)
    assert isinstance(result, TailRun), result
    assert [e.id for e in sink.events] == ["u1", "u4"]
    assert result.duplicates == 1 and result.filtered == 3


def test_filter_and_dedup_units() -> None:
    keep = Filters(devices=["a*", "b?"], paths=[], kinds=[]).predicate()
    assert keep is not None
    assert keep(Event("pelion", "notification", device="abc"))
    assert keep(Event("pelion", "notification", device="bx"))
    assert not keep(Event("pelion", "notification", device="bxy"))
    assert not keep(Event("pelion", "notification", device=None))
    assert Filters().predicate() is None
    def frame(*ids: str | None) -> list[Event]:
        return [Event("pelion", "notification", id=i) for i in ids]

    dedup = Dedup(window=3)
    assert [e.id for e in dedup.filter(frame("1", "2", "1", None))] == ["1", "2", None]
    assert [e.id for e in dedup.filter(frame("3", "4"))] == ["3", "4"]
    assert [e.id for e in dedup.filter(frame("5", "6"))] == ["5", "6"]
    # At least the 3 newest ids are remembered; "1" and "2" fell out of the window.
    assert [e.id for e in dedup.filter(frame("1", "4", "6"))] == ["1"]
    assert dedup.dropped == 3
    assert dedup.filter(frame(None, None)) == frame(None, None)


def test_backoff_delays_shape() -> None:
    delays = list(itertools.islice(backoff_delays(), 12))
    assert 0.5 <= delays[0] <= 1.0  # first retry within a second
    assert all(15 <= d <= 30 for d in delays[6:])  # capped at 30 s
    assert all(d / 2 <= 30 for d in delays)


# -- the command -------------------------------------------------------------------------------
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
    short = cli("tail", *args(keyed), "--count", "10", "--timeout", "0.5")
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
        deadline = time.monotonic() + 15
        while not sandbox.key_state().get("connected"):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
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
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env(),
    )
    try:
        assert proc.stdout is not None
        first = [json.loads(proc.stdout.readline()) for _ in range(10)]
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert {e["provider"] for e in first} == {"pelion"}
    assert b"Traceback" not in err and b"Task was destroyed" not in err
    captured = sum(len(v) for _, d in read_capture(capture)
                   for v in json.loads(d.body or "").values())
    assert captured == 10 + len(rest.splitlines())


def test_handshake_429_honours_retry_after(sandbox: SandboxThread) -> None:
    sandbox.fault(action="http_status", path="/v2/notification/websocket-connect", status=429,
                  retry_after=0.3, times=1)
    sandbox.inject(message(range(1)))

    async def nothing(stream: PelionStream, sink: ListSink) -> None:
        pass

    # The back-off alone would wait 5 s: finishing in time means Retry-After was used.
    stream = make_stream(sandbox, delay=5.0)
    started = time.monotonic()
    sink, result = drive(stream, TailOptions(count=1, timeout=4), nothing)
    assert isinstance(result, TailRun), result
    assert 0.3 <= time.monotonic() - started < 3
    assert [e.id for e in sink.events] == ["u0"]
