"""Sandbox routes for Logitech Circle: server-notification registration (at the assumed route of
``api.ServerNotificationsRoute``) and client notifications (one-time WebSocket URLs).

``CircleEmulator.install(app)`` adds the routes. Requests need the configured ``X-API-Key`` and
Bearer token (401 otherwise). A client-notification URL is valid ``url_ttl`` seconds and for one
connection; a handshake that reuses it, comes late, or carries an ``Authorization`` header is
refused (410 / 410 / 400), so a client breaking the rules fails visibly. ``publish`` pushes an
event to every matching open socket; ``drop_all`` closes them (1001). ``signed_delivery`` builds
the server notification Circle would POST to the registered URL; ``emulator_delivery`` runs
this emulator in the sandbox and sends those through the sandbox's sender (the replay engine).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import WSCloseCode, web  # noqa: TID253 - the sandbox imports emulators on use

from notifyctl.events import now_iso
from notifyctl.providers.circle import signing, wire
from notifyctl.providers.circle.api import CLIENT_NOTIFICATIONS_PATH, ServerNotificationsRoute

WS_PATH = "/circle-sandbox/ws/{token}"


@dataclass
class _Socket:
    ws: web.WebSocketResponse
    accessories: list[str]
    event_types: list[str]


GENERATED_ACCESSORIES = 5


@dataclass
class _Ticket:
    created: float
    accessories: list[str]
    event_types: list[str]
    used: bool = False


@dataclass
class CircleEmulator:
    name: ClassVar[str] = "circle"
    api_key: str | None = None
    access_token: str | None = None
    account_id: str = "9385e6f9-70c3-45b2-62e4-ace3d027988a"
    route: ServerNotificationsRoute = field(default_factory=ServerNotificationsRoute)
    url_ttl: float = 30.0
    prefix: str = ""
    registration: dict[str, Any] | None = None
    sockets: list[_Socket] = field(default_factory=list)
    tickets: dict[str, _Ticket] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # why handshakes were refused
    _turns: Iterator[int] = field(default_factory=itertools.count)

    def install(self, app: web.Application, prefix: str = "") -> None:
        self.prefix = prefix
        app.router.add_route(self.route.register_method, prefix + self.route.path,
                             self._register)
        if self.route.unregister_method != self.route.register_method:
            app.router.add_route(self.route.unregister_method, prefix + self.route.path,
                                 self._unregister)
        app.router.add_post(prefix + CLIENT_NOTIFICATIONS_PATH, self._ticket)
        app.router.add_get(prefix + WS_PATH, self._socket)

    def generated(self) -> dict[str, Any]:
        """The next synthetic activity: the accessories in turn (whatever the burst size),
        stamped now as Circle's activities are."""
        turn = next(self._turns)
        return {"accessoryId": f"acc-{turn % GENERATED_ACCESSORIES}",
                "activityId": secrets.token_hex(8), "startTime": now_iso()}

    # -- what the sandbox and tests drive ----------------------------------------------------
    async def publish(self, event_type: str, event_data: Mapping[str, Any]) -> int:
        """Send an event to every open socket that asked for it; returns how many got it."""
        body = wire.encode(event_type, dict(event_data), account_id=self.account_id).decode()
        accessory = event_data.get("accessoryId")
        sent = 0
        for socket in list(self.sockets):
            if socket.event_types and event_type not in socket.event_types and \
                    event_type != wire.ALWAYS_SENT:
                continue
            if socket.accessories and accessory not in socket.accessories:
                continue
            if not socket.ws.closed:
                await socket.ws.send_str(body)
                sent += 1
        return sent

    async def drop_all(self, code: int = WSCloseCode.GOING_AWAY) -> None:
        for socket in list(self.sockets):
            await socket.ws.close(code=code)

    def signed_delivery(self, event_type: str, event_data: Mapping[str, Any]
                        ) -> tuple[str, dict[str, str], bytes]:
        """(url, headers, body) of the server notification for the current registration."""
        if self.registration is None:
            raise LookupError("nothing is registered")
        reg = self.registration
        body = wire.encode(event_type, dict(event_data), account_id=self.account_id,
                           user_data=reg.get("userData"))
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "X-Logi-Verify": signing.circle_sign(reg["authKey"], body)}
        return reg["url"], headers, body

    # -- routes -----------------------------------------------------------------------------
    def _authorise(self, request: web.Request) -> None:
        if self.api_key is not None and request.headers.get("X-API-Key") != self.api_key:
            raise web.HTTPUnauthorized(text='{"error":"invalid api key"}',
                                       content_type="application/json")
        if self.access_token is not None and \
                request.headers.get("Authorization") != f"Bearer {self.access_token}":
            raise web.HTTPUnauthorized(text='{"error":"invalid access token"}',
                                       content_type="application/json")

    async def _register(self, request: web.Request) -> web.Response:
        self._authorise(request)
        if request.method == self.route.unregister_method:
            return await self._unregister(request)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        problem = _check_registration(body)
        if problem:
            return web.json_response({"error": problem}, status=400)
        self.registration = body
        return web.json_response({"url": body["url"], "eventTypes": body["eventTypes"]})

    async def _unregister(self, request: web.Request) -> web.Response:
        self._authorise(request)
        if self.registration is None:
            return web.json_response({"error": "no server notifications registered"},
                                     status=404)
        self.registration = None
        return web.Response(status=204)

    async def _ticket(self, request: web.Request) -> web.Response:
        self._authorise(request)
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be an object"}, status=400)
        token = secrets.token_urlsafe(16)
        self.tickets[token] = _Ticket(time.monotonic(), list(body.get("accessories") or []),
                                      list(body.get("eventTypes") or []))
        host = request.headers.get("Host", request.host)
        url = f"ws://{host}{self.prefix}{WS_PATH.format(token=token)}"
        if request.headers.get("X-Logi-NoRedirect", "").lower() == "true":
            return web.Response(status=200, headers={"X-Logi-WebSocket-Url": url})
        return web.Response(status=301, headers={"Location": url})

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = self.tickets.get(request.match_info["token"])
        if "Authorization" in request.headers:
            self.refused.append("authorization header sent to the one-time URL")
            return web.Response(status=400, text="do not send Authorization here")
        if ticket is None or ticket.used:
            self.refused.append("reused or unknown URL")
            return web.Response(status=410, text="this URL was already used")
        ticket.used = True
        if time.monotonic() - ticket.created > self.url_ttl:
            self.refused.append("expired URL")
            return web.Response(status=410, text="this URL has expired")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        socket = _Socket(ws, ticket.accessories, ticket.event_types)
        self.sockets.append(socket)
        try:
            async for _message in ws:
                pass  # clients only listen (and ping, answered by aiohttp)
        finally:
            self.sockets.remove(socket)
        return ws

    async def wait_sockets(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` sockets are open (tests and the sandbox's event generator)."""
        async with asyncio.timeout(timeout):
            while len([s for s in self.sockets if not s.ws.closed]) < count:
                await asyncio.sleep(0.005)


def _check_registration(body: object) -> str | None:
    if not isinstance(body, dict):
        return "body must be an object"
    if not isinstance(body.get("url"), str) or not body["url"]:
        return "url is required"
    types = body.get("eventTypes")
    if not isinstance(types, list) or not types:
        return "eventTypes must be a non-empty array"
    unknown = [t for t in types if t not in wire.EVENT_TYPES]
    if unknown:
        return f"unknown event type {unknown[0]!r}"
    if not isinstance(body.get("authKey"), str) or not body["authKey"]:
        return "authKey is required"
    return None

