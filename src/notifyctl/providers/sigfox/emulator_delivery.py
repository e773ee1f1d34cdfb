"""The Sigfox emulator as the sandbox runs it: the API routes of ``emulator`` plus the delivery
of queued uplinks to the enabled DATA callbacks.

Each message (injected with ``POST /_sandbox/sigfox/events`` or generated) goes to the enabled
DATA callbacks of its ``deviceTypeId`` (every device type's when it has none): rendered by the
rules' ``callback_request`` (URL channel: one request per message; BATCH_URL: the messages of
one drain grouped by their one-second ``time`` window) and sent through the sandbox's sender
(``context.sender``: the replay engine's delivery) with the Sigfox rules (10 s timeout, one
retry, no redirects). A delivery that is still not accepted is recorded in
``callbacks-not-delivered``, saying why. The answers of the DATA/BIDIR callback selected for
downlinks are parsed; the last downlink per device is in ``state()["downlinks"]``, and an
answer that cannot be read fails its delivery (the downlink is lost). EMAIL callbacks and
SERVICE/ERROR callbacks are not sent to (the sandbox generates uplinks only).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

from notifyctl.contract.deliver import RuleOptions, Sender, Verdict
from notifyctl.contract.emulate import GENERATOR_BACKLOG, SandboxContext
from notifyctl.errors import WireError
from notifyctl.providers.sigfox.emulator import SigfoxEmulator
from notifyctl.providers.sigfox.rules import ATTEMPTS, BIDIR, SigfoxRules, callback_request


class SigfoxSandbox(SigfoxEmulator):
    """``SigfoxEmulator`` plus delivery (``contract.emulate.Emulator``); this class is the
    factory the platform declares (any credentials, any device type)."""

    def __init__(self, context: SandboxContext) -> None:
        config = context.config
        super().__init__(queue_limit=config.queue_limit)
        self.context = context
        self.timeout = config.callback_timeout
        self.report = context.log("callbacks")
        self._keys = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._queued = asyncio.Event()
        self.downlinks: dict[str, str | None] = {}  # device -> hex (None: noData)
        self._downlink_limit = config.queue_limit

    def inject(self, body: Any, api_key: str | None) -> dict[str, Any]:
        result = super().inject(body, api_key)
        self._queued.set()
        return result

    def generate(self, count: int) -> int:
        """Up to ``count`` uplinks, none while no callback is enabled (the delivery engine
        would drop them unsent) or while ``GENERATOR_BACKLOG`` already wait."""
        if not any(callback.get("enabled") for callbacks in self.callbacks.values()
                   for callback in callbacks.values()):
            return 0
        made = super().generate(max(0, min(count, GENERATOR_BACKLOG - len(self.messages))))
        if made:
            self._queued.set()
        return made

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sigfox-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def state(self) -> dict[str, Any]:
        report = self.report
        return {**super().state(), "attempts": report.attempts,
                "delivered": report.events_accepted, "failed": report.failed,
                "downlinks": dict(self.downlinks),
                "statuses": dict(report.statuses)}

    async def _run(self) -> None:
        while True:
            if not self.messages:
                self._queued.clear()
                await self._queued.wait()
                continue
            drained = self.apply_faults(
                [self.messages.popleft() for _ in range(len(self.messages))])
            jobs = [self._deliver(device_type, callback, group)
                    for device_type, callback, group in self._plan(drained)]
            await asyncio.gather(*jobs)

    def _plan(self, messages: list[dict[str, Any]]
              ) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
        """(device type, callback, messages of one request) for every request to make."""
        for device_type, callbacks in list(self.callbacks.items()):
            mine = [m for m in messages if m.get("deviceTypeId") in (None, device_type)]
            if not mine:
                continue
            for callback in callbacks.values():
                if not callback.get("enabled") or callback.get("callbackType") != 0 \
                        or callback.get("channel") == "EMAIL":
                    continue
                if callback.get("channel") != "BATCH_URL":
                    for message in mine:
                        yield device_type, callback, [message]
                    continue
                for _, group in itertools.groupby(mine, key=lambda m: str(m.get("time"))):
                    yield device_type, callback, list(group)

    async def _deliver(self, device_type: str, callback: dict[str, Any],
                       messages: list[dict[str, Any]]) -> None:
        device = str(messages[0].get("device"))
        try:
            request = callback_request(callback, messages, "sandbox queue",
                                       f"sigfox-{next(self._keys)}")
        except WireError as exc:
            self.record_undelivered(device_type, callback["id"], device=device, status=None,
                                    message=exc.message)
            return
        downlink = callback.get("callbackSubtype") == 3 and bool(callback.get("downlinkHook"))
        rules = SigfoxRules(RuleOptions(target=request.url, timeout=self.timeout,
                                        extra={"callback_type": BIDIR if downlink else None}))
        rules.show_answers = False
        sender = self.context.sender(rules, self.report)
        verdict = await sender.deliver(request)
        if len(self.downlinks) < self._downlink_limit:  # bounded like every sandbox table
            self.downlinks.update(rules.downlinks)
        if verdict is not Verdict.ACCEPTED:
            last = sender.last or "no answer"
            self.record_undelivered(device_type, callback["id"], device=device,
                                    status=int(last) if last.isdigit() else None,
                                    message=_why(sender, last))


def _why(sender: Sender, last: str) -> str:
    """Why a delivery ended unaccepted: an answer that could not be read (a BIDIR downlink
    lost) fails at once, anything else after the platform's attempts."""
    if sender.unreadable:
        return f"answered {last}, but {sender.unreadable}"
    return f"not accepted after {ATTEMPTS} attempts (last: {last})"
