"""Sandbox routes for the Iottly WebSocket stream (docs/platforms/iottly.md) at
``{prefix}/v1/stream``.

- The handshake needs ``?api_key=`` equal to ``api_key`` (401 otherwise; ``None`` accepts any).
- ``subscribe`` -> ``subscribed`` with a subscription id; ``unsubscribe`` removes it; a device
  outside ``devices`` (when given) gets an ``error`` with code ``not_found``.
- ``publish(device, stream, value)`` sends telemetry to matching subscriptions.
- ``command``: runs on the pretend device of ``emulator_device`` (``echo``, ``exit N``,
  ``stderr TEXT``, ``sleep S``, ``tail -n N FILE``, ``cat``, ``systemctl ACTION UNIT``; anything
  else: exit 127). Output comes as ``command_output`` chunks, then ``command_done``.
- in the sandbox (``IottlySandbox``) injected events are published as telemetry, and the
  generator spreads telemetry over every subscribed (device, stream) in turn.
- WebSocket pings every ``ping_interval`` s (30); no pong within ``pong_timeout`` s (10) closes
  the socket. ``restart()`` closes every socket with 1001, as a server restart does.
The key never appears in ``log`` (it records what the tests and the sandbox may inspect).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web  # noqa: TID253 - the sandbox imports on use

from notifyctl.contract.emulate import GENERATOR_BACKLOG
from notifyctl.events import now_iso
from notifyctl.providers.iottly import emulator_device, wire

if TYPE_CHECKING:
    from notifyctl.contract.emulate import SandboxContext


# What the generator feeds a subscription to every stream (a device's usual telemetry).
GENERATED_STREAMS = ("temp", "hum", "cpu")


@dataclass
class _Client:
    ws: web.WebSocketResponse
    subscriptions: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    last_pong: float = field(default_factory=time.monotonic)


class IottlyEmulator:
    name = "iottly"

    def __init__(
        self,
        api_key: str | None = None,
        devices: Iterable[str] | None = None,
        *,
        ping_interval: float = 30.0,
        pong_timeout: float = 10.0,
    ) -> None:
        self.api_key = api_key
        self.devices = set(devices) if devices is not None else None
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.clients: list[_Client] = []
        self.log: list[dict[str, Any]] = []  # every client message received, parsed
        self.connections = 0
        self._ids = itertools.count(1)

    def install(self, app: web.Application, prefix: str = "") -> None:
        app.router.add_get(prefix + wire.STREAM_PATH, self._stream)

    # -- what the sandbox and tests drive ----------------------------------------------------
    async def publish(self, device: str, stream: str, value: Any) -> int:
        sent = 0
        for client in list(self.clients):
            for sub, (sub_device, streams) in list(client.subscriptions.items()):
                if sub_device == device and (not streams or stream in streams):
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await client.ws.send_str(wire.telemetry(sub, device, stream, value,
                                                                now_iso()))
                        sent += 1
        return sent

    async def restart(self) -> None:
        """Close every socket with 1001 (going away), as the platform does on a restart."""
        for client in list(self.clients):
            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"restarting")

    def subscribed_count(self) -> int:
        return sum(len(c.subscriptions) for c in self.clients)

    async def wait_subscribed(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.subscribed_count() < count:
                await asyncio.sleep(0.005)

    # -- the socket -----------------------------------------------------------------------------
    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if self.api_key is not None and request.query.get("api_key") != self.api_key:
            return web.json_response({"error": "invalid api key"}, status=401)
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.connections += 1
        client = _Client(ws)
        self.clients.append(client)
        pinger = asyncio.create_task(self._ping(client))
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    client.last_pong = time.monotonic()
                elif msg.type == WSMsgType.TEXT and '"command"' in msg.data:
                    # Commands run concurrently (a long one must not block pings or others).
                    task = asyncio.create_task(self._handle(client, msg.data))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif msg.type == WSMsgType.TEXT:
                    await self._handle(client, msg.data)
        finally:
            pinger.cancel()
            for task in tasks:
                task.cancel()
            self.clients.remove(client)
        return ws

    async def _ping(self, client: _Client) -> None:
        while not client.ws.closed:
            await asyncio.sleep(self.ping_interval)
            sent = time.monotonic()
            with contextlib.suppress(ConnectionError, RuntimeError):
                await client.ws.ping()
            await asyncio.sleep(self.pong_timeout)
            if client.last_pong < sent:
                await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"pong timeout")
                return

    async def _send(self, client: _Client, kind: str, payload: dict[str, Any],
                    request_id: str | None) -> None:
        doc: dict[str, Any] = {"type": kind, "payload": payload}
        if request_id is not None:
            doc["request_id"] = request_id
        with contextlib.suppress(ConnectionError, RuntimeError):
            await client.ws.send_str(json.dumps(doc))

    async def _handle(self, client: _Client, text: str) -> None:
        try:
            message = wire.decode_message(text)
        except Exception as exc:  # a malformed client frame gets an error frame, never a crash
            await self._send(client, "error", {"code": "bad_request", "message": str(exc)}, None)
            return
        self.log.append(message.raw)
        payload, rid = message.payload, message.request_id
        if message.type == "subscribe":
            device = payload.get("device_id")
            streams = payload.get("streams") or []
            if not isinstance(device, str) or not isinstance(streams, list):
                await self._send(client, "error", {"code": "bad_request",
                                                   "message": "device_id and streams"}, rid)
            elif self.devices is not None and device not in self.devices:
                await self._send(client, "error", {"code": "not_found",
                                                   "message": f"unknown device {device}"}, rid)
            else:
                sub = f"sub_{next(self._ids)}"
                client.subscriptions[sub] = (device, [str(s) for s in streams])
                await self._send(client, "subscribed", {"subscription_id": sub}, rid)
        elif message.type == "unsubscribe":
            client.subscriptions.pop(str(payload.get("subscription_id")), None)
        elif message.type == "command":
            await self._command(client, payload, rid)

    async def _command(self, client: _Client, payload: dict[str, Any], rid: str | None) -> None:
        device = payload.get("device_id")
        text = payload.get("command")
        if not isinstance(device, str) or not isinstance(text, str):
            await self._send(client, "error", {"code": "bad_request",
                                               "message": "device_id and command"}, rid)
            return
        if self.devices is not None and device not in self.devices:
            await self._send(client, "error", {"code": "not_found",
                                               "message": f"unknown device {device}"}, rid)
            return
        output, code = await emulator_device.run(text)
        for fd, chunk in output:
            await self._send(client, "command_output", {"chunk": chunk, "fd": fd}, rid)
        await self._send(client, "command_done", {"exit_code": code}, rid)


class IottlySandbox(IottlyEmulator):
    """``IottlyEmulator`` as the sandbox's emulator (``contract.emulate.Emulator``), pinging at
    the sandbox's interval; this class is the factory the platform declares."""

    def __init__(self, context: SandboxContext) -> None:
        interval = context.config.ping_interval
        super().__init__(api_key=context.config.api_key, ping_interval=interval,
                         pong_timeout=interval / 3)
        self.context = context
        self._turns = itertools.count()
        self._tasks: set[asyncio.Task[int]] = set()
        self._bursts: set[asyncio.Task[None]] = set()
        self._backlog = 0  # generated values not yet published

    def setup(self, app: web.Application) -> None:
        self.install(app)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for task in list(self._bursts):
            task.cancel()
        await self.restart()

    def inject(self, body: Any, api_key: str | None) -> dict[str, Any]:
        """Publish ``{"device", "stream", "value"}`` objects (or a list) as telemetry."""
        items = body if isinstance(body, list) else [body]
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("device"), str) \
                    or not isinstance(item.get("stream"), str) or "value" not in item:
                raise ValueError("iottly events are {device, stream, value}")
        for item in items:
            self._spawn(self.publish(item["device"], item["stream"], item["value"]))
        return {"queued": len(items)}

    async def fault(self, fault: dict[str, Any]) -> int:
        if fault.get("action") not in ("close", "drop"):
            raise ValueError("iottly faults: close (with code, 1001 = restart) or drop")
        hit = len(self.clients)
        code = int(fault.get("code", WSCloseCode.GOING_AWAY))
        for client in list(self.clients):
            await client.ws.close(code=code)
        return hit

    def generate(self, count: int) -> int:
        """Up to ``count`` telemetry values, each to the next subscribed (device, stream) in
        turn, so every device and stream gets its share whatever the burst size; published in
        order by one task (never a task per value), and none while ``GENERATOR_BACKLOG``
        generated values still wait to be sent."""
        targets = sorted({(device, stream) for c in self.clients
                          for device, streams in c.subscriptions.values()
                          for stream in streams or GENERATED_STREAMS})
        count = min(count, GENERATOR_BACKLOG - self._backlog) if targets else 0
        if count <= 0:
            return 0
        burst = []
        for _ in range(count):
            turn = next(self._turns)
            device, stream = targets[turn % len(targets)]
            burst.append((device, stream, round(20 + turn % 50 * 0.1, 1)))
        self._backlog += count
        self.context.spawn(self._bursts, self._publish_burst(burst))
        return count

    async def _publish_burst(self, burst: list[tuple[str, str, float]]) -> None:
        left = len(burst)
        try:
            for device, stream, value in burst:
                await self.publish(device, stream, value)
                left -= 1
                self._backlog -= 1
        finally:
            self._backlog -= left  # stopped mid-burst: the rest never waits again

    def state(self) -> dict[str, Any]:
        return {"connections": self.connections, "open": len(self.clients),
                "subscriptions": self.subscribed_count()}

    def _spawn(self, job: Coroutine[Any, Any, int]) -> None:
        self.context.spawn(self._tasks, job)
