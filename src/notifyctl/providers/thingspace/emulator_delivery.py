"""The ThingSpace emulator as the sandbox runs it: the platform routes of ``emulator`` plus the
delivery of device events to registered listeners.

An event for a service goes to every account's listener of that service, as a SOAP
``CallbackRequest`` (listener registered over SOAP) or a REST JSON body, with the registered
username and password inside. The sandbox's sender (``context.sender``: the replay engine's
delivery) sends it with the ThingSpace rules (POST, 2xx accepted, no redirects, up to
``max_callback_threshold`` sends with the send number in a REST body's ``callbackCount``), so
replay and the sandbox share one implementation of those semantics. The wait between sends is
the rules' ``retry_base``: ``retry_interval`` x ``retry_base`` seconds here. The interval
(5 minutes) and the threshold (4) follow the notes docs/platforms/thingspace.md quotes.

This module keeps only the platform's side: the bounded queue of events, the listeners, and
the counters ``/_sandbox/state`` shows (read from the engine's delivery log). Up to
``DELIVERIES`` deliveries run at once; one waiting for its next send holds its slot.

``ThingSpaceEmulator`` follows ``contract.emulate.Emulator``; ``for_sandbox`` is its factory.
Injected events (``POST /_sandbox/thingspace/events``) are objects, or a list of them:
``{"service": "DeviceUsage", "deviceIds": [{"id": "...", "kind": "IMEI"}], "requestId": "...",
"data": {"Usage": {...}}, "deviceResponse": {...}}``; only ``service`` is required, ``data``
is used for SOAP listeners and a ``...Response`` key for REST ones.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web  # noqa: TID253 - runs only inside `notifyctl sandbox` and tests

from notifyctl.contract.deliver import INTERRUPTED, Decision, Item, Request, RuleOptions
from notifyctl.contract.emulate import GENERATOR_BACKLOG, SandboxContext
from notifyctl.errors import WireError
from notifyctl.providers.thingspace import wire
from notifyctl.providers.thingspace.emulator import Listener, ThingSpaceState, add_routes
from notifyctl.providers.thingspace.rules import ThingSpaceRules

RETRY_INTERVAL = 300.0
# `notifyctl sandbox` is watched by a person: five minutes between sends would look like a hang.
SANDBOX_RETRY_INTERVAL = 5.0
MAX_CALLBACK_THRESHOLD = 4
DELIVERIES = 64  # at once, sending or waiting for their next send
_SOAP_SAMPLES: dict[str, Any] = {
    "CarrierService": {"Status": "Success", "ServicePlan": "M2M_4G"},
    "ExternalProvisioningChange": {"Action": "Suspend", "Status": "Success"},
    "PromoChange": {"PromoName": "Promo1", "Change": "Expired"},
    "Usage": {"Bytes": "1048576", "SmsCount": "3"},
    "SMSDelivery": {"Status": "Delivered"},
    "PRLInformation": {"PRLVersion": "51234"},
    "DeviceSuspendStatus": {"Status": "Suspended"},
    "Comment": "Device will be auto resumed on - 3/15/2027 12:00:00 AM",
}


def sample_body(listener: Listener, request_id: str, device: wire.DeviceId, *,
                data: dict[str, Any] | None = None, response: dict[str, Any] | None = None,
                callback_count: int = 1,
                max_callback_threshold: int = MAX_CALLBACK_THRESHOLD) -> tuple[bytes, str]:
    """(body, content type) of one device event for ``listener``, in its API's form, with the
    registered username and password inside; ``data``/``response`` replace the canned content."""
    if listener.api == "soap":
        if data is None:
            name = wire.SERVICE_FIELD.get(listener.service, "Comment")
            data = {name: _SOAP_SAMPLES.get(name, "sandbox event")}
        return (wire.encode_soap(request_id, device, data, username=listener.username,
                                 password=listener.password), wire.SOAP_CONTENT_TYPE)
    if response is None:
        ids = [{"id": device.id, "kind": device.kind}]
        if listener.service == "NiddService":
            response = {"niddResponse": {"niddMONotificationResponse": {
                "accountName": listener.account, "message": "QUJD", "deviceIds": ids}}}
        else:
            response = {"deviceResponse": {"serviceName": listener.service, "deviceIds": ids}}
    body = wire.encode_rest(request_id, [device], response=response, status="Success",
                            username=listener.username, password=listener.password,
                            callback_count=callback_count,
                            max_callback_threshold=max_callback_threshold)
    return body, wire.JSON_CONTENT_TYPE


@dataclass
class Outgoing:
    listener: Listener
    body: bytes
    content_type: str


class _Noted(ThingSpaceRules):
    """The platform's rules for one delivery, noting each answer for ``state()["recent"]``."""

    def __init__(self, options: RuleOptions, listener: Listener,
                 recent: collections.deque[dict[str, Any]]) -> None:
        super().__init__(options)
        self.listener, self.recent = listener, recent

    def decide(self, status: int | None, attempt: int) -> Decision:
        self.recent.append({"service": self.listener.service, "url": self.listener.url,
                            "attempt": attempt, "status": status})
        return super().decide(status, attempt)


