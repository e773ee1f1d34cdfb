"""ThingSpace through the engines: register/list/unregister over SOAP and REST against the real
sandbox via the real CLI, session expiry and account lock-out, the sandbox's deliveries
received by ``listen`` (credentials checked, password masked in the capture), and ``replay``
of those captures with the credentials put back, checked by a receiver here."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aioserve import ServeThread
from waiting import wait_for

from conftest import subprocess_env
from notifyctl.events import read_capture
from notifyctl.listen.run import BackgroundListener
from notifyctl.listen.settings import Settings
from notifyctl.listen.view import ListSink
from notifyctl.providers.thingspace import wire
from notifyctl.providers.thingspace.emulator import ThingSpaceState

ACCOUNT = "0000123456-00001"
PASSWORD = "hook-pw-7f3a"  # the callback password: must never show up in output or captures
LOGINS = {"NOTIFYCTL_USERNAME": "sandbox", "NOTIFYCTL_PASSWORD": "sandbox",
          "NOTIFYCTL_CLIENT_ID": "sandbox", "NOTIFYCTL_CLIENT_SECRET": "sandbox"}
APIS = ["soap", "rest"]


@pytest.fixture
def logins(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**LOGINS, "CBP": PASSWORD}.items():
        monkeypatch.setenv(name, value)


def state_of(sandbox: Any) -> ThingSpaceState:
    state: ThingSpaceState = sandbox.sandbox.emulators["thingspace"].state_
    return state


def add_profile(cli: Any, sandbox: Any, api: str) -> str:
    base = f"{sandbox.url}/api" + ("/v2" if api == "soap" else "")
    result = cli("profile", "add", api, "--provider", "thingspace", "--api-url", base,
                 "--account", ACCOUNT, "--set", f"api={api}")
    assert result.exit_code == 0, result.stderr
    return api


def register(cli: Any, profile: str, url: str, *extra: str) -> Any:
    return cli("-p", profile, "register", url, "--service", "DeviceUsage",
               "--callback-username", "hook", "--callback-password-env", "CBP", *extra)


def inject(sandbox: Any, request_id: str) -> None:
    event = {"service": "DeviceUsage", "requestId": request_id,
             "deviceIds": [{"id": "490154203237518", "kind": "IMEI"}],
             "data": {"Usage": {"Bytes": "42"}},
             "deviceResponse": {"serviceName": "DeviceUsage", "bytes": 42}}
    response = httpx.post(f"{sandbox.url}/_sandbox/thingspace/events", json=event, timeout=10)
    assert response.status_code == 200 and response.json() == {"queued": 1}, response.text


# -- management ----------------------------------------------------------------------------------

@pytest.mark.parametrize("api", APIS)
def test_register_list_unregister_round_trip(cli: Any, sandbox: Any, logins: None,
                                             api: str) -> None:
    profile = add_profile(cli, sandbox, api)
    state = state_of(sandbox)
    first = register(cli, profile, "http://127.0.0.1:9001/a")
    assert first.exit_code == 0, first.stderr
    assert "warning" not in first.stderr  # 9001 is a port the platform allows
    other = cli("-p", profile, "register", "http://127.0.0.1:8/b", "--service", "CarrierService")
    assert other.exit_code == 0 and "port 8 is not one ThingSpace allows" in other.stderr
    # One listener per service per account: registering again replaces it.
    again = register(cli, profile, "http://127.0.0.1:9002/c")
    assert again.exit_code == 0, again.stderr
    listener = state.listeners[(ACCOUNT, "DeviceUsage")]
    assert (listener.url, listener.username, listener.password, listener.api) == (
        "http://127.0.0.1:9002/c", "hook", PASSWORD, api)

    listed = cli("-p", profile, "list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    rows = {row["service"]: row for row in listed.json()}
    assert set(rows) == {"DeviceUsage", "CarrierService"}
    assert rows["DeviceUsage"]["url"] == "http://127.0.0.1:9002/c"
    assert rows["DeviceUsage"]["username"] == "hook"
    assert rows["DeviceUsage"]["password"] in ("****", "")  # SOAP lists no password at all
    for result in (first, other, again, listed):
        assert PASSWORD not in result.stdout + result.stderr

    assert cli("-p", profile, "unregister", "--service", "DeviceUsage").exit_code == 0
    assert cli("-p", profile, "unregister", "--service", "DeviceUsage").exit_code == 4
    assert [row["service"] for row in cli("-p", profile, "list", "-o", "json").json()] == [
        "CarrierService"]
    # Every command logged in once and out once.
    prefix = "soap:Log" if api == "soap" else "rest:log"
    logins_seen = [call for call in state.calls if call.startswith(prefix)]
    assert logins_seen.count(f"{prefix}In" if api == "soap" else "rest:login") == 7
    assert logins_seen.count(f"{prefix}Out" if api == "soap" else "rest:logout") == 7


@pytest.mark.parametrize("api", APIS)
def test_service_names_are_checked_before_any_call(cli: Any, sandbox: Any, logins: None,
                                                   api: str) -> None:
    profile = add_profile(cli, sandbox, api)
    bad = cli("-p", profile, "register", "http://127.0.0.1:9001/", "--service", "deviceusage")
    assert bad.exit_code == 2 and "did you mean DeviceUsage?" in bad.stderr
    missing = cli("-p", profile, "register", "http://127.0.0.1:9001/")
    assert missing.exit_code == 2 and "--service NAME is required" in missing.stderr
    assert state_of(sandbox).calls == []
    # Passed on with --allow-unknown-service: the (strict) platform refuses it itself.
    refused = cli("-p", profile, "register", "http://127.0.0.1:9001/", "--service", "NewThing",
                  "--allow-unknown-service")
    assert refused.exit_code == 2 and "InvalidServiceName" in refused.stderr


def test_callback_password_never_from_argv_and_not_guessed(cli: Any, sandbox: Any,
                                                           logins: None) -> None:
    profile = add_profile(cli, sandbox, "rest")
    unset = register(cli, profile, "http://127.0.0.1:9001/", "--callback-password-env", "NOPE")
    assert unset.exit_code == 2 and "NOPE" in unset.stderr
    # A callback user with no password anywhere, and no terminal to ask on: a usage error.
    lonely = cli("-p", profile, "register", "http://127.0.0.1:9001/", "--service",
                 "DeviceUsage", "--callback-username", "hook")
    assert lonely.exit_code == 2 and "--callback-password-env" in lonely.stderr
    assert state_of(sandbox).listeners == {}


@pytest.mark.parametrize("api", APIS)
def test_expired_session_is_renewed_once(cli: Any, sandbox: Any, logins: None,
                                         api: str) -> None:
    profile = add_profile(cli, sandbox, api)
    state = state_of(sandbox)
    touch, jumped = state.touch, []

    def touch_after_idle(token: str | None) -> Any:
        if not jumped:  # the first use of the first session comes 21 idle minutes late
            jumped.append(True)
            state.clock = lambda: time.monotonic() + 21 * 60
        return touch(token)

    state.touch = touch_after_idle  # type: ignore[method-assign]
    result = cli("-p", profile, "list", "-o", "json")
    assert result.exit_code == 0, result.stderr
    login = "soap:LogIn" if api == "soap" else "rest:login"
    assert state.calls.count(login) == 2
    # A session that expires again right after the fresh login is not chased for ever.
    state.idle_timeout = -1.0
    state.calls.clear()
    again = cli("-p", profile, "list")
    assert again.exit_code == 3 and "Expired" in again.stderr
    assert state.calls.count(login) == 2


@pytest.mark.parametrize("api", APIS)
def test_failed_logins_are_never_retried_and_lock_the_account(
        cli: Any, run: Any, sandbox: Any, logins: None, monkeypatch: pytest.MonkeyPatch,
        api: str) -> None:
    profile = add_profile(cli, sandbox, api)
    state = state_of(sandbox)
    monkeypatch.setenv("NOTIFYCTL_PASSWORD", "wrong")
    login = "soap:LogIn" if api == "soap" else "rest:login"
    for attempt in range(1, 6):
        result = cli("-p", profile, "list")
        assert result.exit_code == 3 and "InvalidCredentials" in result.stderr
        assert state.calls.count(login) == attempt  # one login per command, never a retry
    assert "sandbox" in state.locked
    monkeypatch.setenv("NOTIFYCTL_PASSWORD", "sandbox")
    locked = run("-p", profile, "list")
    assert locked.exit_code == 3 and "locked" in locked.stderr.lower()
    assert "Traceback" not in locked.stderr


# -- listen --------------------------------------------------------------------------------------

def capture_via_listen(cli: Any, sandbox: Any, api: str, path: Path) -> list[dict[str, Any]]:
    """The sandbox delivers one DeviceUsage event to ``listen --save``; its event lines."""
    profile = add_profile(cli, sandbox, api)
    sink = ListSink()
    # The password comes from the variable --callback-password-env names (the logins fixture).
    settings = Settings(provider="thingspace",
                        options={"callback_username": "hook", "callback_password_env": "CBP"},
                        save=str(path), output="none", count=1, timeout=15)
    rx = BackgroundListener(settings, sink).start()
    try:
        registered = register(cli, profile, rx.url)
        assert registered.exit_code == 0, registered.stderr
        assert "is not one ThingSpace allows" in registered.stderr  # a random local port
        inject(sandbox, f"req-{api}")
        summary = rx.join(15)
    finally:
        rx.stop()
    assert summary is not None and (summary.received, summary.failed) == (1, 0)
    assert [seen.verified for seen in sink.seen] == [True]
    return sink.lines


@pytest.mark.parametrize("api", APIS)
def test_sandbox_callbacks_reach_listen_and_the_capture_hides_the_password(
        cli: Any, sandbox: Any, logins: None, tmp_path: Path, api: str) -> None:
    capture = tmp_path / "ts.jsonl"
    [line] = capture_via_listen(cli, sandbox, api, capture)
    assert (line["provider"], line["device"], line["id"]) == (
        "thingspace", "490154203237518", f"req-{api}")
    if api == "soap":
        assert line["kind"] == "DeviceUsage" and line["payload"] == {"Usage": {"Bytes": "42"}}
    else:
        assert line["kind"] == "deviceResponse" and line["payload"]["bytes"] == 42
    assert line["raw"]["Password" if api == "soap" else "password"] == "***"
    [(_, delivery)] = list(read_capture(capture))
    body = delivery.body_bytes()
    assert PASSWORD.encode() not in capture.read_bytes()
    callback = wire.decode_callback(body)
    assert (callback.form, callback.username, callback.password) == (api, "hook", "***")
    assert '"verified":true' in capture.read_text()  # listen's own field beside the request
    deliveries = sandbox.state()["thingspace"]["deliveries"]
    assert deliveries.get("acknowledged") == 1 and "retried" not in deliveries


@pytest.mark.parametrize("api", APIS)
def test_wrong_callback_credentials_fail_strict_listen_with_exit_7(
        cli: Any, sandbox: Any, logins: None, tmp_path: Path, api: str) -> None:
    profile = add_profile(cli, sandbox, api)
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "notifyctl", "listen", "--provider", "thingspace",
             "--callback-username", "hook", "--callback-password-env", "EXPECTED", "--strict",
             "--count", "1", "--timeout", "15", "-o", "jsonl"],
            stdout=stdout, stderr=stderr, env=subprocess_env(EXPECTED="another-password"))
    try:
        wait_for(lambda: "\n" in err.read_text() or proc.poll() is not None,
                 what="listen's first stderr line (its URL)")
        assert proc.poll() is None, err.read_text()
        url = err.read_text().splitlines()[0]
        assert register(cli, profile, url).exit_code == 0
        inject(sandbox, "req-wrong")
        assert proc.wait(20) == 7
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "1 of 1 requests failed verification" in err.read_text()
    [line] = [json.loads(text) for text in out.read_text().splitlines()]
    assert (line["kind"], line["status"]) == ("unverified", 401)
    assert PASSWORD not in out.read_text() + err.read_text()


# -- replay --------------------------------------------------------------------------------------

class Receiver:
    """Records every request; answers the statuses in ``answers`` (the last one repeats)."""

    def __init__(self, *answers: int) -> None:
        self.answers = list(answers) or [200]
        self.got: list[tuple[str, bytes]] = []

    def setup(self, app: web.Application) -> None:
        async def handle(request: web.Request) -> web.Response:
            self.got.append((request.headers.get("Content-Type", ""), await request.read()))
            status = self.answers[min(len(self.got), len(self.answers)) - 1]
            return web.Response(status=status)

        app.router.add_post("/{tail:.*}", handle)


@pytest.mark.parametrize("api", APIS)
def test_replay_of_a_capture_puts_the_credentials_back(
        cli: Any, sandbox: Any, logins: None, tmp_path: Path, api: str) -> None:
    capture = tmp_path / "ts.jsonl"
    capture_via_listen(cli, sandbox, api, capture)
    [(_, delivery)] = list(read_capture(capture))
    receiver = Receiver(200)
    with ServeThread(receiver.setup) as server:
        result = cli("replay", str(capture), "--to", server.url + "/hook",
                     "--callback-username", "hook", "--callback-password-env", "CBP")
    assert result.exit_code == 0, result.stderr
    [(ctype, body)] = receiver.got
    callback = wire.decode_callback(body)
    assert callback.credentials_match("hook", PASSWORD)
    assert callback.request_id == f"req-{api}"
    if api == "soap":
        assert ctype.startswith("text/xml")
        # Edited in place: the captured bytes but for the password element's text.
        assert body.replace(PASSWORD.encode(), b"***") == delivery.body_bytes()
    else:
        assert ctype == "application/json"
        sent, captured = json.loads(body), json.loads(delivery.body_bytes())
        assert {**captured, "password": PASSWORD} == sent
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize("api", APIS)
def test_replay_repeats_unacknowledged_callbacks_up_to_the_threshold(
        cli: Any, sandbox: Any, logins: None, tmp_path: Path, api: str) -> None:
    capture = tmp_path / "ts.jsonl"
    capture_via_listen(cli, sandbox, api, capture)
    receiver = Receiver(500)
    with ServeThread(receiver.setup) as server:
        failed = cli("replay", str(capture), "--to", server.url, "--callback-password-env", "CBP",
                     "--retry-base", "0.001")
        assert failed.exit_code == 6 and "after 4 attempt(s)" in failed.stderr
        assert len(receiver.got) == 4  # maxCallbackThreshold (REST body) / 4 (SOAP)
        if api == "rest":
            counts = [json.loads(body)["callbackCount"] for _, body in receiver.got]
            assert counts == [1, 2, 3, 4]
        else:
            assert len({body for _, body in receiver.got}) == 1
        receiver.got.clear()
        bounded = cli("replay", str(capture), "--to", server.url, "--callback-password-env",
                      "CBP", "--retry-base", "0.001", "--max-attempts", "2")
        assert bounded.exit_code == 6 and len(receiver.got) == 2
        receiver.got.clear()
        receiver.answers = [503, 204]
        recovered = cli("replay", str(capture), "--to", server.url, "--callback-password-env",
                        "CBP", "--retry-base", "0.001")
        assert recovered.exit_code == 0 and len(receiver.got) == 2


def test_replay_refuses_masked_passwords_and_bad_bodies(
        cli: Any, sandbox: Any, logins: None, tmp_path: Path) -> None:
    capture = tmp_path / "ts.jsonl"
    capture_via_listen(cli, sandbox, "rest", capture)
    receiver = Receiver(200)
    with ServeThread(receiver.setup) as server:
        masked = cli("replay", str(capture), "--to", server.url)
        assert masked.exit_code == 6 and "masked" in masked.stderr
        assert receiver.got == []
        junk = tmp_path / "junk.jsonl"
        junk.write_text(json.dumps({"v": 1, "provider": "thingspace", "source": "callback",
                                    "at": "2026-11-23T09:00:00.000Z", "body": "<a>"}) + "\n")
        bad = cli("replay", str(junk), "--to", server.url)
        assert bad.exit_code == 2 and f"{junk}:1" in bad.stderr
        assert "not a ThingSpace callback" in bad.stderr
        assert receiver.got == []
