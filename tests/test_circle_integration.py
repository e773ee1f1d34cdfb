"""Logitech Circle through the engines: ``register`` against the real sandbox via the real CLI
(a generated authKey shown once and kept in the keyring), the sandbox's signed server
notifications checked here with hmac (and by ``listen``, which reads the stored key), the
410/retry/redirect rules, and ``replay`` signing with the stored key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from recorder import Recorder
from waiting import wait_for

from conftest import subprocess_env
from notifyctl import secrets

TOKEN = "circle-token-5e6f7a8b"
API_KEY = "circle-api-key-1a2b3c4d"
SHOWN = re.compile(r"authKey \(shown once[^)]*\): (\S+)")


@pytest.fixture
def receiver() -> Any:
    with Recorder() as rec:
        yield rec


@pytest.fixture
def circ(cli: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", API_KEY)
    monkeypatch.setenv("NOTIFYCTL_ACCESS_TOKEN", TOKEN)
    added = cli("profile", "add", "circ", "--provider", "circle", "--api-url", sandbox.url)
    assert added.exit_code == 0, added.stderr
    return "circ"


def expected_signature(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def inject(sandbox: Any, event_type: str, **data: Any) -> None:
    response = httpx.post(f"{sandbox.url}/_sandbox/circle/events",
                          json={"eventType": event_type, "eventData": data}, timeout=10)
    assert response.status_code == 200, response.text


def circle_state(sandbox: Any) -> dict[str, Any]:
    state: dict[str, Any] = sandbox.state()["circle"]
    return state


def test_register_generates_a_key_shown_once_and_deliveries_are_signed(
        cli: Any, sandbox: Any, circ: str, receiver: Recorder) -> None:
    made = cli("-p", circ, "register", receiver.url + "/hook", "--event-type",
               "activity_created", "--user-data", '{"team": "a"}')
    assert made.exit_code == 0, made.stderr
    [key] = SHOWN.findall(made.stderr)
    assert made.stderr.count(key) == 1 and key not in made.stdout and len(key) >= 32
    assert secrets.lookup(circ, "auth_key").value == key
    registration = circle_state(sandbox)
    assert registration["registered"] is True

    inject(sandbox, "motion_started", accessoryId="acc-1")  # not registered: not sent
    inject(sandbox, "activity_created", accessoryId="acc-1", activityId="act-9")
    [seen] = receiver.wait(1)
    doc = json.loads(seen.body)
    assert (doc["eventType"], doc["eventData"]["activityId"], doc["userData"]) == (
        "activity_created", "act-9", {"team": "a"})
    assert seen.headers["X-Logi-Verify"] == expected_signature(key, seen.body)
    # motion_started was injected first: had it been sent, it would not arrive after this one.
    wait_for(lambda: circle_state(sandbox)["delivered"] == 1, what="the delivery to finish")
    assert len(receiver.requests) == 1 and circle_state(sandbox)["attempts"] == 1
    for result in (made,):
        assert TOKEN not in result.stdout + result.stderr
        assert API_KEY not in result.stdout + result.stderr

    gone = cli("-p", circ, "unregister")
    assert gone.exit_code == 0 and circle_state(sandbox)["registered"] is False
    assert cli("-p", circ, "unregister").exit_code == 4


def test_delivery_rules_410_retries_and_redirects(cli: Any, sandbox: Any, circ: str,
                                                  receiver: Recorder) -> None:
    receiver.answers.update({"/err": (500, b"", None), "/moved": (302, b"", None),
                             "/gone": (410, b"", None)})
    for path in ("/err", "/moved"):
        made = cli("-p", circ, "register", receiver.url + path, "--event-type",
                   "activity_created")
        assert made.exit_code == 0, made.stderr
        inject(sandbox, "activity_created", activityId=path)
        receiver.wait(3, path=path)  # the first try and two more, then dropped
    wait_for(lambda: circle_state(sandbox)["dropped"] == 2, what="two deliveries dropped")
    assert not [r for r in receiver.requests if r.path == "/elsewhere"]  # never followed
    made = cli("-p", circ, "register", receiver.url + "/gone", "--event-type",
               "activity_created")
    assert made.exit_code == 0
    inject(sandbox, "activity_created", activityId="x")
    receiver.wait(1, path="/gone")
    wait_for(lambda: circle_state(sandbox)["registered"] is False,  # 410 removes it
             what="the 410 to remove the registration")
    assert circle_state(sandbox)["gone"] == [receiver.url + "/gone"]
    inject(sandbox, "activity_created", activityId="y")
    # A new registration then gets only the next event: "y" was not sent, nor kept for later.
    assert cli("-p", circ, "register", receiver.url + "/after", "--event-type",
               "activity_created").exit_code == 0
    inject(sandbox, "activity_created", activityId="z")
    [after] = receiver.wait(1, path="/after")
    assert json.loads(after.body)["eventData"]["activityId"] == "z"
    assert len([r for r in receiver.requests if r.path == "/gone"]) == 1


def test_register_checks_its_options(cli: Any, sandbox: Any, circ: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:9/hook"
    motion = cli("-p", circ, "register", url, "--event-type", "motion_started")
    assert motion.exit_code == 2 and "--yes-motion" in motion.stderr
    unknown = cli("-p", circ, "register", url, "--event-type", "activity_made")
    assert unknown.exit_code == 2 and "activity_created" in unknown.stderr
    plain = cli("-p", circ, "register", "http://example.com/x", "--event-type",
                "activity_created")
    assert plain.exit_code == 2 and "https" in plain.stderr
    unset = cli("-p", circ, "register", url, "--event-type", "activity_created",
                "--auth-key-env", "NOPE")
    assert unset.exit_code == 2 and "NOPE" in unset.stderr
    assert circle_state(sandbox)["registered"] is False
    monkeypatch.setenv("MY_KEY", "k" * 40)
    given = cli("-p", circ, "register", url, "--event-type", "motion_started", "--yes-motion",
                "--auth-key-env", "MY_KEY")
    assert given.exit_code == 0, given.stderr
    assert "k" * 40 not in given.stderr and secrets.lookup(circ, "auth_key").value is None
    assert cli("-p", circ, "list").exit_code == 2


def read_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    assert proc.stderr is not None
    ready, _, _ = select.select([proc.stderr], [], [], timeout)
    assert ready, "no line from the child in time"
    return proc.stderr.readline()


def test_listen_and_replay_use_the_stored_key(cli: Any, sandbox: Any, circ: str,
                                              receiver: Recorder, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = cli("-p", circ, "register", receiver.url + "/x", "--event-type", "activity_created")
    [key] = SHOWN.findall(first.stderr)
    capture = tmp_path / "circle.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "notifyctl", "-p", circ, "listen", "--provider", "circle",
         "--strict", "--count", "1", "--timeout", "20", "-o", "jsonl", "--save", str(capture)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        url = read_line(proc).strip()
        assert url.startswith("http://127.0.0.1:"), url
        monkeypatch.setenv("SAME_KEY", key)  # re-register at the listener with the same key
        again = cli("-p", circ, "register", url + "/circle", "--event-type", "activity_created",
                    "--auth-key-env", "SAME_KEY")
        assert again.exit_code == 0, again.stderr
        inject(sandbox, "activity_created", accessoryId="acc-2", activityId="act-2")
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    [event] = [json.loads(line) for line in stdout.splitlines()]
    assert (event["kind"], event["device"], event["id"]) == ("activity_created", "acc-2",
                                                            "act-2")
    assert key not in stdout + stderr

    replayed = cli("-p", circ, "replay", str(capture), "--provider", "circle", "--to",
                   receiver.url + "/replayed")
    assert replayed.exit_code == 0, replayed.stderr
    [seen] = receiver.wait(1, path="/replayed")
    assert seen.headers["X-Logi-Verify"] == expected_signature(key, seen.body)
    assert key not in replayed.stdout + replayed.stderr
