"""The Pelion emulator of the sandbox, driven by real HTTP and WebSocket clients (httpx,
websockets) and a small aiohttp receiver for callback channels."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sandbox import SandboxThread
from websockets.asyncio.client import connect

BASE = "/v2/notification"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ws_url(sandbox: SandboxThread) -> str:
    return sandbox.url.replace("http://", "ws://", 1) + f"{BASE}/websocket-connect"


def note(n: int, ep: str = "dev-1") -> dict[str, Any]:
    return {"ep": ep, "path": "/3/0/9", "ct": "text/plain", "payload": "NDA2", "max-age": n}


def test_websocket_channel_round_trip(sandbox: SandboxThread) -> None:
    h = auth(sandbox.api_key)
    assert httpx.get(sandbox.url + f"{BASE}/channel", headers=h).status_code == 404
    created = httpx.put(sandbox.url + f"{BASE}/websocket", headers=h)
    assert created.status_code == 201
    assert created.json()["serialization"]["max_chunk_size"] == 10000
    again = httpx.put(sandbox.url + f"{BASE}/websocket", headers=h)
    assert again.status_code == 200 and set(again.json()) == {"serialization"}
    channel = httpx.get(sandbox.url + f"{BASE}/channel", headers=h)
    assert channel.json() == {"delivery_mechanism": "WEB_SOCKET"}
    sandbox.inject({"notifications": [note(1)]})

    async def receive() -> Any:
        async with connect(ws_url(sandbox), subprotocols=["wss", f"pelion_{sandbox.api_key}"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "wss"
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    assert asyncio.run(receive()) == {"notifications": [note(1)]}
    assert httpx.delete(sandbox.url + f"{BASE}/websocket", headers=h).status_code == 204
    assert httpx.delete(sandbox.url + f"{BASE}/websocket", headers=h).status_code == 404