class ThingSpaceEmulator:
    name: ClassVar[str] = "thingspace"

    def __init__(self, context: SandboxContext, state: ThingSpaceState | None = None, *,
                 devices: int = 5,
                 retry_interval: float = RETRY_INTERVAL, retry_base: float = 1.0,
                 timeout: float = 20.0, queue_limit: int = 100_000,
                 max_callback_threshold: int = MAX_CALLBACK_THRESHOLD, prefix: str = "") -> None:
        self.context = context
        self.state_ = state or ThingSpaceState()
        self.devices = [wire.DeviceId("IMEI", str(490154203237500 + n)) for n in range(devices)]
        self.retry_delay = retry_interval * retry_base
        self.timeout = timeout
        self.threshold = max_callback_threshold
        self.prefix = prefix
        # Events not yet being delivered; task_done() once a delivery settles (wait_idle).
        self.queue: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=queue_limit)
        self.report = context.log("listeners")
        self.dropped = 0  # events the full queue turned away
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=20)
        self._dispatcher: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._next = 0

    # -- the sandbox's Emulator protocol (contract.emulate) -----------------------------------
    def setup(self, app: web.Application) -> None:
        add_routes(app, self.state_, prefix=self.prefix)

    async def start(self) -> None:
        self._dispatcher = asyncio.create_task(self._dispatch(), name="thingspace-delivery")

    async def stop(self) -> None:
        tasks = [*self._sending, *([self._dispatcher] if self._dispatcher else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dispatcher = None

    def inject(self, body: Any, api_key: str | None) -> dict[str, Any]:
        items = body if isinstance(body, list) else [body]
        outgoing = []  # every body is built (and so checked) before any is queued
        for service, request_id, devices, data, response in map(_injected, items):
            for listener in self.state_.targets(service):
                device = devices[0] if devices else self._device()
                try:
                    payload, ctype = sample_body(listener, request_id or str(uuid.uuid4()),
                                                 device, data=data, response=response,
                                                 max_callback_threshold=self.threshold)
                except WireError as exc:
                    raise ValueError(f"thingspace event: {exc.message}") from exc
                outgoing.append(Outgoing(listener, payload, ctype))
        return {"queued": sum(self._enqueue(item) for item in outgoing)}

    async def fault(self, fault: dict[str, Any]) -> int:
        return 0  # callbacks only: no connection a socket fault could hit

    def generate(self, count: int) -> int:
        """Up to ``count`` events to the listeners in turn; none while ``GENERATOR_BACKLOG``
        wait to be sent (beyond ``queue_limit`` the queue drops, as ``send`` counts)."""
        listeners = list(self.state_.listeners.values())
        if not listeners or not self.devices:
            return 0
        count = max(0, min(count, GENERATOR_BACKLOG - self.queue.qsize()))
        for _ in range(count):
            listener = listeners[self._next % len(listeners)]
            self.send(listener, str(uuid.uuid4()), self._device())
        return count

    def state(self) -> dict[str, Any]:
        return {
            "listeners": [{"account": item.account, "service": item.service, "url": item.url,
                           "api": item.api} for item in self.state_.listeners.values()],
            "sessions": len(self.state_.sessions),
            "locked": sorted(self.state_.locked),
            "deliveries": self.deliveries(),
            "statuses": dict(self.report.statuses),
            "queued": self.queue.qsize(),
            "recent": list(self.recent),
        }

    def deliveries(self) -> dict[str, int]:
        """The non-zero counters: sends, and how deliveries settled (from the engine's report)."""
        report = self.report
        errors = sum(count for outcome, count in report.statuses.items()
                     if not outcome.isdigit() and outcome != INTERRUPTED)
        counts = {"sent": report.attempts, "acknowledged": report.accepted,
                  "retried": report.retried, "abandoned": report.failed, "errors": errors,
                  "refused": report.refused, "dropped": self.dropped}
        return {name: count for name, count in counts.items() if count}

    # -- delivery ---------------------------------------------------------------------------
    def send(self, listener: Listener, request_id: str, device: wire.DeviceId) -> bool:
        """Queue one canned event for ``listener``; False when the queue is full (dropped)."""
        body, ctype = sample_body(listener, request_id, device,
                                  max_callback_threshold=self.threshold)
        return self._enqueue(Outgoing(listener, body, ctype))

    def _enqueue(self, item: Outgoing) -> bool:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    def _device(self) -> wire.DeviceId:
        self._next += 1
        return self.devices[self._next % len(self.devices)] if self.devices else \
            wire.DeviceId("IMEI", "490154203237500")

    async def _dispatch(self) -> None:
        slots = asyncio.Semaphore(DELIVERIES)

        def settled(task: asyncio.Task[None]) -> None:
            self._sending.discard(task)
            slots.release()
            self.queue.task_done()

        while True:
            await slots.acquire()  # a free slot first: what waits for one stays counted queued
            item = await self.queue.get()
            task = asyncio.create_task(self._deliver(item))
            self._sending.add(task)
            task.add_done_callback(settled)

    async def _deliver(self, item: Outgoing) -> None:
        options = RuleOptions(target=item.listener.url, timeout=self.timeout,
                              retry_base=self.retry_delay, skip_invalid=True,
                              # SOAP bodies carry no threshold: the platform's setting is ours
                              max_attempts=self.threshold)
        rules = _Noted(options, item.listener, self.recent)
        captured = Item("sandbox", item.body, headers={"Content-Type": item.content_type})
        request = next(rules.requests(iter([captured])), None)
        if not isinstance(request, Request):  # bodies sample_body built always pass
            self.report.refused += 1
            return
        await self.context.sender(rules, self.report).deliver(request)

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Until nothing is queued, being sent or waiting for its next send (tests)."""
        async with asyncio.timeout(timeout):
            await self.queue.join()


def _injected(item: Any) -> tuple[str, str | None, list[wire.DeviceId], dict[str, Any] | None,
                                  dict[str, Any] | None]:
    """One injected event, checked; ValueError (answered 400) says what is wrong."""
    if not isinstance(item, dict) or not isinstance(item.get("service"), str):
        raise ValueError("thingspace events are objects with a 'service' name")
    request_id = item.get("requestId")
    if request_id is not None and not isinstance(request_id, str):
        raise ValueError("thingspace event: requestId must be a string")
    devices = []
    for entry in item.get("deviceIds") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise ValueError("thingspace event: deviceIds items are {id, kind}")
        devices.append(wire.DeviceId(str(entry.get("kind", "IMEI")), entry["id"]))
    data = item.get("data")
    if data is not None and not isinstance(data, dict):
        raise ValueError("thingspace event: data must be an object of Data children")
    responses = {key: value for key, value in item.items() if key.endswith("Response")}
    return item["service"], request_id, devices, data, responses or None


def for_sandbox(context: SandboxContext) -> ThingSpaceEmulator:
    """The emulator factory the platform declares; retries every 5 s x retry_base (not the
    platform's 300 s), so an unacknowledged delivery is seen again while someone watches."""
    config = context.config
    return ThingSpaceEmulator(context, devices=config.devices,
                              retry_interval=SANDBOX_RETRY_INTERVAL,
                              retry_base=config.retry_base,
                              timeout=config.callback_timeout, queue_limit=config.queue_limit)
