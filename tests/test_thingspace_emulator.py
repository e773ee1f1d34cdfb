"""The ThingSpace emulator: malformed SOAP both ways (typed errors for the client, Client faults
from the emulator) and the sandbox's delivery of device events to registered listeners."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from thingspace_platform import ACCOUNT, client, new_state, platform, rest_api, run, serve, soap_api

from notifyctl.contract.emulate import SandboxConfig
from notifyctl.errors import UnexpectedAnswer, WireError
from notifyctl.providers.thingspace import emulator, emulator_delivery, soap, wire
from notifyctl.providers.thingspace.emulator_delivery import ThingSpaceEmulator, sample_body
from notifyctl.sandbox import EmulatorContext


def malformed_app(body: bytes, status: int = 200, seen: list[str] | None = None
                  ) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        if seen is not None:
            seen.append(request.match_info["service"])
        return web.Response(body=body, status=status, content_type="text/xml")

    app = web.Application()
    app.router.add_post("/api/v2/{service}", answer)
    return app


BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                   for i in range(1, 10))
        + b']><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
          b"<x>&lol9;</x></s:Body></s:Envelope>")
XXE = (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&x;'
       b"</s:Body></s:Envelope>")


@pytest.mark.parametrize(("body", "status", "message", "kind"), [
    (b"hello, not XML", 200, "malformed XML", soap.SoapMalformed),
    # An HTML page is not ThingSpace's answer at all: said with the URL and a snippet.
    (b"<html><body>proxy error</body></html>", 500, "HTTP 500 .*not ThingSpace's SOAP.*proxy",
     UnexpectedAnswer),
    (b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
     200, "not a SOAP 1.1", soap.SoapMalformed),
    (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
     b'<LogInResponse xmlns="urn:wrong"/></s:Body></s:Envelope>', 200, "expected",
     soap.SoapMalformed),
    (BOMB, 200, "refused", soap.SoapMalformed),
    (XXE, 200, "refused", soap.SoapMalformed),
])
def test_malformed_soap_answers_are_typed_errors(body: bytes, status: int, message: str,
                                                 kind: type[WireError]) -> None:
    async def scenario() -> None:
        seen: list[str] = []
        async with serve(malformed_app(body, status, seen)) as base, soap_api(base) as ts:
            with pytest.raises(kind, match=message) as info:
                await ts.list()
            assert len(seen) == 1, seen  # a malformed answer is final: never asked again
            assert isinstance(info.value, WireError) and info.value.exit_code == 2
            assert "root:" not in str(info.value)  # nothing of /etc/passwd leaked

    run(scenario)


@pytest.mark.parametrize(("body", "action", "message"), [
    (b"not xml at all", None, "malformed XML"),
    (BOMB, None, "refused"),
    (XXE, None, "refused"),
    (soap.login("alice", "s3cret"), "http://nphase.com/unifiedwebservice/v2/ISessionService/LogOut",
     "does not match"),
    (soap.login("alice", "s3cret").replace(soap.NS_V2.encode(), b"urn:other"), None,
     "not in namespace"),
])
def test_emulator_answers_malformed_requests_with_a_client_fault(
        body: bytes, action: str | None, message: str) -> None:
    state = new_state()

    async def scenario() -> None:
        async with platform(state) as base, client() as http:
            headers = {"Content-Type": "text/xml"}
            if action:
                headers["SOAPAction"] = f'"{action}"'
            response = await http.post(base + "/api/v2/SessionService.svc", content=body,
                                       headers=headers)
            assert response.status_code == 500
            _header, first = soap.parse_envelope(response.content)
            fault = soap.fault_of(first)
            assert fault is not None and fault.code == "a:Client"
            assert message in fault.message

    run(scenario)
    assert state.sessions == {}


class Receiver:
    """A callback receiver that answers each path from a script of statuses (then 200)."""

    def __init__(self, script: dict[str, list[int]]) -> None:
        self.script = script
        self.got: dict[str, list[tuple[dict[str, str], bytes]]] = {}

    async def handle(self, request: web.Request) -> web.Response:
        self.got.setdefault(request.path, []).append((dict(request.headers),
                                                      await request.read()))
        statuses = self.script.get(request.path, [])
        return web.Response(status=statuses.pop(0) if statuses else 200)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        return app


def emulated(state: emulator.ThingSpaceState, **options: Any) -> ThingSpaceEmulator:
    """The ThingSpace emulator with the context the sandbox hands it: the replay engine's
    delivery on the sandbox's own HTTP session (closed by ``stopped``)."""
    return ThingSpaceEmulator(EmulatorContext(SandboxConfig()), state, **options)


