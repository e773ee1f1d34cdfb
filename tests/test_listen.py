"""``listen`` in-process: real HTTP requests to a running receiver (BackgroundListener on
127.0.0.1 port 0) for each provider's format and check, and for the answers on purpose,
forwarding, body limits and the capture."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from notifyctl.events import read_capture
from notifyctl.listen import BackgroundListener, Settings
from notifyctl.listen.view import ListSink
from notifyctl.providers.circle.signing import circle_sign
from notifyctl.signing import standard_sign

CIRCLE_KEY = "circle-auth-key"
WHSEC = "whsec_" + base64.b64encode(b"standard-webhooks-secret").decode()
CIRCLE_EVENT = json.dumps({
    "accountId": "9385e6f9-70c3-45b2-62e4-ace3d027988a", "eventType": "activity_created",
    "eventData": {"accessoryId": "acc-1", "activityId": "act-9"}, "userData": {"foo": "bar"},
}).encode()


class Running:
    def __init__(self, bg: BackgroundListener, sink: ListSink, client: httpx.Client) -> None:
        self.bg, self.sink, self.client = bg, sink, client

    @property
    def url(self) -> str:
        return self.bg.url

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` without the announced path."""
        return "/".join(self.url.split("/", 3)[:3])

    def post(self, body: bytes | str, path: str = "/hook", method: str = "POST",
             **headers: str) -> httpx.Response:
        return self.client.request(method, self.base + path, content=body,
                                   headers={k.replace("_", "-"): v for k, v in headers.items()})

    @property
    def lines(self) -> list[dict[str, Any]]:
        return self.sink.lines


@pytest.fixture
def listening() -> Iterator[Callable[..., Any]]:
    stack: list[Running] = []

    @contextmanager
    def start(**options: Any) -> Iterator[Running]:
        sink = ListSink()
        bg = BackgroundListener(Settings(**options), sink).start()
        with httpx.Client(timeout=10) as client:
            running = Running(bg, sink, client)
            stack.append(running)
            try:
                yield running
            finally:
                bg.stop()

    yield start
    for running in stack:
        running.bg.stop()


def capture(path: Path) -> list[dict[str, Any]]:
    list(read_capture(path))  # every line is a valid capture line
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- pelion --------------------------------------------------------------------------------------

def test_pelion_handshake_and_batch(listening: Any, tmp_path: Path) -> None:
    save = tmp_path / "cap.jsonl"
    batch = {"notifications": [{"ep": "dev-1", "path": "/3200/0/5501", "ct": "text/plain",
                                "payload": base64.b64encode(b"406").decode(), "max-age": 0}],
             "de-registrations": ["dev-2"]}
    with listening(provider="pelion", save=str(save)) as rx:
        assert rx.post("{}", method="PUT").status_code == 200
        answer = rx.post(json.dumps(batch), method="PUT", Authorization="Bearer ak_123456")
        assert answer.status_code == 200
        assert rx.post("{not json", method="PUT").status_code == 400
    kinds = [(line["kind"], line.get("device"), line.get("payload")) for line in rx.lines]
    assert kinds[0] == ("handshake", None, None)
    assert ("notification", "dev-1", "406") in kinds and ("de-registration", "dev-2", None) in kinds
    assert kinds[-1][0] == "invalid" and rx.lines[-1]["status"] == 400
    lines = capture(save)
    assert [line["method"] for line in lines] == ["PUT"] * 3
    assert lines[1]["body"] == json.dumps(batch)
    assert lines[1]["headers"]["Authorization"] == "Bearer ***"  # masked in the capture
    assert "invalid" in lines[2] and "invalid" not in lines[1]


def test_pelion_authorization_check(listening: Any) -> None:
    with listening(provider="pelion", verify_key="s3cret", strict=True) as rx:
        assert rx.post("{}", method="PUT", Authorization="Bearer s3cret").status_code == 200
        assert rx.post("{}", method="PUT", Authorization="Bearer nope").status_code == 401
        assert rx.post("{}", method="PUT").status_code == 401
    assert [line.get("verified") for line in rx.lines] == [True, False, False]


# -- circle --------------------------------------------------------------------------------------

