"""``notifyctl trigger``: fixtures injected into the real sandbox reach a running ``tail`` (a
subprocess) and a registered callback (a recording receiver) with the chosen device; a server
that is not a sandbox is exit 2, one where nothing listens exit 5; every fixture listed can be
triggered."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from recorder import Recorder
from waiting import wait_for

from conftest import subprocess_env


@contextmanager
def tailing(*args: str, api_key: str, profile: str = "") -> Iterator[subprocess.Popen[str]]:
    chosen = ("-p", profile) if profile else ()
    proc = subprocess.Popen([sys.executable, "-m", "notifyctl", *chosen, "tail", "-o", "jsonl",
                             "--timeout", "60", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=subprocess_env(NOTIFYCTL_API_KEY=api_key))
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def running(proc: subprocess.Popen[str], ready: Any) -> Any:
    """``ready()`` once true; fails with tail's stderr if tail ended first."""
    def check() -> Any:
        if proc.poll() is not None:
            raise AssertionError(f"tail ended ({proc.returncode}): {proc.communicate()[1]}")
        return ready()

    return check


def finished(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_a_tail_sees_the_triggered_events_with_the_chosen_device(cli, sandbox) -> None:
    with tailing("--provider", "pelion", "--api-url", sandbox.url, "--count", "24",
                 api_key=sandbox.api_key) as tail:
        wait_for(running(tail, lambda: sandbox.key_state().get("connected")),
                 what="tail's channel")
        result = cli("trigger", "pelion/notifications", "--device", "0176feed", "--count",
                     "2", "--sandbox", sandbox.url)
        assert result.exit_code == 0, result.stderr
        assert "pelion/notifications: 24 event(s) queued" in result.stderr
        events = finished(tail)
    assert len(events) == 24
    assert {event["device"] for event in events} == {"0176feed"}
    assert {event["kind"] for event in events} == {"notification"}


def test_the_profile_s_api_url_finds_the_sandbox(cli, sandbox) -> None:
    added = cli("profile", "add", "iot", "--provider", "iottly", "--api-url",
                f"{sandbox.url}/v1.0")
    assert added.exit_code == 0, added.stderr
    with tailing("--device", "dev_07", "--count", "4", api_key="iot-trigger",
                 profile="iot") as tail:
        wait_for(running(tail, lambda: sandbox.state()["iottly"]["subscriptions"] >= 1),
                 what="tail's subscription")
        result = cli("-p", "iot", "trigger", "iottly/telemetry", "--device", "dev_07")
        assert result.exit_code == 0, result.stderr
        events = finished(tail)
    assert [(event["device"], event["stream"]) for event in events] == [
        ("dev_07", "telemetry")] * 4


def test_a_registered_callback_receives_the_triggered_messages(cli, sandbox,
                                                               monkeypatch) -> None:
    monkeypatch.setenv("NOTIFYCTL_USERNAME", "login")
    monkeypatch.setenv("NOTIFYCTL_PASSWORD", "sandbox")
    connection = ("--provider", "sigfox", "--api-url", f"{sandbox.url}/v2")
    with Recorder() as rec:
        made = cli("register", rec.url + "/up?dev={device}&n={seqNumber}", "--device-type",
                   "sandbox", *connection)
        assert made.exit_code == 0, made.stderr
        result = cli("trigger", "sigfox/uplinks", "--device", "beef01", "--count", "2",
                     "--sandbox", sandbox.url, "-o", "json")
        assert result.exit_code == 0, result.stderr
        assert result.json()["fixtures"] == [
            {"fixture": "sigfox/uplinks", "requests": 8, "queued": 8}]
        seen = rec.wait(8)
    # One device now, numbering on from the fixture's first message: a repeat is a new one.
    assert sorted(one.query for one in seen) == [f"dev=BEEF01&n={n}" for n in range(101, 109)]


def test_every_listed_fixture_can_be_triggered(cli, sandbox) -> None:
    listed = cli("trigger", "--list")
    assert listed.exit_code == 0, listed.stderr
    names = list(listed.json())
    assert "pelion/notifications" in names
    assert not any(name.startswith("generic/") for name in names)  # it has no emulator
    result = cli("trigger", *names, "--sandbox", sandbox.url, "-o", "json")
    assert result.exit_code == 0, result.stderr
    done = result.json()["fixtures"]
    assert [each["fixture"] for each in done] == names
    assert all(each["requests"] >= 1 and each["queued"] >= 1 for each in done), done


def test_something_that_is_not_a_sandbox_is_exit_2_naming_the_url(cli) -> None:
    with Recorder() as rec:  # a plain aiohttp server answering 200 to everything
        result = cli("trigger", "pelion/notifications", "--sandbox", rec.url)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"error: {rec.url} is not a notifyctl sandbox "
                                        "(GET /_sandbox/state answered HTTP 200")
        assert [seen.method for seen in rec.requests] == ["GET"]


def test_nothing_listening_is_a_network_error_naming_host_and_port(cli) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        result = cli("trigger", "pelion/notifications", "--sandbox", f"http://127.0.0.1:{port}")
    assert result.exit_code == 5
    assert f"cannot connect to http://127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize(("args", "says"), [
    (("pelion/async-responses", "--device", "x"), "pelion/async-responses:1: no device to set"),
    (("sigfox/uplinks", "--device", "not-hex"), "is not a Sigfox device id"),
    (("circle/account_deleted", "--device", "cam-1"), "Circle account_deleted events name no"),
    (("generic/standard-webhooks",), "generic has no emulator"),
    (("pelion/nope",), "unknown fixture 'pelion/nope'"),
    (("pelion/notifications", "--count", "0"), "--count 0: must be at least 1"),
    ((), "name the fixtures to inject"),
])
def test_bad_arguments_send_nothing(cli, sandbox, args: tuple[str, ...], says: str) -> None:
    before = sandbox.state()
    result = cli("trigger", *args, "--sandbox", sandbox.url)
    assert result.exit_code == 2
    assert says in result.stderr and "Traceback" not in result.stderr
    after = sandbox.state()
    assert after["sigfox"] == before["sigfox"] and after["circle"] == before["circle"]


def test_every_trigger_help_example_works(cli, sandbox, tmp_path) -> None:
    from test_help_examples import DOC_PORT, examples, run_example, shell_env

    env = shell_env(tmp_path)
    lines = examples(cli, "trigger")
    assert len(lines) >= 3
    for line in lines:
        done = run_example(line.replace(f"http://127.0.0.1:{DOC_PORT}", sandbox.url), env)
        assert "queued" in done.stderr or done.stdout
