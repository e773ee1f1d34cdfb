"""``--where`` on tail, listen and replay, and replay's ``--pick``, ``--dry-run`` and ``--speed``
checks, against real servers on 127.0.0.1 (the sandbox, listen itself, a recording receiver)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from pelion_events import note
from recorder import Recorder
from sandbox import SandboxThread
from waiting import wait_for

from conftest import subprocess_env
from notifyctl.errors import UsageError
from notifyctl.events import CaptureWriter, Delivery, Event, read_capture
from notifyctl.where import compile_where

STARTS = '.kind == "notification" and (.device | startswith("dev-a"))'


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


# -- the expression --------------------------------------------------------------------------
def test_where_matches_the_event_line_and_a_failing_expression_does_not_match() -> None:
    matches = compile_where(STARTS)
    assert matches(Event(provider="p", kind="notification", device="dev-a1"))
    assert not matches(Event(provider="p", kind="notification", device="dev-b1"))
    assert not matches(Event(provider="p", kind="registration", device="dev-a1"))
    # startswith on a missing device is a jq error for that event: it does not match
    assert not matches(Event(provider="p", kind="notification"))
    assert compile_where(".payload")(Event(provider="p", kind="k", payload={"t": 1}))
    assert not compile_where("empty")(Event(provider="p", kind="k"))


def test_bad_expression_is_one_usage_error_with_jq_message_and_the_expression() -> None:
    with pytest.raises(UsageError) as caught:
        compile_where(".kind ==")
    assert caught.value.message.startswith("--where '.kind ==': syntax error")
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("command", [["tail", "--provider", "pelion"],
                                     ["listen", "--provider", "iottly"],
                                     ["replay", "--fixture", "iottly/telemetry", "--to",
                                      "http://127.0.0.1:9/"]])
def test_bad_expression_exit_2_on_every_command(cli, command: list[str]) -> None:
    result = cli(*command, "--where", ".device | startswith(")
    assert result.exit_code == 2, result.stderr
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith("error: --where '.device | startswith(':"), result.stderr
    assert "Traceback" not in result.stderr


# -- tail ------------------------------------------------------------------------------------
def test_tail_where_prints_matching_events_and_captures_every_frame(
        cli, sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", sandbox.api_key)
    sandbox.inject({"notifications": [note(1, ep="dev-a1"), note(2, ep="dev-b1")]})
    sandbox.inject({"notifications": [note(3, ep="dev-a2")],
                    "registrations": [{"ep": "dev-a9", "ept": "x", "q": False, "resources": []}]})
    capture = tmp_path / "cap.jsonl"
    result = cli("tail", "--provider", "pelion", "--api-url", sandbox.url, "-o", "jsonl",
                 "--where", STARTS, "--count", "2", "--save", str(capture))
    assert result.exit_code == 0, result.stderr
    assert [(e["device"], e["payload"]) for e in lines(result.stdout)] == [
        ("dev-a1", "v1"), ("dev-a2", "v3")]
    frames = [json.loads(d.body or "") for _, d in read_capture(capture)]
    assert [n["ep"] for f in frames for n in f.get("notifications", [])] == [
        "dev-a1", "dev-b1", "dev-a2"]


# -- listen ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_listen_where_shows_matching_events_and_captures_every_request(
        cli, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/in"

    def post(device: str) -> bool:
        try:
            answer = httpx.post(url, json={"msg": {"from": device, "payload": 1}})
        except httpx.ConnectError:
            return False  # not listening yet
        return answer.status_code == 200

    def send() -> None:
        wait_for(lambda: post("d1"), interval=0.02, what=f"listen on port {port}")
        assert post("d2") and post("d3")

    sender = threading.Thread(target=send)
    sender.start()
    capture = tmp_path / "cap.jsonl"
    result = cli("listen", "--provider", "iottly", "--port", str(port), "--count", "3",
                 "-o", "jsonl", "--save", str(capture), "--where", '.device != "d2"')
    sender.join()
    assert result.exit_code == 0, result.stderr
    assert [line["device"] for line in lines(result.stdout)] == ["d1", "d3"]
    bodies = [json.loads(d.body or "") for _, d in read_capture(capture)]
    assert [body["msg"]["from"] for body in bodies] == ["d1", "d2", "d3"]


# -- replay ----------------------------------------------------------------------------------
def iottly_capture(path: Path, devices: list[str]) -> Path:
    with CaptureWriter(path) as writer:
        for device in devices:
            body = json.dumps({"msg": {"from": device, "payload": {"t": 1}}}).encode()
            writer.write(Delivery.capture("iottly", "callback", body, method="POST",
                                          path="/in", headers={"Content-Type":
                                                               "application/json"}))
    return path


def test_replay_where_keeps_matching_deliveries_byte_for_byte(cli, tmp_path: Path) -> None:
    capture = iottly_capture(tmp_path / "cap.jsonl", ["d1", "d2", "d3", "d2"])
    wanted = [d.body_bytes() for _, d in read_capture(capture)]
    with Recorder() as rec:
        result = cli("replay", str(capture), "--to", rec.url + "/hook",
                     "--where", '.device == "d2"')
        assert result.exit_code == 0, result.stderr
        assert [seen.body for seen in rec.wait(2)] == [wanted[1], wanted[3]]
        assert len(rec.requests) == 2


def test_replay_where_keeping_nothing_says_so(cli, tmp_path: Path) -> None:
    capture = iottly_capture(tmp_path / "cap.jsonl", ["d1"])
    with Recorder() as rec:
        result = cli("replay", str(capture), "--to", rec.url, "--where", '.device == "zz"')
        assert result.exit_code == 2
        assert "--where kept none" in result.stderr
        assert rec.requests == []


def test_replay_pick_sends_those_lines(cli, tmp_path: Path) -> None:
    capture = iottly_capture(tmp_path / "cap.jsonl", [f"d{n}" for n in range(1, 11)])
    with Recorder() as rec:
        result = cli("replay", str(capture), "--to", rec.url + "/hook", "--pick", "3,7-9")
        assert result.exit_code == 0, result.stderr
        got = [json.loads(seen.body)["msg"]["from"] for seen in rec.wait(4)]
        assert got == ["d3", "d7", "d8", "d9"] and len(rec.requests) == 4


@pytest.mark.parametrize(("spec", "says"), [("11", "line 11 is outside"),
                                            ("2-1", "not a range"), ("0", "not a range"),
                                            ("x", "not a line number")])
def test_replay_bad_pick_exit_2_naming_the_option(cli, tmp_path: Path, spec: str,
                                                  says: str) -> None:
    capture = iottly_capture(tmp_path / "cap.jsonl", [f"d{n}" for n in range(1, 11)])
    with Recorder() as rec:
        result = cli("replay", str(capture), "--to", rec.url, "--pick", spec)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"error: --pick {spec}") or \
            result.stderr.startswith(f"error: --pick '{spec}'"), result.stderr
        assert says in result.stderr
        assert rec.requests == []


def test_replay_dry_run_prints_deliveries_and_sends_nothing(cli, tmp_path: Path) -> None:
    capture = iottly_capture(tmp_path / "cap.jsonl", ["d1", "d2", "d3"])
    with Recorder() as rec:
        result = cli("replay", str(capture), "--to", rec.url + "/hook?api_key=SECRET",
                     "--pick", "2-3", "--dry-run", "-H", "Authorization: Bearer SECRET")
        assert result.exit_code == 0, result.stderr
        planned = lines(result.stdout)
        assert [(p["method"], p["events"], p["where"]) for p in planned] == [
            ("POST", 1, f"{capture}:2"), ("POST", 1, f"{capture}:3")]
        assert planned[0]["url"] == rec.url + "/hook?api_key=***"
        assert planned[0]["headers"]["Authorization"] == "Bearer ***"
        assert planned[0]["body_bytes"] == len(next(read_capture(capture))[1].body_bytes())
        assert "SECRET" not in result.stdout + result.stderr
        none = cli("replay", str(capture), "--to", rec.url, "--dry-run", "--where", "false")
        assert (none.exit_code, none.stdout) == (0, "")
        assert "--where kept none" in none.stderr
        assert rec.requests == []


def test_replay_speed_0_exit_2_naming_the_option(cli) -> None:
    result = cli("replay", "--fixture", "iottly/telemetry", "--to", "http://127.0.0.1:9/",
                 "--speed", "0")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --speed 0")


# -- replay --loop ---------------------------------------------------------------------------
def test_replay_loop_n_passes_counted_per_pass(cli, tmp_path: Path) -> None:
    capture = iottly_capture(tmp_path / "cap.jsonl", ["d1", "d2"])
    with Recorder() as rec:
        result = cli("replay", str(capture), "--to", rec.url + "/hook", "--loop", "3",
                     "-o", "json")
        assert result.exit_code == 0, result.stderr
        report = result.json()
        assert [(p["deliveries"], p["accepted"]) for p in report["passes"]] == [(2, 2)] * 3
        assert report["deliveries"] == 6 and len(rec.wait(6)) == 6
        assert [json.loads(seen.body)["msg"]["from"] for seen in rec.requests] == [
            "d1", "d2"] * 3


def test_replay_loop_minus_one_exit_2_naming_the_option(cli) -> None:
    result = cli("replay", "--fixture", "iottly/telemetry", "--to", "http://127.0.0.1:9/",
                 "--loop", "-1")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --loop -1")


def test_replay_loop_0_runs_until_interrupted(tmp_path: Path) -> None:
    capture = iottly_capture(tmp_path / "cap.jsonl", ["d1", "d2"])
    report_file = tmp_path / "report.json"
    with Recorder() as rec:
        proc = subprocess.Popen(
            [sys.executable, "-m", "notifyctl", "replay", str(capture), "--to",
             rec.url + "/hook", "--loop", "0", "--report", str(report_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=subprocess_env())
        try:
            wait_for(lambda: len(rec.requests) >= 7, what="a fourth pass")
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    report = json.loads(report_file.read_text())
    assert len(report["passes"]) >= 4
    assert sum(p["deliveries"] for p in report["passes"]) == report["deliveries"]


def test_replay_where_decodes_signed_captures_without_their_key(cli) -> None:
    # The generic receiver needs a key to verify; selecting needs only the events, and the
    # fixture's signatures (long expired) are sent as captured.
    with Recorder() as rec:
        result = cli("replay", "--fixture", "generic/standard-webhooks", "--to",
                     rec.url + "/hook", "--where", '.id == "msg_2f9a7c1e1"')
        assert result.exit_code == 0, result.stderr
        (seen,) = rec.wait(1)
        assert seen.headers["webhook-id"] == "msg_2f9a7c1e1" and len(rec.requests) == 1