def test_circle_signed_event(listening: Any, tmp_path: Path) -> None:
    save = tmp_path / "cap.jsonl"
    with listening(provider="circle", verify_key=CIRCLE_KEY, save=str(save)) as rx:
        answer = rx.post(CIRCLE_EVENT, X_Logi_Verify=circle_sign(CIRCLE_KEY, CIRCLE_EVENT),
                         Content_Type="application/json; charset=utf-8")
        assert answer.status_code == 200
    (event,) = rx.lines
    assert (event["provider"], event["kind"], event["device"], event["id"]) == (
        "circle", "activity_created", "acc-1", "act-9")
    (line,) = capture(save)
    assert line["verified"] is True and line["body"] == CIRCLE_EVENT.decode()


@pytest.mark.parametrize("strict", [False, True])
def test_circle_wrong_signature(listening: Any, tmp_path: Path, strict: bool) -> None:
    save = tmp_path / "cap.jsonl"
    with listening(provider="circle", verify_key=CIRCLE_KEY, save=str(save), strict=strict) as rx:
        forged = circle_sign("another-key", CIRCLE_EVENT)
        assert rx.post(CIRCLE_EVENT, X_Logi_Verify=forged).status_code == (401 if strict else 200)
        assert rx.post(CIRCLE_EVENT).status_code == (401 if strict else 200)  # no header
        tampered = CIRCLE_EVENT.replace(b"acc-1", b"acc-2")
        sig = circle_sign(CIRCLE_KEY, CIRCLE_EVENT)
        assert rx.post(tampered, X_Logi_Verify=sig).status_code == (401 if strict else 200)
    summary = rx.bg.summary
    assert summary is not None and summary.failed == 3
    assert [line["kind"] for line in rx.lines] == ["unverified"] * 3
    assert "missing X-Logi-Verify" in rx.lines[1]["error"]
    assert all(line["verified"] is False and line["error"] for line in capture(save))
    outcome = rx.bg.listener.outcome(summary)
    assert (outcome is not None and outcome.exit_code == 7) if strict else outcome is None


def test_circle_malformed_body_is_invalid(listening: Any, tmp_path: Path) -> None:
    save = tmp_path / "cap.jsonl"
    with listening(provider="circle", verify_key=CIRCLE_KEY, save=str(save)) as rx:
        for body in (b"{\"eventType\": ", b"[1, 2]", b"\xff\xfe"):
            answer = rx.post(body, X_Logi_Verify=circle_sign(CIRCLE_KEY, body))
            assert answer.status_code == 400, body
    assert [line["kind"] for line in rx.lines] == ["invalid"] * 3
    lines = capture(save)
    assert all(line["invalid"] for line in lines)
    assert base64.b64decode(lines[2]["body_b64"]) == b"\xff\xfe"  # kept byte for byte


# -- generic (Standard Webhooks) -----------------------------------------------------------------

def _signed(body: bytes, msg_id: str = "msg_1", offset: int = 0, secret: str = WHSEC
            ) -> dict[str, str]:
    stamp = int(time.time()) + offset
    return {"webhook_id": msg_id, "webhook_timestamp": str(stamp),
            "webhook_signature": standard_sign(secret, msg_id, stamp, body)}


def test_generic_standard_webhooks(listening: Any) -> None:
    body = json.dumps({"type": "invoice.paid", "timestamp": "2026-11-23T09:00:00Z",
                       "data": {"id": 7}}).encode()
    other = "whsec_" + base64.b64encode(b"not-the-secret").decode()
    with listening(provider="generic", verify_key=WHSEC, strict=True) as rx:
        assert rx.post(body, **_signed(body)).status_code == 200
        assert rx.post(body, **_signed(body, offset=-250)).status_code == 200  # inside ±5 min
        assert rx.post(body, **_signed(body, offset=-400)).status_code == 401  # too old
        assert rx.post(body, **_signed(body, offset=400)).status_code == 401  # too new
        assert rx.post(body, **_signed(body, secret=other)).status_code == 401
        assert rx.post(body + b" ", **_signed(body)).status_code == 401
    first = rx.lines[0]
    assert (first["kind"], first["id"], first["payload"]) == ("invoice.paid", "msg_1", {"id": 7})
    assert [line["kind"] for line in rx.lines[2:]] == ["unverified"] * 4
    assert "away from now" in rx.lines[2]["error"]


