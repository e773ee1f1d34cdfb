"""The Circle emulator as the sandbox runs it: the routes of ``emulator`` plus the server
notifications Circle POSTs to the registered URL.

Every injected (``POST /_sandbox/circle/events``: ``{eventType, eventData}`` or a list) or
generated event goes to the open client-notification sockets, and, when a registration exists
and lists the event type (``account_deleted`` always goes), to its URL: ``signed_delivery``
builds the signed body, the replay engine's ``Deliverer`` sends it with the Circle rules (5 s
timeout; 2xx accepted; 410 removes the registration; anything else two more immediate
attempts, then the event is dropped; redirects never followed).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp  # noqa: TID253 - runs only inside `notifyctl sandbox` and tests

from notifyctl.contract.deliver import Request, RuleOptions, Verdict
from notifyctl.providers.circle import wire
from notifyctl.providers.circle.emulator import CircleEmulator
from notifyctl.providers.circle.rules import CircleRules
from notifyctl.replay.engine import Deliverer
from notifyctl.replay.report import Report

if TYPE_CHECKING:
    from notifyctl.sandbox import SandboxConfig


class CircleSandbox(CircleEmulator):
    """``CircleEmulator`` plus signed server notifications (``notifyctl.sandbox.Emulator``)."""

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(api_key=config.api_key)
        self.callback_timeout = min(config.callback_timeout, CircleRules.timeout)
        self.report = Report("circle", "sandbox server notifications")
        self.gone: list[str] = []  # URLs that answered 410 (their registration was removed)
        self._keys = itertools.count()
        self._session: aiohttp.ClientSession | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await super().start()
        self._session = aiohttp.ClientSession(trust_env=False)

    async def stop(self) -> None:
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        await super().stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def inject(self, body: Any, api_key: str | None) -> dict[str, Any]:
        result = super().inject(body, api_key)
        for item in body if isinstance(body, list) else [body]:
            self._notify(item["eventType"], item.get("eventData", {}))
        return result

    def generate(self, count: int) -> None:
        for _ in range(count):
            data = self.generated()
            self._spawn(self.publish("activity_created", data))
            self._notify("activity_created", data)

    def state(self) -> dict[str, Any]:
        report = self.report
        return {**super().state(), "attempts": report.attempts,
                "delivered": report.accepted, "dropped": report.failed, "gone": list(self.gone),
                "statuses": dict(report.statuses)}

    def _notify(self, event_type: str, event_data: Mapping[str, Any]) -> None:
        registration = self.registration
        if registration is None or self._session is None:
            return
        if event_type not in registration.get("eventTypes", []) and \
                event_type != wire.ALWAYS_SENT:
            return
        url, headers, body = self.signed_delivery(event_type, event_data)
        request = Request("POST", url, headers, body, 1, "sandbox", f"circle-{next(self._keys)}")
        task = asyncio.get_running_loop().create_task(self._send(registration, request))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, registration: dict[str, Any], request: Request) -> None:
        assert self._session is not None
        rules = CircleRules(RuleOptions(target=request.url, timeout=self.callback_timeout))
        verdict = await Deliverer(self._session, rules, self.report, proxies=False
                                  ).deliver(request)
        if verdict is Verdict.GONE and self.registration is registration:
            self.registration = None  # 410: "remove this registration"
            self.gone.append(request.url)


def for_sandbox(config: SandboxConfig) -> CircleSandbox:
    """The factory ``notifyctl.sandbox.EMULATORS`` names."""
    return CircleSandbox(config)
