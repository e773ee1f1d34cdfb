"""``tail`` for Iottly and Circle against the real sandbox, run as a subprocess: Iottly
subscribes, reconnects after a 1001 restart and subscribes again, never showing the API key
that rides in its URL; Circle asks for a fresh one-time URL after a drop. Also: Iottly's
register/list/unregister exit 2 and point at the dashboard and ``iottly check-webhooks``."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
from waiting import Lines, wait_for

from conftest import subprocess_env

IOTTLY_KEY = "iot-key-0f9e8d7c6b5a"
CIRCLE_TOKEN = "circle-token-77aa88bb"


def post(sandbox: Any, path: str, body: Any) -> None:
    response = httpx.post(sandbox.url + path, json=body, timeout=10)
    assert response.status_code == 200, response.text


def start_tail(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "notifyctl", *args, "-o", "jsonl",
                             "--timeout", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=subprocess_env())


def finish(proc: subprocess.Popen[str], out: Lines) -> tuple[list[dict[str, Any]], str]:
    """The printed events and stderr once the tail has ended (``out`` collects stdout)."""
    try:
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    assert proc.returncode == 0, stderr
    return [json.loads(line) for line in out.finish()], stderr


@pytest.fixture
def iot(cli: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", IOTTLY_KEY)
    added = cli("profile", "add", "iot", "--provider", "iottly", "--api-url",
                f"{sandbox.url}/v1.0")
    assert added.exit_code == 0, added.stderr
    return "iot"


def test_iottly_tail_resubscribes_after_a_1001_restart(sandbox: Any, iot: str) -> None:
    def iottly() -> dict[str, Any]:
        state: dict[str, Any] = sandbox.state()["iottly"]
        return state

    proc = start_tail("-p", iot, "tail", "--device", "dev-1", "--stream", "temp",
                      "--count", "2")
    out = Lines(proc.stdout)
    wait_for(lambda: iottly()["subscriptions"] == 1, what="the tail's subscription")
    post(sandbox, "/_sandbox/iottly/events", [
        {"device": "dev-1", "stream": "hum", "value": 40},  # not subscribed: not sent
        {"device": "dev-1", "stream": "temp", "value": 21.5}])
    out.wait(1, what="the first event printed before the restart")
    post(sandbox, "/_sandbox/faults", {"action": "close", "code": 1001, "provider": "iottly"})
    wait_for(lambda: iottly()["connections"] == 2 and iottly()["subscriptions"] == 1,
             what="the tail to reconnect and subscribe again")
    post(sandbox, "/_sandbox/iottly/events", {"device": "dev-1", "stream": "temp", "value": 22})
    events, stderr = finish(proc, out)
    assert [(e["kind"], e["device"], e["stream"], e["value"]) for e in events] == [
        ("telemetry", "dev-1", "temp", 21.5), ("telemetry", "dev-1", "temp", 22)]
    assert "reconnecting in 1 s" in stderr
    assert IOTTLY_KEY not in stderr and IOTTLY_KEY not in json.dumps(events)
    wait_for(lambda: iottly()["open"] == 0, what="the socket closed")  # a normal close


def test_iottly_tail_needs_device_ids(cli: Any, iot: str) -> None:
    missing = cli("-p", iot, "tail", "-o", "jsonl", "--count", "1")
    assert missing.exit_code == 2 and "--device" in missing.stderr
    glob = cli("-p", iot, "tail", "-o", "jsonl", "--device", "dev-*")
    assert glob.exit_code == 2 and "not globs" in glob.stderr
    kind = cli("-p", iot, "tail", "-o", "jsonl", "--device", "dev-1", "--kind", "notification")
    assert kind.exit_code == 2 and "telemetry" in kind.stderr


@pytest.mark.parametrize("command", [("register", "https://example.com/hook"),
                                     ("unregister",), ("list",)])
def test_iottly_webhooks_are_managed_in_the_dashboard(cli: Any, iot: str,
                                                      command: tuple[str, ...]) -> None:
    result = cli("-p", iot, *command)
    assert result.exit_code == 2
    assert "dashboard" in result.stderr and "iottly check-webhooks" in result.stderr


def test_circle_tail_asks_for_a_new_url_after_a_drop(cli: Any, sandbox: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", "circle-api-key")
    monkeypatch.setenv("NOTIFYCTL_ACCESS_TOKEN", CIRCLE_TOKEN)
    assert cli("profile", "add", "circ", "--provider", "circle", "--api-url",
               sandbox.url).exit_code == 0

    def circle() -> dict[str, Any]:
        state: dict[str, Any] = sandbox.state()["circle"]
        return state

    proc = start_tail("-p", "circ", "tail", "--kind", "activity_created", "--count", "2")
    out = Lines(proc.stdout)
    wait_for(lambda: circle()["sockets"] == 1, what="the tail's socket")
    post(sandbox, "/_sandbox/circle/events",
         {"eventType": "activity_created", "eventData": {"accessoryId": "a", "activityId": "1"}})
    out.wait(1, what="the first event printed before the drop")
    post(sandbox, "/_sandbox/faults", {"action": "close", "code": 1001, "provider": "circle"})
    wait_for(lambda: circle()["sockets"] == 0, what="the socket closed")
    wait_for(lambda: circle()["sockets"] == 1, what="the tail to connect again")
    post(sandbox, "/_sandbox/circle/events", [
        {"eventType": "activity_updated", "eventData": {"accessoryId": "a", "activityId": "1"}},
        {"eventType": "activity_created", "eventData": {"accessoryId": "a", "activityId": "2"}}])
    events, stderr = finish(proc, out)
    assert [(e["kind"], e["id"]) for e in events] == [("activity_created", "1"),
                                                      ("activity_created", "2")]
    assert circle()["refused_handshakes"] == []  # no URL reused, no Authorization sent there
    assert CIRCLE_TOKEN not in stderr
    bad = cli("-p", "circ", "tail", "-o", "jsonl", "--kind", "activity_made")
    assert bad.exit_code == 2 and "activity_created" in bad.stderr


def test_iottly_exec_on_the_sandbox_exits_with_the_device_code(cli: Any, iot: str) -> None:
    echoed = cli("-p", iot, "iottly", "exec", "dev-1", "echo", "hello")
    assert echoed.exit_code == 0 and echoed.stdout.strip() == "hello", echoed.stderr
    assert cli("-p", iot, "iottly", "exec", "dev-1", "exit", "3").exit_code == 3
    failed = cli("-p", iot, "iottly", "exec", "dev-1", "stderr", "boom")
    assert failed.exit_code == 1 and "boom" in failed.stderr
    assert IOTTLY_KEY not in echoed.stderr + failed.stderr


@pytest.mark.parametrize("args", [["--provider", "circle"],
                                  ["--provider", "iottly", "--device", "dev-1"]],
                         ids=["circle", "iottly"])
def test_sandbox_tails_the_chosen_platform(cli: Any, args: list[str]) -> None:
    """``tail --sandbox --provider X`` opens X's stream against the embedded sandbox."""
    result = cli("tail", "--sandbox", *args, "--count", "2", "-o", "jsonl", "--timeout", "20")
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 2 and {event["provider"] for event in events} == {args[1]}
