"""Sandbox routes for the Sigfox backend API v2 callbacks: CRUD on device types' callbacks,
enable/disable, downlink selection and the undelivered-callback list, kept in memory.

``SigfoxEmulator.install(app)`` adds the routes under ``{prefix}/v2`` (so a client's API URL is
``http://HOST:PORT{prefix}/v2``). Create bodies are checked the way the real API would refuse
them (400 with ``{"message": ...}``), reusing ``spec``/``templates``. Delivery of messages to the
registered callbacks belongs to the sandbox's engine: it reads ``callbacks`` and renders with
``wire.render_request``/``render_batch``, and reports failures with ``record_undelivered``.

One fault (``POST /_sandbox/faults``) makes the losses a receiver must detect:
``{"action": "sequence", "provider": "sigfox", "device": ID, "lose": K, "duplicate": K,
"reorder": K}``, applied to that device's next messages in this order: the first ``lose``
are dropped, the next ``duplicate`` are delivered twice (the second copy with
``"duplicate": true``, as "send duplicate" does), and the next ``reorder`` are each held back
and delivered after the message that follows them. A new fault for a device replaces the one
not yet used up.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web  # noqa: TID253 - the sandbox imports emulators only when it runs

from notifyctl.errors import UsageError
from notifyctl.providers.sigfox.spec import CHANNELS, KNOWN_CODES, METHODS, type_name
from notifyctl.providers.sigfox.templates import check_template
from notifyctl.providers.sigfox.wire import message_fields

_REQUIRED = ("channel", "callbackType", "callbackSubtype", "enabled", "sendDuplicate")


@dataclass
class SequenceFault:
    """What is left of one device's ``sequence`` fault; ``held`` is a reordered message."""

    lose: int = 0
    duplicate: int = 0
    reorder: int = 0
    held: dict[str, Any] | None = None

    def apply(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """What goes out in place of ``message``."""
        if self.held is not None:
            late, self.held = self.held, None
            return [message, late]
        if self.lose:
            self.lose -= 1
            return []
        if self.duplicate:
            self.duplicate -= 1
            return [message, {**message, "duplicate": True}]
        if self.reorder:
            self.reorder -= 1
            self.held = message
            return []
        return [message]

    def done(self) -> bool:
        return not (self.lose or self.duplicate or self.reorder or self.held)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


class SigfoxEmulator:
    """In-memory Sigfox callbacks. ``device_types=None`` accepts any device-type id."""

    name = "sigfox"

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        device_types: Iterable[str] | None = None,
        queue_limit: int = 100_000,
    ) -> None:
        self.credentials = credentials
        self.device_types = set(device_types) if device_types is not None else None
        self.callbacks: dict[str, dict[str, dict[str, Any]]] = {}
        self.undelivered: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        # Injected/generated uplinks awaiting the delivery engine; bounded like every queue.
        self.messages: deque[dict[str, Any]] = deque(maxlen=queue_limit)
        self.sequence_faults: dict[str, SequenceFault] = {}  # device -> what is left to do

    def install(self, app: web.Application, prefix: str = "") -> None:
        base = f"{prefix}/v2/device-types/{{device_type}}"
        app.router.add_get(f"{base}/callbacks", self._list)
        app.router.add_post(f"{base}/callbacks", self._create)
        app.router.add_put(f"{base}/callbacks/{{callback}}", self._update)
        app.router.add_delete(f"{base}/callbacks/{{callback}}", self._delete)
        app.router.add_put(f"{base}/callbacks/{{callback}}/enable", self._enable)
        app.router.add_put(f"{base}/callbacks/{{callback}}/downlink", self._downlink)
        app.router.add_get(f"{base}/callbacks-not-delivered", self._not_delivered)

    # -- the sandbox's Emulator protocol (contract.emulate) -----------------------------------
    def setup(self, app: web.Application) -> None:
        self.install(app)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def inject(self, body: Any, api_key: str | None) -> dict[str, Any]:
        """Queue uplink messages (objects of callback variables, or a list of them) for the
        sandbox's delivery engine; ValueError when malformed."""
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(i, dict) and isinstance(i.get("device"), str)
                                for i in items):
            raise ValueError("sigfox events are objects with at least a device")
        self.messages.extend(items)
        return {"queued": len(items)}

    async def fault(self, fault: dict[str, Any]) -> int:
        """The ``sequence`` fault (see the module's docstring); ValueError (400) otherwise."""
        if fault.get("action") != "sequence":
            raise ValueError("sigfox has no sockets: its only fault is 'sequence'")
        device = fault.get("device")
        if not isinstance(device, str) or not device:
            raise ValueError("sequence fault: 'device' must be a device id")
        plan = SequenceFault()
        for name in ("lose", "duplicate", "reorder"):
            count = fault.get(name, 0)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"sequence fault: {name!r} must be a count (0 or more)")
            setattr(plan, name, count)
        self.sequence_faults[device] = plan
        return 1

    def apply_faults(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages as a faulty network would deliver them (``sequence`` faults)."""
        if not self.sequence_faults:
            return messages
        out: list[dict[str, Any]] = []
        for message in messages:
            device = message.get("device")
            plan = self.sequence_faults.get(device) if isinstance(device, str) else None
            if plan is None:
                out.append(message)
                continue
            out.extend(plan.apply(message))
            if plan.done():
                del self.sequence_faults[str(device)]
        return out

    def generate(self, count: int) -> int:
        now = int(time.time())
        for _ in range(count):
            seq = next(self._seq)
            self.messages.append(message_fields(
                f"{0x1A2B00 + seq % 5:X}", seq, f"{seq:016x}"[-16:], time=now,
                device_type_id="sandbox"))
        return count

    def state(self) -> dict[str, Any]:
        return {"device_types": {dt: len(cbs) for dt, cbs in self.callbacks.items()},
                "queued_messages": len(self.messages),
                "undelivered": sum(len(v) for v in self.undelivered.values())}

    # -- what the sandbox engine drives -----------------------------------------------------
    def record_undelivered(self, device_type: str, callback_id: str, *, device: str,
                           status: int | None, message: str) -> None:
        self.undelivered.setdefault(device_type, []).append({
            "callbackId": callback_id, "device": device, "time": int(time.time() * 1000),
            "status": status, "message": message,
        })

    def mark_dead(self, device_type: str, callback_id: str, dead: bool = True) -> None:
        self.callbacks[device_type][callback_id]["dead"] = dead

    def enabled_callbacks(self, device_type: str) -> list[dict[str, Any]]:
        return [cb for cb in self.callbacks.get(device_type, {}).values() if cb["enabled"]]

    # -- routes -----------------------------------------------------------------------------
    def _device_type(self, request: web.Request) -> str:
        if self.credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
            if request.headers.get("Authorization") != expected:
                raise web.HTTPUnauthorized(text='{"message":"Unauthorized"}',
                                           content_type="application/json")
        device_type = request.match_info["device_type"]
        if self.device_types is not None and device_type not in self.device_types:
            raise web.HTTPNotFound(text=f'{{"message":"device type {device_type} not found"}}',
                                   content_type="application/json")
        return device_type

    def _callback(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        device_type = self._device_type(request)
        found = self.callbacks.get(device_type, {}).get(request.match_info["callback"])
        if found is None:
            raise web.HTTPNotFound(text='{"message":"callback not found"}',
                                   content_type="application/json")
        return device_type, found

    async def _list(self, request: web.Request) -> web.Response:
        device_type = self._device_type(request)
        items = list(self.callbacks.get(device_type, {}).values())
        return web.json_response({"data": items, "paging": {}})

    async def _create(self, request: web.Request) -> web.Response:
        device_type = self._device_type(request)
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body is not JSON")
        problem = validate(body)
        if problem:
            return _error(400, problem)
        callback_id = f"{next(self._ids):024x}"
        stored = {**body, "id": callback_id, "dead": False, "downlinkHook": False}
        self.callbacks.setdefault(device_type, {})[callback_id] = stored
        return web.json_response({"id": callback_id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        _, found = self._callback(request)
        try:
            changes = await request.json()
        except ValueError:
            return _error(400, "body is not JSON")
        if not isinstance(changes, dict):
            return _error(400, "body must be an object")
        problem = validate({**found, **changes})
        if problem:
            return _error(400, problem)
        found.update(changes)
        return web.Response(status=204)

    async def _delete(self, request: web.Request) -> web.Response:
        device_type, found = self._callback(request)
        del self.callbacks[device_type][found["id"]]
        return web.Response(status=204)

    async def _enable(self, request: web.Request) -> web.Response:
        _, found = self._callback(request)
        flag = request.query.get("enabled")
        if flag not in ("true", "false"):
            return _error(400, "enabled must be true or false")
        found["enabled"] = flag == "true"
        return web.Response(status=204)

    async def _downlink(self, request: web.Request) -> web.Response:
        device_type, found = self._callback(request)
        if (found["callbackType"], found["callbackSubtype"]) != (0, 3):
            return _error(400, "only a DATA/BIDIR callback can carry downlinks")
        for other in self.callbacks[device_type].values():
            other["downlinkHook"] = other is found
        return web.Response(status=204)

    async def _not_delivered(self, request: web.Request) -> web.Response:
        device_type = self._device_type(request)
        items = self.undelivered.get(device_type, [])
        try:
            since = int(request.query.get("since", "0"))
            before = int(request.query.get("before", str(2**63)))
            limit = int(request.query.get("limit", "100"))
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return _error(400, "since, before, limit and offset are integers")
        chosen = [i for i in items if since <= i["time"] < before][offset:offset + limit]
        return web.json_response({"data": chosen, "paging": {}})


def validate(body: object) -> str | None:
    """What the real API would answer 400 for, or None."""
    if not isinstance(body, dict):
        return "body must be an object"
    for key in _REQUIRED:
        if key not in body:
            return f"{key} is required"
    channel = body["channel"]
    if channel not in CHANNELS.values():
        return f"channel must be one of {', '.join(CHANNELS.values())}"
    codes = (body["callbackType"], body["callbackSubtype"])
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in codes) or \
            codes not in KNOWN_CODES:
        return f"unknown callbackType/callbackSubtype {codes[0]}/{codes[1]}"
    for key in ("enabled", "sendDuplicate"):
        if not isinstance(body[key], bool):
            return f"{key} must be a boolean"
    name = type_name(*codes)
    templates: list[tuple[str, object]] = []
    if channel == "EMAIL":
        if not isinstance(body.get("recipient"), str):
            return "recipient is required for EMAIL"
        templates += [("subject", body.get("subject", "")), ("message", body.get("message", ""))]
    else:
        if not isinstance(body.get("url"), str) or not body["url"]:
            return f"url is required for {channel}"
        if body.get("httpMethod", "GET") not in METHODS:
            return "httpMethod must be GET, POST or PUT"
        templates.append(("url", body["url"]))
        if channel == "BATCH_URL":
            if not isinstance(body.get("linePattern"), str):
                return "linePattern is required for BATCH_URL"
            templates.append(("linePattern", body["linePattern"]))
        else:
            headers = body.get("headers") or {}
            if not isinstance(headers, dict):
                return "headers must be an object"
            templates += [(f"headers.{k}", v) for k, v in headers.items()]
            templates.append(("bodyTemplate", body.get("bodyTemplate") or ""))
    config = body.get("payloadConfig")
    for where, template in templates:
        if not isinstance(template, str):
            return f"{where} must be a string"
        try:
            check_template(template, name, where=where,
                           payload_config=config if isinstance(config, str) else None)
        except UsageError as exc:
            return str(exc)
    return None

