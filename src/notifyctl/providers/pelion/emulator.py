"""The Pelion notification-channel emulator: REST routes, the WebSocket endpoint and the state
of every API key, mounted into the sandbox app.

Each key has at most one channel, of one type (callback or websocket), and one queue. Events
reach a key's queue from the synthetic generator (keys that have a channel), from the control
endpoint ``POST /_sandbox/pelion/events`` (one key, or every channel), and leave it either over
the key's one WebSocket (frames of at most ``max_chunk_size`` items, no ack) or through the
``CallbackDeliverer``. Status codes and close codes follow docs/platforms/pelion.md.

Faults (``POST /_sandbox/faults`` with ``"provider": "pelion"``, optionally ``"api_key"``):
``close`` (with ``code``), ``drop`` and ``stall`` act on the open sockets; ``{"action":
"duplicate", "count": K}`` queues each channel's next K items twice, with the same ``uid``
(as the service re-sends a batch), so a reader's duplicate counting can be checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web  # noqa: TID253 - runs only inside `notifyctl sandbox`

from notifyctl.contract.emulate import GENERATOR_BACKLOG, SandboxContext
from notifyctl.providers.pelion.emulator_delivery import (
    GONE,
    BadRequest,
    CallbackDeliverer,
    DeliveryStats,
    EventQueue,
    Queued,
    Serialization,
    parse_message,
    parse_webhook,
    queued_from,
    verify_callback,
)
from notifyctl.providers.pelion.emulator_socket import ChannelSocket, key_from_upgrade
from notifyctl.providers.pelion.synthetic import Device, SyntheticDevices

BASE = "/v2/notification"
OTHER_CHANNEL = (
    "Another channel type exists for this API key ({other}); delete it first "
    "(DELETE {base}/{path}) and register again"
)


@dataclass
class KeyState:
    """Everything the platform keeps for one API key."""

    key: str
    queue: EventQueue
    callback_stats: DeliveryStats
    channel: str | None = None  # "callback" | "websocket"
    serialization: Serialization = field(default_factory=Serialization)
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    deliverer: CallbackDeliverer | None = None
    socket: ChannelSocket | None = None
    connections: int = 0
    frames: int = 0
    delivered: int = 0
    # Devices whose registration this channel has seen (the generator sends it first).
    known: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "channel": self.channel,
            "serialization": self.serialization.to_json() if self.channel else None,
            "queue_size": len(self.queue),
            "dropped": self.queue.dropped,
            "connected": self.socket is not None,
            "connections": self.connections,
            "frames": self.frames,
            "delivered": self.delivered + self.callback_stats.delivered,
        }
        if self.channel == "callback":
            data["url"] = self.url
            data["headers"] = self.headers
            data["callback"] = self.callback_stats.to_json()
        return data


def _text(status: int, message: str) -> web.Response:
    # v2 error bodies are plain strings.
    return web.Response(status=status, text=message)


class PelionEmulator:
    """The ``pelion`` provider of the sandbox (``contract.emulate.Emulator``); this class is
    the factory the platform declares."""

    name = "pelion"

    def __init__(self, context: SandboxContext) -> None:
        self.context = context
        self.config = context.config
        self.keys: dict[str, KeyState] = {}
        self.devices = SyntheticDevices(self.config.devices, seed=self.config.seed)

    # -- sandbox hooks -------------------------------------------------------------------
    def setup(self, app: web.Application) -> None:
        app.router.add_put(f"{BASE}/callback", self.put_callback)
        app.router.add_get(f"{BASE}/callback", self.get_callback)
        app.router.add_delete(f"{BASE}/callback", self.delete_callback)
        app.router.add_put(f"{BASE}/websocket", self.put_websocket)
        app.router.add_get(f"{BASE}/websocket", self.get_websocket)
        app.router.add_delete(f"{BASE}/websocket", self.delete_websocket)
        app.router.add_get(f"{BASE}/websocket-connect", self.websocket_connect)
        app.router.add_get(f"{BASE}/channel", self.get_channel)
        app.router.add_get(f"{BASE}/pull", self.pull)
        app.router.add_delete(f"{BASE}/pull", self.delete_pull)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for state in self.keys.values():
            if state.socket is not None:
                await state.socket.retire(1001, "server shutting down")
            if state.deliverer is not None:
                await state.deliverer.stop()
                state.deliverer = None

    def state(self) -> dict[str, Any]:
        return {"keys": {key: state.to_json() for key, state in self.keys.items()}}

    def inject(self, body: Any, api_key: str | None) -> dict[str, Any]:
        """Queue a NotificationMessage's items for ``api_key`` (queued even before the key has
        a channel, so a test can inject before its client connects), or for every channel."""
        entries = parse_message(body)
        if api_key is not None:
            targets = [self._state(api_key)]
        else:
            targets = [state for state in self.keys.values() if state.channel]
        for state in targets:
            # Every target gets its own copies: shaping must not leak between keys.
            state.queue.push(queued_from(entry.section, entry.item) for entry in entries)
        return {"queued": len(entries), "keys": len(targets)}

    def generate(self, count: int) -> int:
        """Up to ``count`` synthetic events into every channel's queue, registrations first;
        returns how many. Generated events fill a channel's queue only up to
        ``GENERATOR_BACKLOG`` (injected ones up to ``queue_limit``), and the generator makes
        no more than the roomiest channel takes: a reader that keeps up gets full frames of
        ``max_chunk_size``, and nothing is made only to be dropped."""
        targets = [state for state in self.keys.values() if state.channel]
        if not targets or not self.devices.devices:
            return 0
        count = min(count, max(_room(state) for state in targets))
        if count <= 0:
            return 0
        events = self.devices.batch(count)
        for state in targets:
            state.queue.push(self._queued_for(state, events))
        return count

    def _queued_for(self, state: KeyState, events: list[tuple[str, Any, Device]]
                    ) -> list[Queued]:
        """``events`` as one channel queues them: a device's registration before its first
        event there, a de-registration only of a device the channel knows."""
        known, out = state.known, []
        for section, item, device in events:
            ep = device.ep
            if section in GONE:
                if ep not in known:
                    continue
                known.discard(ep)
            elif ep not in known:
                known.add(ep)
                out.append(Queued("registrations", self.devices.registration(device), ep,
                                  device.original_ep))
            out.append(Queued(section, item, ep, device.original_ep))
        return out

    async def fault(self, fault: dict[str, Any]) -> int:
        """Apply a socket fault (close with a code, drop, stall); returns sockets affected."""
        action = fault.get("action")
        key = fault.get("api_key")
        if action == "duplicate":
            return self._duplicate(fault.get("count"), key)
        sockets = [
            state.socket
            for state in self.keys.values()
            if state.socket is not None and (key is None or state.key == key)
        ]
        for sock in sockets:
            if action == "close":
                code = fault.get("code", 1012)
                if not isinstance(code, int) or not 1000 <= code <= 4999:
                    raise BadRequest(f"close code {code!r}: expected an integer 1000..4999")
                await sock.retire(code, str(fault.get("reason", "sandbox fault")))
            elif action == "drop":
                sock.drop()
            elif action == "stall":
                sock.stall()
            else:
                raise BadRequest(f"unknown fault action {action!r}: use close, drop, stall "
                                 "or duplicate")
        return len(sockets)

    def _duplicate(self, count: Any, key: Any) -> int:
        """The ``duplicate`` fault: the next ``count`` items of the key's queue (or of every
        channel's) are queued twice; returns how many queues it armed."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise BadRequest("duplicate fault: 'count' must be a count (0 or more)")
        if isinstance(key, str):
            targets = [self._state(key)]  # armed even before the key's client connects
        else:
            targets = [state for state in self.keys.values() if state.channel]
        for state in targets:
            state.queue.duplicate = count
        return len(targets)

    # -- helpers ---------------------------------------------------------------------------
    def _state(self, key: str) -> KeyState:
        state = self.keys.get(key)
        if state is None:
            state = self.keys[key] = KeyState(key, EventQueue(self.config.queue_limit),
                                              DeliveryStats(self.context.log("callbacks")))
        return state

    def check_key(self, key: str | None) -> str | None:
        """Why ``key`` is refused (``"401 ..."``/``"403 ..."``), or None when it is accepted."""
        if not key:
            return "401 missing API key: send 'Authorization: Bearer ak_...'"
        if not key.startswith("ak_"):
            return "403 not an access key: channel endpoints need an application key (ak_...)"
        if self.config.api_key is not None and key != self.config.api_key:
            return "401 invalid API key"
        return None

    def _auth(self, request: web.Request) -> KeyState:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else None
        problem = self.check_key(key)
        if problem is not None:
            status, _, message = problem.partition(" ")
            raise _http_error(int(status), message)
        assert key is not None
        return self._state(key)

    async def _json_body(self, request: web.Request, *, required: bool) -> Any:
        raw = await request.read()
        if not raw.strip():
            if required:
                raise _http_error(400, "MALFORMED_JSON_CONTENT: a JSON body is required")
            return None
        if request.content_type not in ("application/json", "application/octet-stream", ""):
            raise _http_error(415, f"unsupported media type {request.content_type}")
        try:
            return json.loads(raw)
        except ValueError:
            raise _http_error(400, "MALFORMED_JSON_CONTENT") from None

    async def _drop_channel(self, state: KeyState, *, close_code: int = 1000) -> None:
        """Remove the channel; its queue is lost, as on the platform."""
        if state.socket is not None:
            await state.socket.retire(close_code, "channel deleted")
        if state.deliverer is not None:
            await state.deliverer.stop()
            state.deliverer = None
        state.channel = None
        state.url = None
        state.headers = {}
        state.known.clear()
        state.queue.clear()

    # -- callback channel ------------------------------------------------------------------
    async def put_callback(self, request: web.Request) -> web.Response:
        state = self._auth(request)
        body = await self._json_body(request, required=True)
        try:
            url, headers, serialization = parse_webhook(body)
        except BadRequest as exc:
            return _text(400, str(exc))
        if state.channel == "websocket":
            return _text(400, OTHER_CHANNEL.format(other="websocket", base=BASE, path="websocket"))
        try:
            await verify_callback(self.context, url, headers, self.config.callback_timeout)
        except BadRequest as exc:
            return _text(400, str(exc))
        # Re-registering replaces the URL but keeps the queue, including an unacked batch.
        if state.deliverer is not None:
            state.queue.push_front(await state.deliverer.stop())
        state.channel, state.url, state.headers = "callback", url, headers
        state.serialization = serialization
        state.deliverer = CallbackDeliverer(
            context=self.context,
            url=url,
            headers=headers,
            queue=state.queue,
            serialization=lambda: state.serialization,
            stats=state.callback_stats,
        )
        state.deliverer.start()
        return web.Response(status=204)

    async def get_callback(self, request: web.Request) -> web.Response:
        state = self._auth(request)
        if state.channel != "callback":
            return _text(404, "no callback channel for this API key")
        return web.json_response(
            {"url": state.url, "headers": state.headers,
             "serialization": state.serialization.to_json()}
        )

    async def delete_callback(self, request: web.Request) -> web.Response:
        state = self._auth(request)
        if state.channel != "callback":
            return _text(404, "no callback channel for this API key")
        await self._drop_channel(state)
        return web.Response(status=204)

    # -- websocket channel -----------------------------------------------------------------
    def _websocket_json(self, state: KeyState) -> dict[str, Any]:
        return {
            "queue_size": len(state.queue),
            "serialization": state.serialization.to_json(),
            "status": "connected" if state.socket is not None else "disconnected",
        }

    async def put_websocket(self, request: web.Request) -> web.Response:
        state = self._auth(request)
        body = await self._json_body(request, required=False)
        if body is not None and not isinstance(body, dict):
            return _text(400, "expected a JSON object")
        try:
            serialization = Serialization.parse((body or {}).get("serialization"))
        except BadRequest as exc:
            return _text(400, str(exc))
        if state.channel == "callback":
            return _text(400, OTHER_CHANNEL.format(other="callback", base=BASE, path="callback"))
        if state.channel == "websocket":
            # The channel exists: the request has no effect.
            return web.json_response({"serialization": state.serialization.to_json()})
        state.channel, state.serialization = "websocket", serialization
        return web.json_response(self._websocket_json(state), status=201)

    async def get_websocket(self, request: web.Request) -> web.Response:
        state = self._auth(request)
        if state.channel != "websocket":
            return _text(404, "no websocket channel for this API key")
        return web.json_response(self._websocket_json(state))

    async def delete_websocket(self, request: web.Request) -> web.Response:
        state = self._auth(request)
        if state.channel != "websocket":
            return _text(404, "no websocket channel for this API key")
        # S21 and the brief: the open socket is closed with 1000 (older S19 text said 1001).
        await self._drop_channel(state, close_code=1000)
        return web.Response(status=204)

    async def get_channel(self, request: web.Request) -> web.Response:
        state = self._auth(request)
        if state.channel is None:
            return _text(404, "no notification channel for this API key")
        mechanism = "CALLBACK" if state.channel == "callback" else "WEB_SOCKET"
        return web.json_response({"delivery_mechanism": mechanism})

    async def pull(self, request: web.Request) -> web.Response:
        self._auth(request)
        # Long polling reached end of life on 2020-06-30.
        return _text(410, "CHANNEL_DELETED: long polling is end of life; use the websocket")

    async def delete_pull(self, request: web.Request) -> web.Response:
        self._auth(request)
        return _text(200, "ALREADY_DELETED")

    async def websocket_connect(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return _text(400, "a WebSocket upgrade request is required")
        key = key_from_upgrade(request)
        ws = web.WebSocketResponse(
            protocols=("wss",), autoping=False, max_msg_size=0, compress=False
        )
        await ws.prepare(request)
        if self.check_key(key) is not None:
            await ws.close(code=1008, message=b"invalid or missing API key")
            return ws
        assert key is not None
        state = self._state(key)
        if state.channel != "websocket":
            await ws.close(code=1011, message=b"no websocket channel for this API key")
            return ws
        sock = ChannelSocket(ws, request, self.context)
        previous, state.socket = state.socket, sock
        state.connections += 1
        if previous is not None:
            await previous.retire(1001, "another connection took over the channel")
        await sock.serve(state)
        if state.socket is sock:
            state.socket = None
            if sock.closed_normally_by_client and state.channel == "websocket":
                # A normal close from the client closes the channel and drops its queue; an
                # abnormal loss (1006, no close frame) keeps both for the next connection.
                await self._drop_channel(state)
        return ws


def _room(state: KeyState) -> int:
    """How many generated events ``state``'s channel takes now."""
    return max(0, GENERATOR_BACKLOG - len(state.queue))


def _http_error(status: int, message: str) -> web.HTTPException:
    error = web.HTTPException(text=message)
    error.set_status(status)
    return error