def test_generic_webhook_id_with_dots_verifies(listening: Any) -> None:
    # Both official Standard Webhooks libraries sign and verify such ids; this was a 500.
    body = b'{"type":"invoice.paid","data":{}}'
    with listening(provider="generic", verify_key=WHSEC, strict=True) as rx:
        assert rx.post(body, **_signed(body, msg_id="evt.2026.11.23")).status_code == 200
        huge = {**_signed(body), "webhook_timestamp": "9" * 400}
        assert rx.post(body, **huge).status_code == 401
    assert rx.lines[0]["id"] == "evt.2026.11.23"
    assert [line["kind"] for line in rx.lines] == ["invoice.paid", "unverified"]


# -- iottly --------------------------------------------------------------------------------------

def test_iottly_envelope_and_bare_payload(listening: Any) -> None:
    msg = {"msg": {"from": "dev-uuid", "to": "proj", "timestamp": 1763888400,
                   "type": "iottlyagent", "payload": {"temp": 21.5}}}
    with listening(provider="iottly") as rx:
        assert rx.post(json.dumps(msg), Content_Type="application/json").status_code == 200
        assert rx.post('{"temp": 22}', Content_Type="application/json").status_code == 200
        assert rx.post("{broken", Content_Type="application/json").status_code == 400
        assert rx.post("plain words", Content_Type="text/plain").status_code == 200
    envelope, bare, broken, text = rx.lines
    assert (envelope["device"], envelope["payload"]) == ("dev-uuid", {"temp": 21.5})
    assert envelope["time"].startswith("2025-11-23T")
    assert bare["payload"] == {"temp": 22} and "device" not in bare
    assert broken["kind"] == "invalid" and broken["status"] == 400
    assert text["payload"] == "plain words"


# -- sigfox --------------------------------------------------------------------------------------

def test_sigfox_form_json_text_and_get(listening: Any) -> None:
    with listening(provider="sigfox") as rx:
        form = "device=1A2B3C&time=1763888400&data=0102abcd&seqNumber=12"
        answer = rx.post(form, Content_Type="application/x-www-form-urlencoded")
        assert answer.status_code == 204  # no downlink configured
        body = {"deviceId": "1A2B3D", "time": 1763888401, "data": "ff", "seqNumber": 13}
        assert rx.post(json.dumps(body), Content_Type="application/json").status_code == 204
        batch = "1A2B3E;1763888402;00ff;\n1A2B3F;1763888403;01;\n"
        assert rx.post(batch, Content_Type="text/plain").status_code == 204
        url = rx.base + "/hook?device=1A2B40&time=1763888404&temp=20&batt=3.1"
        assert rx.client.get(url).status_code == 204
        assert rx.post("{nope", Content_Type="application/json").status_code == 400
    got = [(line["kind"], line.get("device"), line.get("payload")) for line in rx.lines]
    assert got == [
        ("uplink", "1A2B3C", "0102abcd"), ("uplink", "1A2B3D", "ff"),
        ("uplink", "1A2B3E", "00ff"), ("uplink", "1A2B3F", "01"),
        ("status", "1A2B40", None), ("invalid", None, None),
    ]
    assert rx.lines[0]["id"] == "1A2B3C:12"
    assert rx.lines[0]["time"] == "2025-11-23T09:00:00.000Z"


def test_sigfox_bidir_downlink(listening: Any) -> None:
    with listening(provider="sigfox", options={"downlink_data": "0011223344556677"}) as rx:
        body = {"device": "1A2B3C", "time": 1763888400, "data": "01", "ack": "true"}
        answer = rx.post(json.dumps(body), Content_Type="application/json")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json() == {"1A2B3C": {"downlinkData": "0011223344556677"}}
        body["ack"] = "false"
        assert rx.post(json.dumps(body), Content_Type="application/json").status_code == 204


def test_xml_entity_bomb_refused_fast(listening: Any, tmp_path: Path) -> None:
    entities = "".join(
        f'<!ENTITY e{i} "{("&e" + str(i - 1) + ";") * 10 if i else "lol"}">' for i in range(10)
    )
    bomb = f'<?xml version="1.0"?><!DOCTYPE d [{entities}]><d><data>&e9;</data></d>'
    save = tmp_path / "cap.jsonl"
    with listening(provider="sigfox", save=str(save)) as rx:
        answer = rx.post(bomb, Content_Type="application/xml")
        assert answer.status_code == 400  # refused, not expanded (see test_listen_xml.py)
        good = "<msg><device>1A2B3C</device><data>00ff</data></msg>"
        assert rx.post(good, Content_Type="text/xml").status_code == 204
    assert "DOCTYPE" in rx.lines[0]["error"]
    assert (rx.lines[1]["device"], rx.lines[1]["payload"]) == ("1A2B3C", "00ff")
    assert capture(save)[0]["invalid"]


