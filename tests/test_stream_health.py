"""The rest of issue 14, against the real sandbox: the age warning with the platform's retention
fact, reconnects and time disconnected, ``--max-reconnects`` (exit 5 with the summary),
``--log-format json`` on stderr, ``--metrics`` scraped over HTTP and parsed with
``prometheus_client``'s own parser (exact counts after a scripted run), the Pelion
``duplicate`` fault, and the live status lines showing duplicates and gaps.
"""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from waiting import Lines, wait_for

from conftest import subprocess_env
from notifyctl.accounting import Accounting
from notifyctl.contract import Numbering
from notifyctl.events import Event, StreamStats
from notifyctl.listen.view import Seen, TableSink
from notifyctl.tail import TailRun
from notifyctl.tail_view import LiveTable
from support.sandbox import SandboxThread

DT = "5a1b2c3d4e5f"
QUIET = pytest.mark.parametrize("sandbox", [{"rate": 0}], indirect=True)


def note(n: int, **extra: Any) -> dict[str, Any]:
    return {"ep": f"dev-{n % 3}", "path": "/3303/0/5700", "ct": "text/plain",
            "payload": "MjEuNQ==", **extra}


def uid_channel(sandbox: SandboxThread) -> None:
    """The key's WebSocket channel, made with include_uid before tail finds it there."""
    made = httpx.put(f"{sandbox.url}/v2/notification/websocket", timeout=10,
                     headers={"Authorization": f"Bearer {sandbox.api_key}"},
                     json={"serialization": {"cfg": {"include_uid": True}}})
    assert made.status_code == 201, made.text


