"""Logitech Circle: event-type checks, registration against the emulator on a real port (and
the assumed route overridden from profile settings), signatures checked with hmac directly,
the client-notification stream (one-time URLs, no Authorization, asking again after a drop),
and the decoder on arbitrary bytes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
from typing import Any

import pytest
import websockets
from aioserve import serve
from hypothesis import given, settings
from hypothesis import strategies as st

from notifyctl.errors import AuthError, ConfigError, NotFoundError, UsageError, WireError
from notifyctl.http import NetOptions
from notifyctl.providers.circle import signing, wire
from notifyctl.providers.circle.api import (
    CircleClient,
    ServerNotificationsRoute,
    generate_auth_key,
    registration_body,
)
from notifyctl.providers.circle.emulator import CircleEmulator
from notifyctl.providers.circle.stream import CircleStream

NET = NetOptions(timeout=5, retries=0)
KEY, TOKEN = "circle-api-key", "circle-access-token"


def test_fifteen_event_types_and_motion_opt_in() -> None:
    assert len(wire.EVENT_TYPES) == 15 == len(set(wire.EVENT_TYPES))
    assert wire.check_event_types(["activity_created", "activity_created"]) == [
        "activity_created"]
    with pytest.raises(UsageError, match="--yes-motion"):
        wire.check_event_types(["activity_created", "motion_started"])
    assert wire.check_event_types(["motion_ended"], yes_motion=True) == ["motion_ended"]
    with pytest.raises(UsageError, match="not a Circle event type") as info:
        wire.check_event_types(["activity_started"])
    assert "activity_created" in str(info.value)
    with pytest.raises(UsageError, match="at least one"):
        wire.check_event_types([])


def test_registration_body_checks() -> None:
    key = generate_auth_key()
    assert len(key) >= 43 and key != generate_auth_key()
    body = registration_body("https://h/hook", ["activity_finished"], key, user_data='{"a": 1}')
    assert body == {"url": "https://h/hook", "eventTypes": ["activity_finished"],
                    "authKey": key, "userData": {"a": 1}}
    assert "userData" not in registration_body("http://127.0.0.1:9/h", ["summary_created"], key)
    with pytest.raises(UsageError, match="--user-data is not JSON"):
        registration_body("https://h", ["summary_created"], key, user_data="{nope")
    with pytest.raises(UsageError, match="https"):
        registration_body("http://example.com/h", ["summary_created"], key)
    with pytest.raises(UsageError, match="shorter"):
        registration_body("https://h", ["summary_created"], "short")


def test_route_assumption_is_overridable() -> None:
    assert ServerNotificationsRoute.from_settings({}) == ServerNotificationsRoute()
    route = ServerNotificationsRoute.from_settings({
        "server_notifications_path": "/api/accounts/self/serverNotifications",
        "server_notifications_register_method": "put"})
    assert (route.path, route.register_method, route.unregister_method) == (
        "/api/accounts/self/serverNotifications", "PUT", "DELETE")
    with pytest.raises(ConfigError, match="must start with"):
        ServerNotificationsRoute.from_settings({"server_notifications_path": "x"})
    with pytest.raises(ConfigError, match="GET"):
        ServerNotificationsRoute.from_settings({"server_notifications_register_method": "GET"})


async def _register_round_trip(route: ServerNotificationsRoute) -> None:
    emulator = CircleEmulator(api_key=KEY, access_token=TOKEN, route=route)
    async with serve(emulator.install) as url:
        async with CircleClient(url, KEY, TOKEN, route=route, net=NET) as client:
            auth_key = generate_auth_key()
            body = registration_body("https://h/hook", ["activity_created", "motion_started"],
                                     auth_key, user_data='{"site": 7}', yes_motion=True)
            await client.register(body)
            assert emulator.registration == body

            # The delivery Circle would make, checked with nothing but the hmac module.
            target, headers, raw = emulator.signed_delivery(
                "activity_created", {"accessoryId": "acc-1", "activityId": "act-9"})
            expected = base64.b64encode(
                hmac.new(auth_key.encode(), raw, hashlib.sha256).digest()).decode()
            assert target == "https://h/hook" and headers["X-Logi-Verify"] == expected
            assert signing.circle_verify(auth_key, expected, raw) is None
            assert signing.circle_verify(auth_key, expected, raw + b" ") is not None
            [event] = wire.decode(raw)
            assert (event.kind, event.device, event.id) == ("activity_created", "acc-1", "act-9")
            assert json.loads(raw)["userData"] == {"site": 7}

            await client.unregister()
            assert emulator.registration is None
            with pytest.raises(NotFoundError):
                await client.unregister()
        async with CircleClient(url, KEY, "wrong", route=route, net=NET) as client:
            with pytest.raises(AuthError, match="401"):
                await client.register(body)


def test_register_unregister_default_route() -> None:
    asyncio.run(_register_round_trip(ServerNotificationsRoute()))


def test_register_unregister_overridden_route() -> None:
    asyncio.run(_register_round_trip(ServerNotificationsRoute("/custom/notify", "PUT", "DELETE")))


async def _collect(stream: CircleStream, count: int, out: list[bytes]) -> None:
    async with contextlib.aclosing(stream.frames()) as frames:
        async for frame in frames:
            out.append(frame)
            if len(out) >= count:
                return


def test_client_notifications_stream_asks_again_after_a_drop() -> None:
    async def main() -> None:
        emulator = CircleEmulator(api_key=KEY, access_token=TOKEN)
        async with serve(emulator.install) as url, CircleClient(url, KEY, TOKEN, net=NET) as client:
            slept: list[float] = []

            async def sleep(delay: float) -> None:
                slept.append(delay)

            stream = CircleStream(client, event_types=["activity_created"], sleep=sleep,
                                  on_state=lambda _m: None)
            frames: list[bytes] = []
            task = asyncio.create_task(_collect(stream, 3, frames))
            await emulator.wait_sockets(1)
            await emulator.publish("activity_created", {"accessoryId": "a1"})
            await emulator.publish("summary_created", {"accessoryId": "a1"})  # filtered
            await emulator.publish("account_deleted", {})  # always sent
            await emulator.drop_all()
            await emulator.wait_sockets(1)
            await emulator.publish("activity_created", {"accessoryId": "a2"})
            await asyncio.wait_for(task, 5)
            kinds = [stream.decode(f)[0].kind for f in frames]
            assert kinds == ["activity_created", "account_deleted", "activity_created"]
            assert stream.stats.connections == 2 and slept == [1.0]
            assert len(emulator.tickets) == 2  # a fresh URL for each connection
            assert all(t.used for t in emulator.tickets.values())
            assert emulator.refused == []  # never reused, never sent Authorization
            # The emulator really refuses a second use and an Authorization header.
            used = next(iter(emulator.tickets))
            ws_url = url.replace("http", "ws") + f"/circle-sandbox/ws/{used}"
            with pytest.raises(websockets.InvalidStatus):
                async with websockets.connect(ws_url):
                    pass
            assert emulator.refused == ["reused or unknown URL"]

    asyncio.run(main())


def test_stream_stops_on_refused_credentials() -> None:
    async def main() -> None:
        emulator = CircleEmulator(api_key=KEY, access_token=TOKEN)
        async with serve(emulator.install) as url, CircleClient(url, "bad", TOKEN,
                                                                   net=NET) as client:
            stream = CircleStream(client, on_state=lambda _m: None)
            with pytest.raises(AuthError):
                await _collect(stream, 1, [])

    asyncio.run(main())


@pytest.mark.parametrize(("body", "message"), [
    (b"\xff", "not UTF-8"),
    (b"{", "malformed JSON"),
    (b"[]", None),
    (b'"x"', "expected a JSON object"),
    (b'{"eventData": {}}', "eventType"),
    (b'{"eventType": "activity_created", "eventData": []}', "eventData"),
    (b'{"eventType": "activity_created", "eventData": {"accessoryId": 5}}', "accessoryId"),
])
def test_malformed_bodies(body: bytes, message: str | None) -> None:
    if message is None:
        assert wire.decode(body) == []
        return
    with pytest.raises(WireError, match=message):
        wire.decode(body)


def test_unknown_event_types_still_decode() -> None:
    [event] = wire.decode(b'{"eventType": "new_thing", "accountId": "x"}')
    assert event.kind == "new_thing" and event.payload == {}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                              lambda c: st.lists(c, max_size=3)
                              | st.dictionaries(st.sampled_from(
                                  ["eventType", "eventData", "accessoryId", "x"]), c,
                                  max_size=3), max_leaves=10)
                 .map(lambda d: json.dumps(d).encode())))
def test_decoder_on_any_bytes(body: bytes) -> None:
    try:
        events: list[Any] = wire.decode(body)
    except WireError:
        return
    assert all(isinstance(e.kind, str) for e in events)


def test_emulator_refuses_authorization_on_the_one_time_url() -> None:
    async def main() -> None:
        emulator = CircleEmulator(api_key=KEY, access_token=TOKEN)
        async with serve(emulator.install) as url:
            async with CircleClient(url, KEY, TOKEN, net=NET) as client:
                ws_url = await client.client_notification_url()
            with pytest.raises(websockets.InvalidStatus):
                async with websockets.connect(
                        ws_url, additional_headers={"Authorization": f"Bearer {TOKEN}"}):
                    pass
            assert emulator.refused == ["authorization header sent to the one-time URL"]

    asyncio.run(main())