# -- limits, paths, answers on purpose -----------------------------------------------------------

def test_oversized_body_413(listening: Any) -> None:
    with listening(provider="iottly", max_body=1000) as rx:
        assert rx.post(b"x" * 1001).status_code == 413
        chunks = (b"y" * 400 for _ in range(5))  # no Content-Length: chunked
        assert rx.client.post(rx.url, content=chunks).status_code == 413
        assert rx.post('{"ok": 1}').status_code == 200
    assert [line["kind"] for line in rx.lines] == ["too-large", "too-large", "message"]


def test_path_narrows_and_count_ends_run(listening: Any) -> None:
    with listening(provider="iottly", path="/hook", count=2) as rx:
        assert rx.post("{}", path="/other").status_code == 404
        assert rx.post("{}").status_code == 200
        assert rx.post("{}").status_code == 200
        summary = rx.bg.join(5)
    assert summary is not None and (summary.reason, summary.received) == ("count", 2)


def test_respond_and_fail_ratio(listening: Any) -> None:
    with listening(provider="iottly", respond=410) as rx:
        assert [rx.post("{}").status_code for _ in range(3)] == [410] * 3
    with listening(provider="iottly", fail_ratio=0.5) as rx:
        assert [rx.post("{}").status_code for _ in range(4)] == [200, 500, 200, 500]
    with listening(provider="iottly", fail_ratio=0.25, respond=503) as rx:
        assert [rx.post("{}").status_code for _ in range(4)] == [200, 200, 200, 503]
    assert rx.sink.seen[-1].status == 503  # event lines stay tail's; the status is per request


def test_forward_to_passes_the_exact_request(listening: Any, tmp_path: Path) -> None:
    downstream_capture = tmp_path / "down.jsonl"
    with listening(provider="sigfox", options={"downlink_data": "0102030405060708"},
                   save=str(downstream_capture)) as down, \
            listening(provider="sigfox", forward_to=down.base + "/app") as front:
        body = '{"device":"ABC","data":"01","ack":true}'
        answer = front.post(body, path="/hook?x=1", Content_Type="application/json",
                            X_Custom="kept")
        assert answer.status_code == 200
        assert answer.json() == {"ABC": {"downlinkData": "0102030405060708"}}
    (line,) = capture(downstream_capture)
    assert (line["path"], line["body"]) == ("/app?x=1", body)
    assert line["headers"]["X-Custom"] == "kept"
    assert front.lines[0]["device"] == "ABC"


def _target(app: Any) -> None:
    """A forward target answering compressed bytes, a redirect, and a chunked 429."""
    import gzip

    from aiohttp import web

    async def compressed(request: web.Request) -> web.Response:
        body = gzip.compress(b'{"ABC":{"downlinkData":"0102030405060708"}}', mtime=0)
        return web.Response(body=body, headers={
            "Content-Type": "application/json", "Content-Encoding": "gzip",
            "Content-Language": "de", "Vary": "Accept-Encoding", "X-Target": "t"})

    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "/elsewhere"})

    async def busy(request: web.Request) -> web.StreamResponse:
        answer = web.StreamResponse(status=429, headers={"Retry-After": "120",
                                                         "Content-Type": "text/plain"})
        await answer.prepare(request)  # no length: sent chunked, a hop-by-hop encoding
        await answer.write(b"slow down")
        await answer.write_eof()
        return answer

    app.router.add_post("/gz", compressed)
    app.router.add_post("/moved", moved)
    app.router.add_post("/busy", busy)


