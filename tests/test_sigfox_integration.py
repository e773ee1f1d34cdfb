"""Sigfox through the engines: callbacks managed with the real CLI against the real sandbox,
the sandbox delivering uplinks to a recording receiver (URL and BATCH_URL, one retry, the
undelivered list), templates checked before anything is sent, and ``replay --provider sigfox``
(per-message and batch requests, one retry, BIDIR answers shown)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from recorder import Recorder
from waiting import wait_for

PASSWORD = "sfx-pw-8c1d2e"  # the API password: never in any output
DT = "5a1b2c3d4e5f"


@pytest.fixture
def receiver() -> Any:
    with Recorder() as rec:
        yield rec


@pytest.fixture
def sfx(cli: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NOTIFYCTL_USERNAME", "api-login")
    monkeypatch.setenv("NOTIFYCTL_PASSWORD", PASSWORD)
    added = cli("profile", "add", "sfx", "--provider", "sigfox", "--api-url", f"{sandbox.url}/v2")
    assert added.exit_code == 0, added.stderr
    return "sfx"


def uplink(sandbox: Any, device: str, seq: int, when: int, **extra: Any) -> None:
    message = {"device": device, "time": when, "data": f"{seq:016x}", "seqNumber": seq,
               "deviceTypeId": DT, "snr": 12.5, "ack": False, **extra}
    response = httpx.post(f"{sandbox.url}/_sandbox/sigfox/events", json=message, timeout=10)
    assert response.status_code == 200, response.text


def sigfox_state(sandbox: Any) -> dict[str, Any]:
    state: dict[str, Any] = sandbox.state()["sigfox"]
    return state


def test_register_deliver_disable_unregister(cli: Any, sandbox: Any, sfx: str,
                                             receiver: Recorder) -> None:
    made = cli("-p", sfx, "register", receiver.url + "/up?dev={device}", "--device-type", DT,
               "--body-template", '{"d":"{device}","x":"{data}","n":{seqNumber}}',
               "--content-type", "application/json", "--header", "X-Auth: t-{device}")
    assert made.exit_code == 0, made.stderr
    callback_id = made.stdout.strip()
    batch = cli("-p", sfx, "register", receiver.url + "/batch", "--device-type", DT,
                "--channel", "batch_url", "--line-pattern", "{device};{time};{data}")
    assert batch.exit_code == 0, batch.stderr
    rows = {row["id"]: row for row in cli("-p", sfx, "list", "--device-type", DT,
                                           "-o", "json").json()}
    assert rows[callback_id]["enabled"] is True and rows[callback_id]["dead"] is False
    assert rows[callback_id]["type"] == "data/uplink" and rows[callback_id]["channel"] == "url"
    assert rows[batch.stdout.strip()]["channel"] == "batch_url"

    now = int(time.time())
    uplink(sandbox, "1A2B", 1, now)
    uplink(sandbox, "1A2C", 2, now)
    one = receiver.wait(2, path="/up")
    assert one[0].method == "POST" and one[0].query == "dev=1A2B"
    assert json.loads(one[0].body) == {"d": "1A2B", "x": f"{1:016x}", "n": 1}
    assert one[0].headers["X-Auth"] == "t-1A2B"
    lines = b"\n".join(r.body for r in receiver.wait(1, path="/batch")).decode().split("\n")
    assert f"1A2B;{now};{1:016x}" in lines

    assert cli("-p", sfx, "sigfox", "disable", callback_id, "--device-type", DT).exit_code == 0
    listed = cli("-p", sfx, "list", "--device-type", DT, "-o", "json").json()
    assert [r["enabled"] for r in listed if r["id"] == callback_id] == [False]
    before = len([r for r in receiver.requests if r.path == "/up"])
    batches = len([r for r in receiver.requests if r.path == "/batch"])
    uplink(sandbox, "1A2B", 3, now + 5)
    receiver.wait(batches + 1, path="/batch")  # delivered to the enabled callback only
    # The sandbox sends one round of messages at a time: once a later uplink has arrived, every
    # request of the round before (a disabled callback's included) has been answered.
    uplink(sandbox, "1A2B", 4, now + 6)
    receiver.wait(batches + 2, path="/batch")
    assert len([r for r in receiver.requests if r.path == "/up"]) == before
    assert cli("-p", sfx, "sigfox", "enable", callback_id, "--device-type", DT).exit_code == 0

    gone = cli("-p", sfx, "unregister", callback_id, "--device-type", DT)
    assert gone.exit_code == 0, gone.stderr
    assert cli("-p", sfx, "unregister", callback_id, "--device-type", DT).exit_code == 4
    left = cli("-p", sfx, "list", "--device-type", DT, "-o", "json").json()
    assert [r["id"] for r in left] == [batch.stdout.strip()]
    for result in (made, batch, gone):
        assert PASSWORD not in result.stdout + result.stderr


def test_failed_delivery_is_retried_once_then_listed_undelivered(
        cli: Any, sandbox: Any, sfx: str, receiver: Recorder) -> None:
    receiver.answers["/down"] = (503, b"", None)
    made = cli("-p", sfx, "register", receiver.url + "/down", "--device-type", DT,
               "--method", "GET")
    assert made.exit_code == 0, made.stderr
    uplink(sandbox, "BEEF", 7, int(time.time()))
    tries = receiver.wait(2)
    assert all(r.method == "GET" and r.body == b"" for r in tries)
    # Listed undelivered once the sandbox has given up: no attempt can follow.
    wait_for(lambda: sigfox_state(sandbox)["undelivered"] >= 1, what="an undelivered entry")
    assert len(receiver.requests) == 2  # the first send and exactly one retry
    errors = cli("-p", sfx, "sigfox", "undelivered", "--device-type", DT)
    assert errors.exit_code == 0, errors.stderr
    [error] = errors.json()
    assert error["device"] == "BEEF" and error["status"] == 503
    assert error["callbackId"] == made.stdout.strip()


def test_templates_are_checked_before_anything_is_sent(cli: Any, sandbox: Any,
                                                       sfx: str) -> None:
    bad = cli("-p", sfx, "register", "http://127.0.0.1:9/x", "--device-type", DT,
              "--body-template", '{"t":"{temp}"}')
    assert bad.exit_code == 2
    assert "unknown variable {temp}" in bad.stderr and "{seqNumber}" in bad.stderr
    ok_for_status = cli("-p", sfx, "register", "http://127.0.0.1:9/x?t={temp}",
                        "--device-type", DT, "--type", "service/status")
    assert ok_for_status.exit_code == 0, ok_for_status.stderr
    wrong_type = cli("-p", sfx, "register", "http://127.0.0.1:9/x", "--device-type", DT,
                     "--type", "data/sideways")
    assert wrong_type.exit_code == 2 and "data/bidir" in wrong_type.stderr
    no_dt = cli("-p", sfx, "register", "http://127.0.0.1:9/x")
    assert no_dt.exit_code == 2 and "--device-type" in no_dt.stderr
    assert sigfox_state(sandbox)["device_types"] == {DT: 1}
    assert cli("-p", sfx, "tail", "-o", "jsonl").exit_code == 2


# -- replay ---------------------------------------------------------------------------------

def messages_file(tmp_path: Path) -> str:
    path = tmp_path / "uplinks.json"
    path.write_text(json.dumps([
        {"device": "1A2B", "time": 1700000000, "data": "0102", "seqNumber": 1},
        {"device": "1A2C", "time": 1700000000, "data": "0304", "seqNumber": 9},
        {"device": "1A2B", "time": 1700000001, "data": "0506", "seqNumber": 2},
    ]))
    return str(path)


def test_replay_renders_one_request_per_message(cli: Any, tmp_path: Path,
                                                receiver: Recorder) -> None:
    result = cli("replay", messages_file(tmp_path), "--provider", "sigfox", "--to",
                 receiver.url + "/r", "--url-template", "?id={device}&n={seqNumber}",
                 "--method", "PUT", "--body-template", "{device}:{data}",
                 "--content-type", "text/plain", "-c", "1")
    assert result.exit_code == 0, result.stderr
    got = receiver.wait(3)
    assert [(r.method, r.query, r.body) for r in got] == [
        ("PUT", "id=1A2B&n=1", b"1A2B:0102"), ("PUT", "id=1A2C&n=9", b"1A2C:0304"),
        ("PUT", "id=1A2B&n=2", b"1A2B:0506")]
    assert got[0].headers["Content-Type"] == "text/plain"


def test_replay_batches_by_second_and_retries_once(cli: Any, tmp_path: Path,
                                                   receiver: Recorder) -> None:
    result = cli("replay", messages_file(tmp_path), "--provider", "sigfox", "--to",
                 receiver.url + "/b", "--batch", "--line-pattern", "{device};{data}")
    assert result.exit_code == 0, result.stderr
    bodies = sorted(r.body for r in receiver.wait(2))
    assert bodies == [b"1A2B;0102\n1A2C;0304", b"1A2B;0506"]
    receiver.answers["/fail"] = (500, b"", None)
    failed = cli("replay", messages_file(tmp_path), "--provider", "sigfox", "--to",
                 receiver.url + "/fail", "--limit", "1", "-o", "json")
    assert failed.exit_code == 6
    assert failed.json()["attempts"] == 2 and len(receiver.wait(2, path="/fail")) == 2


def test_replay_rejects_unknown_variables_with_the_valid_list(cli: Any, tmp_path: Path) -> None:
    result = cli("replay", messages_file(tmp_path), "--provider", "sigfox", "--to",
                 "http://127.0.0.1:9/", "--url-template", "?x={bogus}")
    assert result.exit_code == 2
    assert "unknown variable {bogus}" in result.stderr and "{device}" in result.stderr
    needs_batch = cli("replay", messages_file(tmp_path), "--provider", "sigfox", "--to",
                      "http://127.0.0.1:9/", "--line-pattern", "{device}")
    assert needs_batch.exit_code == 2 and "--batch" in needs_batch.stderr


def test_replay_shows_bidir_downlinks_and_refuses_bad_ones(cli: Any, tmp_path: Path,
                                                          receiver: Recorder) -> None:
    receiver.answers["/bidir"] = (200, b'{"1A2B":{"downlinkData":"0102030405060708"}}',
                                  "application/json")
    receiver.answers["/bad"] = (200, b'{"1A2B":{"downlinkData":"12"}}', "application/json")
    good = cli("replay", messages_file(tmp_path), "--provider", "sigfox", "--to",
               receiver.url + "/bidir", "--callback-type", "data/bidir", "--limit", "1")
    assert good.exit_code == 0, good.stderr
    assert "downlink for 1A2B: 0102030405060708" in good.stderr
    bad = cli("replay", messages_file(tmp_path), "--provider", "sigfox", "--to",
              receiver.url + "/bad", "--callback-type", "data/bidir", "--limit", "1")
    assert "must be exactly 16 hex characters" in bad.stderr


def test_sandbox_to_listen_capture_replays_the_same_messages(
        cli: Any, sandbox: Any, sfx: str, receiver: Recorder, tmp_path: Path) -> None:
    from notifyctl.listen.run import BackgroundListener
    from notifyctl.listen.settings import Settings
    from notifyctl.listen.view import ListSink

    capture = tmp_path / "sigfox.jsonl"
    sink = ListSink()
    with BackgroundListener(Settings(provider="sigfox", save=str(capture), output="none"),
                            sink) as listener:
        made = cli("-p", sfx, "register", listener.url + "/sf", "--device-type", DT)
        assert made.exit_code == 0, made.stderr  # POST, form body: Sigfox's default
        uplink(sandbox, "CAFE", 5, 1700000000)
        wait_for(lambda: sink.seen, what="the uplink at the listener")
    [seen] = sink.seen
    assert [(e.device, e.payload) for e in seen.events] == [("CAFE", f"{5:016x}")]
    # The provider comes from the capture; the form body is read back into variables.
    replayed = cli("replay", str(capture), "--to", receiver.url + "/again",
                   "--url-template", "?d={device}&s={seqNumber}&x={data}", "--method", "GET")
    assert replayed.exit_code == 0, replayed.stderr
    [again] = receiver.wait(1)
    assert (again.method, again.query) == ("GET", f"d=CAFE&s=5&x={5:016x}")


def test_replay_fixture(cli: Any, receiver: Recorder) -> None:
    result = cli("replay", "--fixture", "sigfox/uplinks", "--to", receiver.url + "/f",
                 "--batch", "--line-pattern", "{device},{seqNumber}")
    assert result.exit_code == 0, result.stderr
    assert sorted(r.body for r in receiver.wait(3)) == [b"1A2B3C,101\n1A2B3C,102",
                                                        b"1A2B3C,103", b"4D5E6F,7"]


def test_sandbox_reads_the_downlink_answer_of_the_selected_bidir_callback(
        cli: Any, sandbox: Any, sfx: str, receiver: Recorder) -> None:
    receiver.answers["/bidir"] = (200, b'{"CAFE":{"downlinkData":"0102030405060708"}}',
                                  "application/json")
    made = cli("-p", sfx, "register", receiver.url + "/bidir", "--device-type", DT,
               "--type", "data/bidir", "--body-template", '{"d":"{device}","ack":{ack}}',
               "--content-type", "application/json")
    assert made.exit_code == 0, made.stderr
    callback_id = made.stdout.strip()
    uplink(sandbox, "CAFE", 1, int(time.time()), ack=True)
    receiver.wait(1)
    # Its answer is read (downlinks updated) in the same step that counts it delivered.
    wait_for(lambda: sigfox_state(sandbox)["delivered"] >= 1, what="the BIDIR delivery")
    assert sigfox_state(sandbox)["downlinks"] == {}  # not the downlink callback yet
    selected = cli("-p", sfx, "sigfox", "downlink", callback_id, "--device-type", DT)
    assert selected.exit_code == 0, selected.stderr
    [row] = cli("-p", sfx, "list", "--device-type", DT, "-o", "json").json()
    assert row["downlink"] is True
    uplink(sandbox, "CAFE", 2, int(time.time()), ack=True)
    receiver.wait(2)
    wait_for(lambda: sigfox_state(sandbox)["downlinks"], what="the downlink answer read")
    assert sigfox_state(sandbox)["downlinks"] == {"CAFE": "0102030405060708"}
    uplink_only = cli("-p", sfx, "register", "http://127.0.0.1:9/u", "--device-type", DT)
    refused = cli("-p", sfx, "sigfox", "downlink", uplink_only.stdout.strip(),
                  "--device-type", DT)
    assert refused.exit_code == 2 and "BIDIR" in refused.stderr


def test_unreadable_bidir_answer_is_listed_undelivered_saying_why(
        cli: Any, sandbox: Any, sfx: str, receiver: Recorder) -> None:
    receiver.answers["/bidir"] = (200, b'{"CAFE":{"downlinkData":"12"}}', "application/json")
    made = cli("-p", sfx, "register", receiver.url + "/bidir", "--device-type", DT,
               "--type", "data/bidir")
    assert made.exit_code == 0, made.stderr
    selected = cli("-p", sfx, "sigfox", "downlink", made.stdout.strip(), "--device-type", DT)
    assert selected.exit_code == 0, selected.stderr
    uplink(sandbox, "CAFE", 1, int(time.time()), ack=True)
    receiver.wait(1)
    deadline = time.monotonic() + 5
    while sigfox_state(sandbox)["undelivered"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    errors = cli("-p", sfx, "sigfox", "undelivered", "--device-type", DT)
    assert errors.exit_code == 0, errors.stderr
    [error] = errors.json()
    # The 200 was answered, but the downlink in it is lost: said, not "(last: 200)".
    assert error["device"] == "CAFE" and error["status"] == 200
    assert "answered 200, but" in error["message"]
    assert "must be exactly 16 hex characters" in error["message"]
    assert len(receiver.requests) == 1  # an unusable answer is not sent again
    assert sigfox_state(sandbox)["downlinks"] == {}
