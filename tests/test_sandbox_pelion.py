"""The Pelion emulator of the sandbox: REST status paths, the WebSocket channel (both auth forms,
every close code, queueing, chunking, reconnects without loss or repetition), socket faults and
a client vanishing mid-frame. Real clients only: httpx for REST, websockets/aiohttp for sockets.
Callback channels, the generator and the CLI are in test_sandbox_callbacks.py."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

import aiohttp
import httpx
import pytest
from sandbox import SandboxThread
from waiting import async_wait_for
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

BASE = "/v2/notification"
ROUTES = [
    ("PUT", "callback"), ("GET", "callback"), ("DELETE", "callback"),
    ("PUT", "websocket"), ("GET", "websocket"), ("DELETE", "websocket"),
    ("GET", "channel"), ("GET", "pull"), ("DELETE", "pull"),
]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def call(
    sb: SandboxThread, method: str, path: str, key: str | None = None, **kw: Any
) -> httpx.Response:
    headers = auth(key or sb.api_key) if key != "" else {}
    headers.update(kw.pop("headers", {}))
    return httpx.request(method, sb.url + f"{BASE}/{path}", headers=headers, timeout=10, **kw)


def ws_url(sb: SandboxThread) -> str:
    return sb.url.replace("http://", "ws://", 1) + f"{BASE}/websocket-connect"


def open_ws(sb: SandboxThread, key: str | None = None, *, header: bool = False) -> Any:
    key = key or sb.api_key
    if header:
        return connect(ws_url(sb), additional_headers=auth(key), proxy=None, max_size=None)
    protocols = [Subprotocol("wss"), Subprotocol(f"pelion_{key}")]
    return connect(ws_url(sb), subprotocols=protocols, proxy=None, max_size=None)


def note(n: int, ep: str = "dev-1") -> dict[str, Any]:
    return {"ep": ep, "path": "/3/0/9", "ct": "text/plain", "payload": "NDA2", "max-age": n}


async def frame(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), 30))


async def closed_with(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 30)
    return ws.close_code


async def registered(sb: SandboxThread, connections: int = 1) -> None:
    """Until the sandbox has made the socket just opened the key's current connection (the
    handshake completes before the server registers it)."""
    await async_wait_for(lambda: sb.key_state().get("connections", 0) >= connections
                         and sb.key_state().get("connected"),
                         what=f"connection {connections} to be the channel's socket")


def websocket_channel(sb: SandboxThread, key: str | None = None, **serialization: Any) -> None:
    body = {"serialization": serialization} if serialization else None
    assert call(sb, "PUT", "websocket", key, json=body).status_code in (200, 201)


# -- REST ------------------------------------------------------------------------------------
def test_websocket_channel_lifecycle(sandbox: SandboxThread) -> None:
    assert call(sandbox, "GET", "channel").status_code == 404
    assert call(sandbox, "GET", "websocket").status_code == 404
    created = call(sandbox, "PUT", "websocket")
    assert created.status_code == 201
    assert created.json() == {
        "queue_size": 0, "status": "disconnected",
        "serialization": {"type": "v2", "max_chunk_size": 10000, "cfg": {
            "deregistrations_as_object": False, "include_uid": False,
            "include_timestamp": False, "include_original_ep": False}},
    }
    again = call(sandbox, "PUT", "websocket", json={"serialization": {"max_chunk_size": 100}})
    assert again.status_code == 200
    assert list(again.json()) == ["serialization"]
    assert again.json()["serialization"]["max_chunk_size"] == 10000  # "no effect"
    assert call(sandbox, "GET", "channel").json() == {"delivery_mechanism": "WEB_SOCKET"}
    assert call(sandbox, "GET", "websocket").json()["status"] == "disconnected"
    assert call(sandbox, "DELETE", "websocket").status_code == 204
    assert call(sandbox, "DELETE", "websocket").status_code == 404
    assert call(sandbox, "GET", "channel").status_code == 404


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_rest_authentication(method: str, path: str) -> None:
    with SandboxThread(api_key="ak_the_one") as sb:
        assert call(sb, method, path, "").status_code == 401
        assert call(sb, method, path, "user_token_123").status_code == 403
        assert call(sb, method, path, "ak_someone_else").status_code == 401
        basic = httpx.request(method, sb.url + f"{BASE}/{path}",
                              headers={"Authorization": "Basic ak_the_one"})
        assert basic.status_code == 401
        assert call(sb, method, path, "ak_the_one").status_code not in (401, 403)


def test_any_ak_key_gets_its_own_state(sandbox: SandboxThread) -> None:
    websocket_channel(sandbox, "ak_first")
    assert call(sandbox, "GET", "channel", "ak_second").status_code == 404
    assert call(sandbox, "PUT", "websocket", "ak_second").status_code == 201
    keys = sandbox.state()["pelion"]["keys"]
    assert keys["ak_first"]["channel"] == keys["ak_second"]["channel"] == "websocket"


def test_shutdown_closes_sockets_with_1001() -> None:
    sb = SandboxThread().start()
    try:
        websocket_channel(sb)

        async def main() -> int | None:
            async with open_ws(sb) as ws:
                await registered(sb)
                await asyncio.to_thread(sb.stop)
                return await closed_with(ws)

        assert asyncio.run(main()) == 1001
    finally:
        sb.stop()


def test_one_channel_type_per_key(sandbox: SandboxThread) -> None:
    websocket_channel(sandbox)
    refused = call(sandbox, "PUT", "callback", json={"url": "http://127.0.0.1:9/hook"})
    assert refused.status_code == 400
    assert "nother channel type exists" in refused.text
    assert "DELETE /v2/notification/websocket" in refused.text
    assert call(sandbox, "GET", "callback").status_code == 404
    assert call(sandbox, "DELETE", "callback").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"headers": {}}, 400, "url"),
        ({"url": "ftp://example/x"}, 400, "http"),
        ({"url": "http://127.0.0.1:9/" + "x" * 380, "headers": {"A": "b" * 30}}, 400, "400"),
        ({"url": "http://127.0.0.1:9/", "headers": {"A": 1}}, 400, "headers"),
        ({"url": "http://127.0.0.1:9/", "serialization": {"max_chunk_size": 99}}, 400, "100"),
        ({"url": "http://127.0.0.1:9/", "serialization": {"type": "v1"}}, 400, "v2"),
        ({"url": "http://127.0.0.1:9/", "serialization": {"cfg": {"include_uid": "yes"}}},
         400, "include_uid"),
        ([1, 2], 400, "Webhook"),
    ],
)
def test_callback_request_validation(
    sandbox: SandboxThread, body: Any, status: int, words: str
) -> None:
    response = call(sandbox, "PUT", "callback", json=body)
    assert response.status_code == status
    assert words in response.text


def test_callback_body_errors(sandbox: SandboxThread) -> None:
    json_type = {"Content-Type": "application/json"}
    xml_type = {"Content-Type": "application/xml"}
    assert call(sandbox, "PUT", "callback", content=b"{oops", headers=json_type).status_code == 400
    assert call(sandbox, "PUT", "callback", content=b"<x/>", headers=xml_type).status_code == 415
    assert call(sandbox, "PUT", "callback").status_code == 400  # no body at all


def test_pull_is_end_of_life(sandbox: SandboxThread) -> None:
    assert call(sandbox, "GET", "pull").status_code == 410
    gone = call(sandbox, "DELETE", "pull")
    assert (gone.status_code, gone.text) == (200, "ALREADY_DELETED")


# -- WebSocket -------------------------------------------------------------------------------
@pytest.mark.parametrize("header", [False, True], ids=["subprotocol", "authorization"])
def test_both_websocket_auth_forms(sandbox: SandboxThread, header: bool) -> None:
    websocket_channel(sandbox)
    sandbox.inject({"notifications": [note(1)]})

    async def main() -> None:
        async with open_ws(sandbox, header=header) as ws:
            assert ws.subprotocol == (None if header else "wss")
            assert await frame(ws) == {"notifications": [note(1)]}
            assert call(sandbox, "GET", "websocket").json()["status"] == "connected"

    asyncio.run(main())


@pytest.mark.parametrize(
    ("key", "channel", "code"),
    [("ak_nochannel", False, 1011), ("user_token", False, 1008), (None, True, 1000)],
)
def test_websocket_refusals_and_delete(
    sandbox: SandboxThread, key: str | None, channel: bool, code: int
) -> None:
    if channel:
        websocket_channel(sandbox)

    async def main() -> int | None:
        async with open_ws(sandbox, key) as ws:
            if code == 1000:
                await registered(sandbox)
                assert call(sandbox, "DELETE", "websocket").status_code == 204
            return await closed_with(ws)

    assert asyncio.run(main()) == code


def test_websocket_missing_or_foreign_key_gets_1008() -> None:
    with SandboxThread(api_key="ak_the_one") as sb:
        websocket_channel(sb)

        async def main() -> list[int | None]:
            codes = []
            async with connect(ws_url(sb), proxy=None) as ws:
                codes.append(await closed_with(ws))
            async with open_ws(sb, "ak_other", header=True) as ws:
                codes.append(await closed_with(ws))
            return codes

        assert asyncio.run(main()) == [1008, 1008]
        plain = httpx.get(ws_url(sb).replace("ws://", "http://"), headers=auth(sb.api_key))
        assert plain.status_code == 400


def test_second_connection_takes_over_with_1001(sandbox: SandboxThread) -> None:
    websocket_channel(sandbox)

    async def main() -> None:
        async with open_ws(sandbox) as first:
            await registered(sandbox)
            async with open_ws(sandbox, header=True) as second:
                assert await closed_with(first) == 1001
                sandbox.inject({"notifications": [note(7)]})
                assert await frame(second) == {"notifications": [note(7)]}

    asyncio.run(main())
    assert sandbox.key_state()["connections"] == 2


def test_queue_while_disconnected_then_reconnect_without_loss_or_repetition(
    sandbox: SandboxThread,
) -> None:
    websocket_channel(sandbox, max_chunk_size=100, cfg={"include_uid": True})
    for batch in range(5):
        sandbox.inject({"notifications": [note(batch * 100 + i) for i in range(100)]})
    assert sandbox.key_state()["queue_size"] == 500

    async def main() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with open_ws(sandbox) as ws:
            got += (await frame(ws))["notifications"]
            sandbox.fault(provider="pelion", action="close", code=1012)
            with pytest.raises(ConnectionClosed):
                while True:
                    got += (await frame(ws))["notifications"]
            assert ws.close_code == 1012
        sandbox.inject({"notifications": [note(500 + i) for i in range(50)]})
        async with open_ws(sandbox, header=True) as ws:
            while len(got) < 550:
                got += (await frame(ws))["notifications"]
        return got

    items = asyncio.run(main())
    assert [item["max-age"] for item in items] == list(range(550))
    assert len({item["uid"] for item in items}) == 550
    assert sandbox.key_state()["queue_size"] == 0


def test_frames_respect_max_chunk_size(sandbox: SandboxThread) -> None:
    websocket_channel(sandbox, type="v2", max_chunk_size="100")
    sandbox.inject({"notifications": [note(i) for i in range(250)],
                    "de-registrations": ["dev-1"]})

    async def main() -> list[int]:
        sizes = []
        async with open_ws(sandbox) as ws:
            while sum(sizes) < 251:
                message = await frame(ws)
                sizes.append(sum(len(items) for items in message.values()))
        return sizes

    assert asyncio.run(main()) == [100, 100, 51]
    assert sandbox.key_state()["frames"] == 3


def test_queue_is_bounded_oldest_dropped() -> None:
    with SandboxThread(queue_limit=10) as sb:
        websocket_channel(sb)
        sb.inject({"notifications": [note(i) for i in range(15)]})
        assert (sb.key_state()["queue_size"], sb.key_state()["dropped"]) == (10, 5)

        async def main() -> Any:
            async with open_ws(sb) as ws:
                return await frame(ws)

        assert [n["max-age"] for n in asyncio.run(main())["notifications"]] == list(range(5, 15))


def test_serialization_cfg_shapes_items(sandbox: SandboxThread) -> None:
    cfg = {"include_uid": "true", "include_timestamp": True, "include_original_ep": "true",
           "deregistrations_as_object": True}
    websocket_channel(sandbox, cfg=cfg)
    sandbox.inject({"notifications": [{**note(0), "original-ep": "my-dev"}],
                    "de-registrations": ["dev-1"], "registrations-expired": [{"ep": "dev-2"}],
                    "async-responses": [{"id": "a-1", "status": 504, "error": "TIMEOUT"}]})

    async def main() -> Any:
        async with open_ws(sandbox) as ws:
            return await frame(ws)

    message = asyncio.run(main())
    item = message["notifications"][0]
    assert isinstance(item["uid"], str) and isinstance(item["timestamp"], int)
    assert item["original-ep"] == "my-dev"
    gone = message["de-registrations"][0]
    assert gone["ep"] == "dev-1" and "uid" in gone and "timestamp" in gone
    assert message["registrations-expired"][0]["ep"] == "dev-2"
    assert message["async-responses"] == [{"id": "a-1", "status": 504, "error": "TIMEOUT"}]


def test_injection_is_validated(sandbox: SandboxThread) -> None:
    url = sandbox.url + "/_sandbox/pelion/events"
    assert httpx.post(url, json={"bogus": []}).status_code == 400
    assert httpx.post(url, json={"notifications": [1]}).status_code == 400
    assert httpx.post(url, json={"notifications": {}}).status_code == 400
    assert httpx.post(url, content=b"nope").status_code == 400
    assert httpx.post(sandbox.url + "/_sandbox/nosuch/events", json={}).status_code == 404


def test_broadcast_injection_reaches_every_channel(sandbox: SandboxThread) -> None:
    websocket_channel(sandbox, "ak_a")
    websocket_channel(sandbox, "ak_b")
    assert sandbox.inject({"notifications": [note(1)]}, broadcast=True)["keys"] == 2
    keys = sandbox.state()["pelion"]["keys"]
    assert keys["ak_a"]["queue_size"] == keys["ak_b"]["queue_size"] == 1


# -- faults ----------------------------------------------------------------------------------
def test_http_status_fault(sandbox: SandboxThread) -> None:
    sandbox.fault(action="http_status", path=f"{BASE}/websocket", method="PUT", status=429,
                  retry_after=1, times=2)
    for _ in range(2):
        limited = call(sandbox, "PUT", "websocket")
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
    assert call(sandbox, "PUT", "websocket").status_code == 201
    assert sandbox.state()["sandbox"]["http_faults"] == []
    sandbox.fault(action="http_status", path=f"{BASE}/*", status=503, times=-1)
    assert call(sandbox, "GET", "channel").status_code == 503
    sandbox.fault(action="clear")
    assert call(sandbox, "GET", "channel").status_code == 200
    bad = httpx.post(sandbox.url + "/_sandbox/faults", json={"action": "http_status"})
    assert bad.status_code == 400


def test_drop_fault_aborts_without_close_frame(sandbox: SandboxThread) -> None:
    websocket_channel(sandbox)

    async def main() -> int | None:
        async with open_ws(sandbox) as ws:
            await registered(sandbox)
            assert sandbox.fault(action="drop")["affected"] == 1
            return await closed_with(ws)

    assert asyncio.run(main()) == 1006
    assert sandbox.key_state()["connected"] is False


def test_server_pings_and_stall_fault() -> None:
    # The sandbox pings PING s after connecting, waits PING s for the pong (it closes with 1001
    # without one: a busy machine must not miss that), then PING s before the next ping.
    interval = 1.0
    with SandboxThread(ping_interval=interval) as sb:
        websocket_channel(sb)

        async def main() -> None:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(ws_url(sb), headers=auth(sb.api_key),
                                              autoping=False) as ws:
                    ping = await ws.receive(timeout=30)
                    assert ping.type is aiohttp.WSMsgType.PING
                    assert len(ping.data) == 4
                    await ws.pong(ping.data)
                    # Client pings are answered until the stall fault.
                    await ws.ping(b"c1")
                    while (msg := await ws.receive(timeout=30)).type is not aiohttp.WSMsgType.PONG:
                        assert msg.type is aiohttp.WSMsgType.PING, msg
                        await ws.pong(msg.data)
                    assert sb.fault(action="stall")["affected"] == 1
                    sb.inject({"notifications": [note(1)]})
                    await ws.ping(b"c2")
                    # Longer than the next ping would take: no pong, no ping, no frame.
                    with pytest.raises(TimeoutError):
                        await ws.receive(timeout=2.5 * interval)
                    assert sb.key_state()["queue_size"] == 1
                    # As a client's keep-alive does: give up on it with 1011, not a normal
                    # close (a normal close from the client would close the channel too).
                    await ws.close(code=aiohttp.WSCloseCode.INTERNAL_ERROR)
                # A new connection is healthy again and gets the queued event.
                async with open_ws(sb) as fresh:
                    assert await frame(fresh) == {"notifications": [note(1)]}

        asyncio.run(main())


def test_unanswered_pings_close_with_1001() -> None:
    with SandboxThread(ping_interval=0.05) as sb:
        websocket_channel(sb)

        async def main() -> int | None:
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(ws_url(sb), headers=auth(sb.api_key), autoping=False) as ws,
            ):
                while (msg := await ws.receive(timeout=30)).type is aiohttp.WSMsgType.PING:
                    pass
                assert msg.type is aiohttp.WSMsgType.CLOSE
                return ws.close_code if ws.close_code is not None else msg.data

        assert asyncio.run(main()) == 1001


def test_client_vanishing_mid_frame(sandbox: SandboxThread) -> None:
    websocket_channel(sandbox)
    big = "x" * 200
    sandbox.inject({"notifications": [{**note(i), "payload": big} for i in range(10000)]})
    host, port = sandbox.url.removeprefix("http://").split(":")
    raw = socket.create_connection((host, int(port)), timeout=5)
    raw.sendall(
        (f"GET {BASE}/websocket-connect HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {sandbox.api_key}\r\n\r\n").encode()
    )
    received = b""
    while b"\r\n\r\n" not in received or len(received) < 4096:
        received += raw.recv(4096)
    assert received.startswith(b"HTTP/1.1 101")
    # Reset the connection (no close frame, no FIN) with most of the frame unread.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
    sandbox.inject({"notifications": [note(99)]})

    async def main() -> int:
        count = 0
        async with open_ws(sandbox) as ws:
            while True:
                items = (await frame(ws))["notifications"]
                count += len(items)
                if items[-1]["max-age"] == 99:
                    return count

    # The sandbox survived; the cut frame may or may not have been counted delivered.
    assert asyncio.run(main()) in (1, 10001)
    assert sandbox.key_state()["connected"] is False