def test_forward_to_relays_the_answer_byte_for_byte(listening: Any) -> None:
    import gzip

    from aioserve import ServeThread

    with ServeThread(_target) as target, \
            listening(provider="sigfox", forward_to=target.url + "/gz") as front:
        body = b'{"device":"ABC","data":"01"}'
        with front.client.stream("POST", front.base + "/hook", content=body, headers={
                "Accept-Encoding": "gzip", "Content-Type": "application/json"}) as answer:
            raw = b"".join(answer.iter_raw())
        assert answer.status_code == 200
        assert raw == gzip.compress(b'{"ABC":{"downlinkData":"0102030405060708"}}', mtime=0)
        assert answer.headers["Content-Encoding"] == "gzip"
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["Content-Language"] == "de"
        assert answer.headers["X-Target"] == "t"
        assert answer.headers["Content-Length"] == str(len(raw))
        assert answer.headers.get_list("Content-Encoding") == ["gzip"]
    with ServeThread(_target) as target, \
            listening(provider="iottly", forward_to=target.url + "/moved") as front:
        moved = front.post("{}")
        assert (moved.status_code, moved.headers["Location"]) == (307, "/elsewhere")
    with ServeThread(_target) as target, \
            listening(provider="iottly", forward_to=target.url + "/busy") as front:
        busy = front.post("{}")
        assert (busy.status_code, busy.headers["Retry-After"], busy.content) == (
            429, "120", b"slow down")
        assert "Transfer-Encoding" not in busy.headers  # hop-by-hop: this hop sets a length
        assert busy.headers["Content-Length"] == "9"


def test_forward_to_unreachable_is_502(listening: Any) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with listening(provider="iottly", forward_to=f"http://127.0.0.1:{port}/") as rx:
        assert rx.post("{}").status_code == 502
    assert "forward to" in (rx.sink.seen[0].error or "")


def test_settings_validation() -> None:
    from notifyctl.errors import UsageError

    for bad in ({"path": "hook"}, {"fail_ratio": 1.5}, {"respond": 42}, {"count": 0}):
        with pytest.raises(UsageError):
            Settings(provider="sigfox", **bad).validate()
    # The platform's own options are checked by its receiver, as a listener starts.
    for downlink in ("0011", "zz11223344556677"):
        with pytest.raises(UsageError, match="exactly 16 hex"):
            BackgroundListener(Settings(provider="sigfox", options={"downlink_data": downlink}))
    with pytest.raises(UsageError, match="--callback-password-env"):
        BackgroundListener(Settings(provider="thingspace",
                                    options={"callback_username": "hook"}))
    with pytest.raises(UsageError, match="--verify-key-env"):
        BackgroundListener(Settings(provider="circle"))


# -- never crashes on input ----------------------------------------------------------------------

class Boom:
    provider = "iottly"

    def handle(self, request: Any) -> Any:
        raise RuntimeError("a handler bug")


def make_boom(settings: Any) -> Boom:
    return Boom()


def test_a_handler_bug_answers_500_and_the_receiver_lives_on(
        listening: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from notifyctl import registry
    from notifyctl.contract import Platform

    installed = registry.platforms()
    boom = Platform(name="boom", title="A receiver with a bug", receiver="test_listen:make_boom")
    monkeypatch.setattr(registry, "platforms", lambda: {**installed, "boom": boom})
    with listening(provider="boom") as rx:
        assert [rx.post("{}").status_code for _ in range(2)] == [500, 500]
    assert "handler failed" in capsys.readouterr().err


@pytest.mark.parametrize("provider", ["pelion", "circle", "generic", "iottly", "sigfox"])
def test_handlers_never_raise_on_arbitrary_requests(provider: str) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from notifyctl.contract.receive import Request
    from notifyctl.listen.handlers import make_handler

    options = {"downlink_data": "00" * 8} if provider == "sigfox" else {}
    handler = make_handler(Settings(provider=provider, verify_key=WHSEC, options=options))
    content_types = st.sampled_from(["", "application/json", "text/plain", "application/xml",
                                     "application/x-www-form-urlencoded", "text/xml; x=1"])
    bodies = st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                       st.recursive(st.none() | st.integers() | st.text(max_size=20),
                                    lambda inner: st.lists(inner, max_size=4)
                                    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                                    max_leaves=12).map(lambda v: json.dumps(v).encode()))

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=bodies, ctype=content_types, query=st.text(max_size=40))
    def check(body: bytes, ctype: str, query: str) -> None:
        headers = httpx.Headers({"Content-Type": ctype} if ctype else {})
        if provider == "circle":
            headers["X-Logi-Verify"] = circle_sign(WHSEC, body)
        if provider == "generic":
            headers.update({k.replace("_", "-"): v for k, v in _signed(body).items()})
        if provider in ("pelion", "iottly", "sigfox"):
            headers["Authorization"] = f"Bearer {WHSEC}"
        outcome = handler.handle(Request("POST", "/", query, headers, body,
                                         "2026-11-23T09:00:00.000Z"))
        assert 200 <= outcome.status < 500
        assert outcome.verified is not False  # correctly signed

    check()