async def stopped(emu: ThingSpaceEmulator) -> None:
    """Stop ``emu`` as the sandbox does: the emulator first, then the delivery session."""
    await emu.stop()
    assert isinstance(emu.context, EmulatorContext)
    await emu.context.close()


def test_sandbox_delivers_with_credentials_until_acknowledged() -> None:
    state = new_state()
    receiver = Receiver({"/rest": [500, 502], "/soap": [503] * 10})
    emu = emulated(state, retry_interval=0.01, devices=2)

    async def scenario() -> None:
        app = web.Application()
        emu.setup(app)
        async with serve(app) as base, serve(receiver.app()) as hook:
            await emu.start()
            try:
                async with soap_api(base) as ts:
                    await ts.register("DeviceUsage", hook + "/soap", "soapuser", "soap<pw>")
                async with rest_api(base) as ts:
                    await ts.register("NiddService", hook + "/rest", "restuser", "restpw")
                assert emu.inject([
                    {"service": "DeviceUsage", "requestId": "req-soap",
                     "deviceIds": [{"id": "3124705797", "kind": "MDN"}]},
                    {"service": "NiddService", "requestId": "req-rest"},
                    {"service": "CarrierService"},  # nobody listens: nothing is sent
                ], None) == {"queued": 2}
                await emu.wait_idle(10)
            finally:
                await stopped(emu)

    run(scenario)
    soap_posts, rest_posts = receiver.got["/soap"], receiver.got["/rest"]
    assert len(soap_posts) == 4  # maxCallbackThreshold sends, then abandoned
    for headers, body in soap_posts:
        assert headers["Content-Type"].startswith("text/xml")
        callback = wire.decode_callback(body)
        assert (callback.kind, callback.request_id, callback.devices) == (
            "DeviceUsage", "req-soap", [wire.DeviceId("MDN", "3124705797")])
        assert callback.credentials_match("soapuser", "soap<pw>")
    callbacks = [wire.decode_callback(body) for _, body in rest_posts]
    assert [c.callback_count for c in callbacks] == [1, 2, 3]  # acknowledged on the third
    assert {c.max_callback_threshold for c in callbacks} == {4}
    assert all(c.credentials_match("restuser", "restpw") and c.kind == "niddResponse"
               and c.request_id == "req-rest" for c in callbacks)
    assert emu.state()["deliveries"] == {"sent": 7, "acknowledged": 1, "abandoned": 1,
                                         "retried": 5}
    assert emu.state()["statuses"] == {"503": 4, "500": 1, "502": 1, "200": 1}
    recent = sorted((r["url"].rsplit("/", 1)[1], r["attempt"], r["status"])
                    for r in emu.state()["recent"])
    assert recent == [("rest", 1, 500), ("rest", 2, 502), ("rest", 3, 200),
                      *(("soap", n, 503) for n in (1, 2, 3, 4))]
    shown = json.dumps(emu.state())
    assert "restpw" not in shown and "soap<pw>" not in shown
    assert emu.state()["sessions"] == 0


def test_generate_and_inject_checks() -> None:
    state = new_state()
    receiver = Receiver({})
    emu = emulated(state, retry_interval=0.01, devices=3)

    async def scenario() -> None:
        async with serve(receiver.app()) as hook:
            await emu.start()
            try:
                emu.generate(5)  # no listeners yet: nothing to do
                assert emu.queue.qsize() == 0
                state.register("soap", ACCOUNT, "PromoChange", hook + "/a", "", "")
                state.register("rest", ACCOUNT, "CarrierService", hook + "/b", "u", "p")
                emu.generate(6)
                await emu.wait_idle(10)
                for bad in ({"service": 5}, [{"service": "PromoChange", "deviceIds": [{}]}],
                            {"service": "PromoChange", "data": {"bad name": "x"}},
                            {"service": "PromoChange", "requestId": 7}):
                    with pytest.raises(ValueError, match="thingspace event"):
                        emu.inject(bad, None)
            finally:
                await stopped(emu)

    run(scenario)
    assert len(receiver.got["/a"]) == 3 and len(receiver.got["/b"]) == 3
    kinds = {wire.decode_callback(body).kind for _, body in receiver.got["/a"]}
    assert kinds == {"PromoChange"}
    devices = {wire.decode_callback(body).devices[0].id for _, body in receiver.got["/b"]}
    assert len(devices) > 1  # events come from several synthetic devices


