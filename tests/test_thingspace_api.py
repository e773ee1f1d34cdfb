"""ThingSpace SoapApi/RestApi against the real emulator (aiohttp on 127.0.0.1 port 0).

Covers round trips over SOAP and REST, the envelopes on the wire (checked by Clark name with a
namespace-aware parser), session expiry (re-login exactly once), bad and locked logins (never
retried), faults and error bodies as typed errors. Malformed SOAP and deliveries:
test_thingspace_emulator.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from thingspace_platform import (
    ACCOUNT,
    CB,
    SESSION,
    Clock,
    client,
    new_state,
    platform,
    rest_api,
    run,
    serve,
    soap_api,
)

from notifyctl import xmlsafe
from notifyctl.errors import AuthError, ConfigError, InvalidRequest, NetworkError, NotFoundError
from notifyctl.providers.thingspace import api, soap
from notifyctl.providers.thingspace.soap import NS_ENV, NS_V2

# ---- SOAP ---------------------------------------------------------------------------------------

def test_soap_round_trip_and_envelopes() -> None:
    state = new_state()
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def scenario() -> None:
        async with platform(state, seen) as base, soap_api(base) as ts:
            first = await ts.register("DeviceUsage", "https://h.example:9001/u", "cbuser", "cbpw")
            assert first == api.Registration(ACCOUNT, "DeviceUsage", "https://h.example:9001/u",
                                             "cbuser", "****")
            await ts.register("CarrierService", "https://h.example/c")
            # One listener per service per account: registering again replaces it.
            await ts.register("DeviceUsage", "https://h.example:9002/u2", "other", "pw2")
            listed = await ts.list()
            assert [(r.service, r.url, r.username, r.password) for r in listed] == [
                ("CarrierService", "https://h.example/c", "", ""),
                ("DeviceUsage", "https://h.example:9002/u2", "other", ""),
            ]
            await ts.unregister("DeviceUsage")
            assert [r.service for r in await ts.list()] == ["CarrierService"]
        assert state.sessions == {}  # logged out at the end

    run(scenario)
    ops = [call for call in state.calls]
    assert ops[0] == "soap:LogIn" and ops[-1] == "soap:LogOut" and ops.count("soap:LogIn") == 1

    by_op: dict[str, tuple[dict[str, str], Any]] = {}
    for path, headers, body in seen:
        root = xmlsafe.parse(body)
        assert root.tag == f"{{{NS_ENV}}}Envelope"
        op_el = root.find(f"{{{NS_ENV}}}Body")[0]  # type: ignore[index]
        op = op_el.tag.removeprefix(f"{{{NS_V2}}}")
        service = soap.OPERATIONS[op]
        assert path == f"/ts/api/v2/{service}.svc"
        assert headers["SOAPAction"] == f'"http://nphase.com/unifiedwebservice/v2/I{service}/{op}"'
        assert headers["Content-Type"].startswith("text/xml")
        by_op.setdefault(op, (headers, root))

    login = by_op["LogIn"][1]
    assert login.find(f"{{{NS_ENV}}}Header") is not None
    assert login.find(f"{{{NS_ENV}}}Header/{{{NS_V2}}}token") is None  # LogIn has no token
    fields = login.find(f"{{{NS_ENV}}}Body/{{{NS_V2}}}LogIn/{{{NS_V2}}}Input")
    assert [(c.tag, c.text) for c in fields] == [  # type: ignore[union-attr]
        (f"{{{SESSION}}}Username", "alice"), (f"{{{SESSION}}}Password", "s3cret")]

    register = by_op["RegisterCallback"][1]
    assert register.findtext(f"{{{NS_ENV}}}Header/{{{NS_V2}}}token")
    fields = register.find(f"{{{NS_ENV}}}Body/{{{NS_V2}}}RegisterCallback/{{{NS_V2}}}Input")
    assert [(c.tag, c.text or "") for c in fields] == [  # type: ignore[union-attr]
        (f"{{{CB}}}AccountName", ACCOUNT), (f"{{{CB}}}ServiceName", "DeviceUsage"),
        (f"{{{CB}}}Url", "https://h.example:9001/u"), (f"{{{CB}}}Username", "cbuser"),
        (f"{{{CB}}}Password", "cbpw")]
    unregister = by_op["UnregisterCallback"][1]
    fields = unregister.find(f"{{{NS_ENV}}}Body/{{{NS_V2}}}UnregisterCallback/{{{NS_V2}}}Input")
    assert [c.tag for c in fields] == [f"{{{CB}}}AccountName", f"{{{CB}}}ServiceName"]  # type: ignore[union-attr]
    listing = by_op["GetCallbackRegistrations"][1]
    assert listing.findtext(
        f"{{{NS_ENV}}}Body/{{{NS_V2}}}GetCallbackRegistrations/{{{NS_V2}}}Input/{{{CB}}}AccountName"
    ) == ACCOUNT


def test_soap_optional_fields_are_sent_empty() -> None:
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def scenario() -> None:
        async with platform(new_state(), seen) as base, soap_api(base) as ts:
            await ts.register("CarrierService", "https://h.example/c")

    run(scenario)
    body = next(b for p, _, b in seen if b"RegisterCallback>" in b)
    fields = xmlsafe.parse(body).find(
        f"{{{NS_ENV}}}Body/{{{NS_V2}}}RegisterCallback/{{{NS_V2}}}Input")
    assert {c.tag: c.text for c in fields}[f"{{{CB}}}Password"] is None  # type: ignore[union-attr]
    assert len(fields) == 5  # type: ignore[arg-type]


def test_soap_idle_session_expires_and_is_renewed_once() -> None:
    clock = Clock()
    state = new_state(clock)

    async def scenario() -> None:
        async with platform(state) as base, soap_api(base) as ts:
            await ts.list()
            clock.now += 1199  # idle less than 20 minutes: still valid, timer restarts
            await ts.list()
            clock.now += 1199
            await ts.list()
            clock.now += 1201  # expired: one fault, one new LogIn, the call resent
            await ts.register("DeviceUsage", "https://h.example/u")

    run(scenario)
    assert state.calls == ["soap:LogIn", "soap:GetCallbackRegistrations",
                           "soap:GetCallbackRegistrations", "soap:GetCallbackRegistrations",
                           "soap:RegisterCallback", "soap:LogIn", "soap:RegisterCallback",
                           "soap:LogOut"]
    assert ("0000123456-00001", "DeviceUsage") in state.listeners


def test_soap_expiring_again_after_relogin_is_raised_not_looped() -> None:
    state = new_state()

    async def scenario() -> None:
        async with platform(state) as base, soap_api(base) as ts:
            await ts.list()
            state.idle_timeout = -1  # every session is now expired on its next use
            with pytest.raises(soap.SessionExpired) as info:
                await ts.list()
            assert info.value.exit_code == 3

    run(scenario)
    assert state.calls.count("soap:LogIn") == 2


def test_soap_bad_credentials_exit_3_and_never_retried() -> None:
    state = new_state()

    async def scenario() -> None:
        async with platform(state) as base, soap_api(base, password="wrong") as ts:
            with pytest.raises(soap.BadCredentials) as info:
                await ts.list()
            assert info.value.exit_code == 3
            assert "Invalid username or password" in str(info.value)
            with pytest.raises(AuthError, match="already failed"):
                await ts.register("DeviceUsage", "https://h.example/u")

    run(scenario)
    assert state.calls == ["soap:LogIn"]
    assert state.failed_logins == {"alice": 1}


def test_soap_account_locks_after_five_failed_logins() -> None:
    state = new_state()

    async def scenario() -> None:
        async with platform(state) as base:
            for _ in range(5):
                async with soap_api(base, password="wrong") as ts:
                    with pytest.raises(soap.BadCredentials):
                        await ts.list()
            async with soap_api(base) as ts:  # the right password, too late
                with pytest.raises(soap.AccountLocked) as info:
                    await ts.list()
                assert info.value.exit_code == 3 and "unlock" in str(info.value)

    run(scenario)
    assert state.calls.count("soap:LogIn") == 6 and "alice" in state.locked


def test_soap_faults_become_typed_errors() -> None:
    state = new_state()

    async def scenario() -> None:
        async with platform(state) as base, soap_api(base) as ts:
            with pytest.raises(NotFoundError, match="No callback is registered"):
                await ts.unregister("DeviceUsage")
            with pytest.raises(soap.SoapFault, match="InvalidServiceName") as info:
                await ts.register("NoSuchService", "https://h.example/u")
            assert info.value.exit_code == 2
            state.sessions.clear()  # the platform forgot the session (not an expiry)
            with pytest.raises(soap.InvalidToken) as bad:
                await ts.list()
            assert bad.value.exit_code == 3

    run(scenario)
    assert state.calls.count("soap:LogIn") == 1  # an invalid token is not an expiry


def test_network_failure_is_exit_5() -> None:
    async def scenario() -> None:
        async with serve(web.Application()) as base:
            pass  # the port is closed again: nothing listens there any more
        async with soap_api(base) as ts:
            with pytest.raises(NetworkError) as info:
                await ts.list()
            assert info.value.exit_code == 5

    run(scenario)


# ---- REST ---------------------------------------------------------------------------------------

def test_rest_round_trip_headers_and_masking() -> None:
    state = new_state()
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def scenario() -> None:
        async with platform(state, seen) as base, rest_api(base) as ts:
            assert await ts.list() == []  # the platform's empty body
            reg = await ts.register("NiddService", "https://h.example:50551/n", "cbuser", "cbpw")
            assert reg == api.Registration(ACCOUNT, "NiddService", "https://h.example:50551/n",
                                           "cbuser", "****")
            await ts.register("NiddService", "https://h.example:50552/n2", "u2", "p2")
            await ts.register("CarrierService", "https://h.example/c")
            listed = await ts.list()
            assert [r.as_dict() for r in listed] == [
                {"account": ACCOUNT, "service": "CarrierService", "url": "https://h.example/c",
                 "username": "", "password": ""},
                {"account": ACCOUNT, "service": "NiddService", "url": "https://h.example:50552/n2",
                 "username": "u2", "password": "****"},
            ]
            await ts.unregister("NiddService")
            assert [r.service for r in await ts.list()] == ["CarrierService"]
        assert state.sessions == {}

    run(scenario)
    assert state.calls[:2] == ["rest:oauth", "rest:login"] and state.calls[-1] == "rest:logout"
    assert state.calls.count("rest:login") == 1
    token_req = next(item for item in seen if item[0].endswith("/oauth2/token"))
    assert token_req[1]["Authorization"].startswith("Basic ")
    assert token_req[2] == b"grant_type=client_credentials"
    registers = [item for item in seen if item[0].endswith(f"/callbacks/{ACCOUNT}")
                 and item[2]]
    assert json.loads(registers[0][2]) == {"name": "NiddService", "url":
                                           "https://h.example:50551/n", "username": "cbuser",
                                           "password": "cbpw"}
    assert json.loads(registers[-1][2]) == {"name": "CarrierService",
                                            "url": "https://h.example/c"}
    for path, headers, _body in seen:
        if "/m2m/v1/callbacks/" in path:
            assert headers["Authorization"].startswith("Bearer ")
            assert headers["VZ-M2M-Token"]
    assert any(p == f"/ts/api/m2m/v1/callbacks/{ACCOUNT}/name/NiddService" for p, _, _ in seen)


def test_rest_expired_session_relogs_once() -> None:
    clock = Clock()
    state = new_state(clock)

    async def scenario() -> None:
        async with platform(state) as base, rest_api(base, clock=clock) as ts:
            await ts.list()
            clock.now += 1201
            await ts.register("DeviceUsage", "https://h.example/u")
            state.idle_timeout = -1
            with pytest.raises(AuthError, match=r"SessionToken\.Expired"):
                await ts.list()

    run(scenario)
    assert state.calls.count("rest:login") == 3  # first, the renewal, the one failed renewal
    assert state.calls.count("rest:register") == 2


def test_rest_error_bodies_shown_as_such() -> None:
    async def scenario() -> None:
        async with platform(new_state()) as base, rest_api(base) as ts:
            with pytest.raises(InvalidRequest) as info:
                await ts.register("Bogus", "https://h.example/u")
            assert "Request.InvalidServiceName: Unknown service 'Bogus'" in str(info.value)
            assert info.value.exit_code == 2
            with pytest.raises(NotFoundError, match=r"Callback\.NotFound") as missing:
                await ts.unregister("DeviceUsage")
            assert missing.value.exit_code == 4

    run(scenario)


def test_rest_bad_login_is_not_retried_and_locks() -> None:
    state = new_state()

    async def scenario() -> None:
        async with platform(state) as base:
            async with rest_api(base, password="wrong") as ts:
                with pytest.raises(soap.BadCredentials) as info:
                    await ts.list()
                assert info.value.exit_code == 3
                with pytest.raises(AuthError, match="already failed"):
                    await ts.list()
            assert state.calls.count("rest:login") == 1
            for _ in range(4):
                async with rest_api(base, password="wrong") as ts:
                    with pytest.raises(soap.BadCredentials):
                        await ts.list()
            async with rest_api(base) as ts:
                with pytest.raises(soap.AccountLocked):
                    await ts.list()
            async with rest_api(base, client_secret="nope") as ts:
                with pytest.raises(AuthError, match="OAuth2 client credentials") as oauth:
                    await ts.list()
                assert oauth.value.exit_code == 3

    run(scenario)
    assert state.calls.count("rest:login") == 6


def test_open_api_picks_the_client() -> None:
    soap_client = api.open_api("soap", api.REST_URL, ACCOUNT, username="u", password="p")
    assert isinstance(soap_client, api.SoapApi) and soap_client.base_url == api.SOAP_URL
    rest = api.open_api("rest", None, ACCOUNT, username="u", password="p", client_id="i",
                        client_secret="s")
    assert isinstance(rest, api.RestApi) and rest.base_url == api.REST_URL
    with pytest.raises(ConfigError, match="client credentials"):
        api.open_api("rest", None, ACCOUNT, username="u", password="p")
    with pytest.raises(Exception, match="unknown ThingSpace api"):
        api.open_api("grpc", None, ACCOUNT, username="u", password="p")
    run(soap_client.aclose)
    run(rest.aclose)


def test_missing_account_is_a_usage_error() -> None:
    async def scenario() -> None:
        async with platform(new_state()) as base:
            ts = api.SoapApi(base + "/api/v2", None, "alice", "s3cret", client=client())
            async with ts:
                with pytest.raises(Exception, match="no ThingSpace account") as info:
                    await ts.list()
                assert info.value.exit_code == 2  # type: ignore[attr-defined]

    run(scenario)
