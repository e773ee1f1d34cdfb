"""The Circle emulator as the sandbox runs it: the routes of ``emulator`` plus the server
notifications Circle POSTs to the registered URL.

Every injected (``POST /_sandbox/circle/events``: ``{eventType, eventData}`` or a list) or
generated event goes to the open client-notification sockets, and, when a registration exists
and lists the event type (``account_deleted`` always goes), to its URL: ``signed_delivery``
builds the signed body, the sandbox's sender (``context.sender``: the replay engine's delivery)
sends it with the Circle rules (5 s timeout; 2xx accepted; 410 removes the registration;
anything else two more immediate attempts, then the event is dropped; redirects never
followed).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Mapping
from typing import Any

from aiohttp import WSCloseCode, web  # noqa: TID253 - runs only inside `notifyctl sandbox`

from notifyctl.contract.deliver import Request, RuleOptions, Verdict
from notifyctl.contract.emulate import GENERATOR_BACKLOG, SandboxContext
from notifyctl.providers.circle import wire
from notifyctl.providers.circle.emulator import CircleEmulator
from notifyctl.providers.circle.rules import CircleRules


class CircleSandbox(CircleEmulator):
    """``CircleEmulator`` as the sandbox's emulator (``contract.emulate.Emulator``), plus signed
    server notifications; this class is the factory the platform declares."""

    def __init__(self, context: SandboxContext) -> None:
        super().__init__(api_key=context.config.api_key)
        self.context = context
        self.callback_timeout = min(context.config.callback_timeout, CircleRules.timeout)
        self.report = context.log("server notifications")
        self.gone: list[str] = []  # URLs that answered 410 (their registration was removed)
        self._keys = itertools.count()
        self._publishing: set[asyncio.Task[int]] = set()
        self._sending: set[asyncio.Task[None]] = set()
        self._bursts: set[asyncio.Task[None]] = set()
        self._backlog = 0  # generated events not yet published

    def setup(self, app: web.Application) -> None:
        self.install(app)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for task in [*self._bursts, *self._sending]:
            task.cancel()
        await asyncio.gather(*self._bursts, *self._sending, return_exceptions=True)
        await self.drop_all()

    def inject(self, body: Any, api_key: str | None) -> dict[str, Any]:
        """Publish ``{"eventType", "eventData"}`` objects (or a list) to the open sockets and
        the registration."""
        items = body if isinstance(body, list) else [body]
        for item in items:
            if not isinstance(item, dict) or item.get("eventType") not in wire.EVENT_TYPES \
                    or not isinstance(item.get("eventData", {}), dict):
                raise ValueError("circle events are {eventType, eventData} with a known type")
        for item in items:
            self._publish(item["eventType"], item.get("eventData", {}))
        return {"queued": len(items)}

    async def fault(self, fault: dict[str, Any]) -> int:
        if fault.get("action") not in ("close", "drop"):
            raise ValueError("circle faults: close (with code) or drop")
        hit = len(self.sockets)
        await self.drop_all(int(fault.get("code", WSCloseCode.GOING_AWAY)))
        return hit

    def generate(self, count: int) -> int:
        """Up to ``count`` activities, published in order by one task (never a task per
        event); none while ``GENERATOR_BACKLOG`` generated events still wait to be sent, and
        none when no socket and no registration would get them."""
        if not self.sockets and self.registration is None:
            return 0
        count = min(count, GENERATOR_BACKLOG - self._backlog - len(self._sending))
        if count <= 0:
            return 0
        self._backlog += count
        burst = [self.generated() for _ in range(count)]
        self.context.spawn(self._bursts, self._publish_burst(burst))
        return count

    async def _publish_burst(self, burst: list[dict[str, Any]]) -> None:
        left = len(burst)
        try:
            for event_data in burst:
                # A socket lost mid-burst must not end it: the others still get the rest.
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.publish("activity_created", event_data)
                self._notify("activity_created", event_data)
                left -= 1
                self._backlog -= 1
        finally:
            self._backlog -= left  # stopped mid-burst: the rest never waits again

    def state(self) -> dict[str, Any]:
        report = self.report
        return {"registered": self.registration is not None, "sockets": len(self.sockets),
                "refused_handshakes": list(self.refused), "attempts": report.attempts,
                "delivered": report.accepted, "dropped": report.failed, "gone": list(self.gone),
                "statuses": dict(report.statuses)}

    def _publish(self, event_type: str, event_data: Mapping[str, Any]) -> None:
        """To the open sockets, and to the registered URL when it asked for the type."""
        self.context.spawn(self._publishing, self.publish(event_type, event_data))
        self._notify(event_type, event_data)

    def _notify(self, event_type: str, event_data: Mapping[str, Any]) -> None:
        """A server notification to the registered URL, when it asked for the type."""
        registration = self.registration
        if registration is None:
            return
        if event_type not in registration.get("eventTypes", []) and \
                event_type != wire.ALWAYS_SENT:
            return
        url, headers, body = self.signed_delivery(event_type, event_data)
        request = Request("POST", url, headers, body, 1, "sandbox", f"circle-{next(self._keys)}")
        self.context.spawn(self._sending, self._send(registration, request))

    async def _send(self, registration: dict[str, Any], request: Request) -> None:
        rules = CircleRules(RuleOptions(target=request.url, timeout=self.callback_timeout))
        sender = self.context.sender(rules, self.report)
        verdict = await sender.deliver(request)
        if verdict is Verdict.GONE and self.registration is registration:
            self.registration = None  # 410: "remove this registration"
            self.gone.append(request.url)