def test_unreachable_listener_is_abandoned_after_the_threshold() -> None:
    state = new_state()
    emu = emulated(state, retry_interval=0.01, timeout=2)

    async def scenario() -> None:
        async with serve(web.Application()) as gone:
            pass  # closed again: connections are refused
        await emu.start()
        try:
            state.register("rest", ACCOUNT, "DeviceUsage", gone + "/x", "", "")
            emu.generate(1)
            await emu.wait_idle(10)
        finally:
            await stopped(emu)

    run(scenario)
    deliveries = emu.state()["deliveries"]
    assert deliveries["errors"] == 4 and deliveries["abandoned"] == 1


def test_queue_limit_drops_events() -> None:
    state = new_state()
    emu = emulated(state, queue_limit=2)
    state.register("rest", ACCOUNT, "DeviceUsage", "http://127.0.0.1:9/x", "", "")
    emu.generate(5)  # not started: nothing drains the queue
    assert emu.state()["queued"] == 2 and emu.state()["deliveries"] == {"dropped": 3}


def test_retry_waits_are_the_rules_retry_base() -> None:
    """The sandbox's retry interval x retry_base is the wait between sends (the engine's)."""
    state = new_state()
    receiver = Receiver({"/slow": [500, 500]})
    times: list[float] = []
    handle = receiver.handle

    async def timed(request: web.Request) -> web.Response:
        times.append(time.monotonic())
        return await handle(request)

    receiver.handle = timed  # type: ignore[method-assign]
    emu = emulated(state, retry_interval=2.0, retry_base=0.05)

    async def scenario() -> None:
        async with serve(receiver.app()) as hook:
            await emu.start()
            try:
                state.register("rest", ACCOUNT, "DeviceUsage", hook + "/slow", "", "")
                emu.generate(1)
                await emu.wait_idle(10)
            finally:
                await stopped(emu)

    run(scenario)
    assert len(times) == 3 and emu.state()["deliveries"]["acknowledged"] == 1
    assert all(0.09 <= later - earlier < 2 for earlier, later in itertools.pairwise(times))


def test_no_delivery_loop_outside_the_engine() -> None:
    """Sends, retries and timeouts are the sandbox's sender (replay's Deliverer, see
    test_sandbox.py) with the ThingSpace rules: the emulator has no HTTP call, wait or
    timer of its own."""
    source = Path(emulator_delivery.__file__).read_text()
    for own in (".post(", ".request(", "sleep(", "call_later", "ClientTimeout",
                "with_callback_count", "allow_redirects"):
        assert own not in source, own
    assert "context.sender(" in source and "ThingSpaceRules" in source


def test_sample_bodies_carry_the_registered_credentials() -> None:
    device = wire.DeviceId("IMEI", "490154203237518")
    for api_name, service in (("soap", "DeviceUsage"), ("rest", "NiddService"),
                              ("rest", "CarrierService"), ("soap", "ResumeTrackingNotification")):
        listener = emulator.Listener(ACCOUNT, service, "http://127.0.0.1:1/x", "cbu", "cbp",
                                     api_name)
        body, ctype = sample_body(listener, "req-1", device, callback_count=2)
        callback = wire.decode_callback(body, ctype)
        assert callback.form == api_name
        assert callback.credentials_match("cbu", "cbp")
        assert callback.devices == [device] and callback.request_id == "req-1"
        if api_name == "soap":
            assert callback.kind == service
        else:
            assert callback.callback_count == 2 and callback.max_callback_threshold == 4