def start(*args: str, **env: str) -> tuple[subprocess.Popen[str], Lines, Lines]:
    proc = subprocess.Popen([sys.executable, "-m", "notifyctl", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=subprocess_env(**env))
    return proc, Lines(proc.stdout), Lines(proc.stderr)


def records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def metrics_url(err: Lines) -> str:
    def url() -> str | None:
        for line in err.lines:
            record = json.loads(line)
            if record["event"] == "metrics":
                return str(record["url"])
        return None

    return wait_for(url, what="the metrics URL on stderr")


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` by (name, sorted labels), parsed by prometheus_client."""
    text = httpx.get(url, timeout=10).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


# -- the Pelion duplicate fault -------------------------------------------------------------
@QUIET
def test_the_pelion_duplicate_fault_is_counted_exactly(cli: Any, sandbox: SandboxThread,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", sandbox.api_key)
    uid_channel(sandbox)
    assert sandbox.fault(action="duplicate", provider="pelion", count=3,
                         api_key=sandbox.api_key) == {"affected": 1}
    sandbox.inject({"notifications": [note(n) for n in range(10)]})
    summary = tmp_path / "summary.json"
    got = cli("tail", "--provider", "pelion", "--api-url", sandbox.url, "-o", "jsonl",
              "--count", "10", "--summary", str(summary))
    assert got.exit_code == 0, got.stderr
    ids = [json.loads(line)["id"] for line in got.stdout.splitlines()]
    assert len(ids) == len(set(ids)) == 10  # the copies were dropped
    doc = json.loads(summary.read_text())
    assert (doc["received"], doc["duplicates"]) == (10, 3)
    assert "duplicates 3" in got.stderr


def test_a_bad_duplicate_fault_is_refused(sandbox: SandboxThread) -> None:
    answer = httpx.post(f"{sandbox.url}/_sandbox/faults", timeout=10, json={
        "action": "duplicate", "provider": "pelion", "count": -1})
    assert answer.status_code == 400 and "'count' must be a count" in answer.text


# -- the age warning ------------------------------------------------------------------------
@QUIET
def test_an_old_newest_event_warns_once_with_the_platforms_retention(
        cli: Any, sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", sandbox.api_key)
    three_hours_ago = int((time.time() - 3 * 3600) * 1000)
    sandbox.inject({"notifications": [note(n, timestamp=three_hours_ago) for n in range(2)]})
    sandbox.inject({"notifications": [note(3, timestamp=three_hours_ago)]})
    got = cli("tail", "--provider", "pelion", "--api-url", sandbox.url, "-o", "jsonl",
              "--count", "3", "--warn-age", "60")
    assert got.exit_code == 0, got.stderr
    warnings = [line for line in got.stderr.splitlines() if "behind" in line]
    assert warnings == ["warning: the channel is 3 h behind (its newest event is older than "
                        "--warn-age 60 min); pelion drops events after 24 h and queues at "
                        "most 50 MB per key"]
    quiet = cli("tail", "--provider", "pelion", "--api-url", sandbox.url, "-o", "jsonl",
                "--timeout", "0.5", "--warn-age", "0")
    assert "behind" not in quiet.stderr and quiet.exit_code == 0


def test_a_negative_warn_age_is_exit_2(cli: Any) -> None:
    got = cli("listen", "--provider", "sigfox", "--warn-age", "-1")
    assert got.exit_code == 2 and "--warn-age -1" in got.stderr


# -- --max-reconnects -----------------------------------------------------------------------
def test_max_reconnects_exits_5_with_the_summary(cli: Any, sandbox: SandboxThread,
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", sandbox.api_key)
    sandbox.fault(action="http_status", path="/v2/notification/websocket-connect", status=503,
                  times=-1)
    summary = tmp_path / "summary.json"
    got = cli("tail", "--provider", "pelion", "--api-url", sandbox.url, "-o", "jsonl",
              "--max-reconnects", "2", "--summary", str(summary))
    assert got.exit_code == 5, got.stderr
    assert "gave up after 2 reconnects in a row without a healthy connection " \
           "(--max-reconnects 2)" in got.stderr
    assert json.loads(summary.read_text())["reconnects"] == 2


# -- --log-format json ----------------------------------------------------------------------
def test_every_stderr_line_is_json_and_stdout_stays_data(run: Any) -> None:
    got = run("--log-format", "json", "tail", "--sandbox", "--rate", "200", "-o", "jsonl",
              "--count", "20")
    assert got.exit_code == 0, got.stderr
    logged = records(got.stderr.splitlines())
    assert all({"level", "event", "message"} <= set(record) for record in logged)
    assert [r["state"] for r in logged if r["event"] == "state"][-1] == "connected"
    [summary] = [r for r in logged if r["event"] == "summary"]
    assert summary["summary"]["received"] == 20 and summary["message"].startswith("tail: 20")
    assert all(json.loads(line)["provider"] for line in got.stdout.splitlines())
    bad = run("--log-format", "json", "tail", "--count", "0")
    assert bad.exit_code == 2
    [error] = records(bad.stderr.splitlines())
    assert (error["level"], error["event"], error["exit_code"]) == ("error", "error", 2)
    assert "--count 0" in error["message"]


def test_an_unknown_log_format_is_exit_2(run: Any) -> None:
    got = run("--log-format", "xml", "list")
    assert got.exit_code == 2 and "--log-format 'xml': choose text or json" in got.stderr


# -- --metrics ------------------------------------------------------------------------------
@QUIET
def test_tail_metrics_count_exactly_what_a_scripted_run_did(sandbox: SandboxThread,
                                                            tmp_path: Path) -> None:
    uid_channel(sandbox)
    sandbox.fault(action="duplicate", provider="pelion", count=2, api_key=sandbox.api_key)
    sandbox.inject({"notifications": [note(n) for n in range(5)]})
    summary = tmp_path / "summary.json"
    proc, out, err = start("--log-format", "json", "tail", "--provider", "pelion", "--api-url",
                           sandbox.url, "-o", "jsonl", "--metrics", "127.0.0.1:0",
                           "--summary", str(summary), NOTIFYCTL_API_KEY=sandbox.api_key)
    try:
        url = metrics_url(err)
        out.wait(5, what="the first five events")
        sandbox.fault(action="close", provider="pelion", code=1012)  # a restart: reconnect
        wait_for(lambda: sandbox.key_state().get("connections") == 2
                 and sandbox.key_state().get("connected"), what="the reconnect")
        sandbox.inject({"notifications": [note(n, ep="dev-9") for n in range(3)]})
        out.wait(8, what="every event")
        samples = scrape(url)
    finally:
        stop(proc)
    assert proc.returncode == 143, err.finish()
    logged = records(err.finish())
    assert [r["event"] for r in logged][-2:] == ["summary", "stopped"]
    assert logged[-1]["exit_code"] == 143 and logged[-2]["summary"]["reconnects"] == 1
    pelion = (("provider", "pelion"),)
    assert samples[("notifyctl_events_total", (("kind", "notification"), *pelion))] == 8
    assert samples[("notifyctl_duplicates_total", pelion)] == 2
    assert samples[("notifyctl_reconnects_total", pelion)] == 1
    assert samples[("notifyctl_connected", pelion)] == 1
    assert samples[("notifyctl_disconnected_seconds_total", pelion)] > 0
    assert 0 <= samples[("notifyctl_newest_event_age_seconds", pelion)] < 3600
    assert ("notifyctl_gaps_total", pelion) not in samples  # Pelion does not number events
    doc = json.loads(summary.read_text())
    assert (doc["reconnects"], doc["duplicates"]) == (1, 2)
    assert doc["disconnected_seconds"] > 0


def uplinks(sandbox: SandboxThread, numbers: range) -> None:
    messages = [{"device": "CAFE", "time": int(time.time()), "data": f"{n:016x}",
                 "seqNumber": n, "deviceTypeId": DT} for n in numbers]
    response = httpx.post(f"{sandbox.url}/_sandbox/sigfox/events", json=messages, timeout=10)
    assert response.status_code == 200, response.text


def test_listen_metrics_count_gaps_duplicates_answers_and_handling_time(
        cli: Any, sandbox: SandboxThread, sfx: str) -> None:
    proc, out, err = start("--log-format", "json", "listen", "--provider", "sigfox", "-o",
                           "jsonl", "--metrics", "127.0.0.1:0")
    try:
        url = metrics_url(err)
        listening = wait_for(lambda: [r for r in records(err.lines)
                                      if r["event"] == "listening"], what="listen's URL")
        made = cli("-p", sfx, "register", listening[0]["url"] + "sf", "--device-type", DT)
        assert made.exit_code == 0, made.stderr
        uplinks(sandbox, range(1, 3))
        out.wait(2, what="the two messages before the fault")
        httpx.post(f"{sandbox.url}/_sandbox/faults", timeout=10, json={
            "action": "sequence", "provider": "sigfox", "device": "CAFE", "lose": 3,
            "duplicate": 2}).raise_for_status()
        uplinks(sandbox, range(3, 13))  # 3-5 lost, 6 and 7 twice
        out.wait(11, what="every delivered message")
        samples = scrape(url)
    finally:
        stop(proc)
    sigfox = (("provider", "sigfox"),)
    assert samples[("notifyctl_events_total", (("kind", "uplink"), *sigfox))] == 11
    assert samples[("notifyctl_duplicates_total", sigfox)] == 2
    assert samples[("notifyctl_gaps_total", sigfox)] == 1
    assert samples[("notifyctl_missing_messages", sigfox)] == 3
    assert samples[("notifyctl_listen_answers_total", (*sigfox, ("status", "204")))] == 11
    assert samples[("notifyctl_listen_handling_seconds_count", sigfox)] == 11
    assert ("notifyctl_reconnects_total", sigfox) not in samples  # a receiver has none


def test_sandbox_metrics_count_what_it_generated() -> None:
    proc, _out, err = start("--log-format", "json", "sandbox", "--rate", "0", "--metrics",
                            "127.0.0.1:0")
    try:
        samples = scrape(metrics_url(err))
    finally:
        stop(proc)
    assert samples[("notifyctl_sandbox_generated_events_total", ())] == 0
    assert samples[("notifyctl_sandbox_http_faults", ())] == 0


@pytest.mark.parametrize("command", [
    ["tail", "--sandbox"], ["listen", "--provider", "sigfox"], ["sandbox"]])
def test_a_metrics_address_in_use_is_exit_2_naming_it(run: Any, command: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        got = run(*command, "--metrics", address)
    assert got.exit_code == 2, got.stderr
    assert f"--metrics {address}: cannot listen on {address}" in got.stderr


def test_a_bad_metrics_address_is_exit_2(run: Any) -> None:
    got = run("tail", "--sandbox", "--metrics", "localhost:http")
    assert got.exit_code == 2 and "--metrics 'localhost:http': expected HOST:PORT" in got.stderr


# -- the live status lines ------------------------------------------------------------------
def sigfox_accounting() -> Accounting:
    accounting = Accounting(unique_ids=False, numbering=Numbering("seqNumber", 4096))
    accounting.add([Event(provider="x", kind="uplink", device="CAFE", raw={"seqNumber": n})
                    for n in (1, 2, 2, 6)])
    return accounting


def test_tails_status_line_shows_duplicates_and_gaps_as_they_happen() -> None:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    view = LiveTable(console=console)
    source = type("S", (), {"stats": StreamStats(state="connected")})()
    view.start(source, TailRun(accounting=sigfox_accounting()))  # type: ignore[arg-type]
    status = view._status().plain
    view.close()
    assert "duplicates 1" in status and "gaps: 3 missing" in status


def test_listens_caption_shows_duplicates_and_gaps_as_they_happen() -> None:
    console = Console(file=io.StringIO(), width=160, height=40, color_system=None)
    sink = TableSink(console, "sigfox", sigfox_accounting())
    sink.show(Seen("sigfox", "uplink", "POST", "/sf", 204, "2026-11-23T09:00:00Z", None, None,
                   []))
    with console.capture() as captured:
        console.print(sink.render())
    sink.close()
    assert "1 duplicates · 3 missing" in captured.get()


def test_time_disconnected_counts_the_spell_still_running() -> None:
    stats = StreamStats()
    stats.came_up()
    assert stats.disconnected_seconds() == 0
    stats.went_down()
    wait_for(lambda: stats.disconnected_seconds() > 0, what="time to pass")
    stats.came_up()
    spent = stats.disconnected_seconds()
    assert spent > 0 and stats.disconnected_seconds() == spent


@pytest.mark.parametrize("metrics", [[], ["--metrics", "127.0.0.1:0"]])
def test_prometheus_client_is_loaded_only_with_metrics(metrics: list[str]) -> None:
    script = ("import sys; from notifyctl.cli import main; "
              f"code = main(['tail', '--sandbox', '-o', 'jsonl', '--count', '3', *{metrics!r}]); "
              "print(code, 'prometheus_client' in sys.modules, file=sys.stderr)")
    got = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=subprocess_env(), timeout=120)
    assert got.stderr.splitlines()[-1] == f"0 {bool(metrics)}", got.stderr


@QUIET
def test_a_healthy_connection_restarts_the_max_reconnects_count(sandbox: SandboxThread,
                                                                tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    proc, out, err = start("tail", "--provider", "pelion", "--api-url", sandbox.url, "-o",
                           "jsonl", "--max-reconnects", "1", "--summary", str(summary),
                           NOTIFYCTL_API_KEY=sandbox.api_key)
    try:
        for connection in (1, 2, 3):
            wait_for(lambda n=connection: sandbox.key_state().get("connections") == n
                     and sandbox.key_state().get("connected"), what=f"connection {connection}")
            sandbox.inject({"notifications": [note(connection)]})
            out.wait(connection, what=f"event {connection}")  # a frame: the connection is healthy
            if connection < 3:
                sandbox.fault(action="close", provider="pelion", code=1012)
        assert proc.poll() is None, err.finish()
    finally:
        stop(proc)
    assert proc.returncode == 143, err.finish()
    assert json.loads(summary.read_text())["reconnects"] == 2
