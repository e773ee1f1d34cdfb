"""The platform side of a Pelion channel in the sandbox: request bodies (Webhook, serialization,
injected messages), the bounded per-key event queue, how queued items are shaped into
NotificationMessages, and when a callback channel takes its next batch (``CallbackDeliverer``).

How a batch or the verification ``PUT {}`` is sent (headers, one in flight, the next only after
a 2xx, back-off, 20 s timeout, no redirects) is the sandbox's sender (``context.sender``: the
replay engine's delivery) with the Pelion rules, retrying until accepted: one implementation for
``replay`` and the sandbox.

Items are queued in a neutral form (``Queued``) and shaped only when they leave, with the
channel's serialization config of that moment, like the real service: ``uid``/``timestamp`` are
fixed at enqueue time, so a batch that is resent or re-queued carries the same identifiers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec  # noqa: TID253 - runs only inside `notifyctl sandbox`

from notifyctl.contract.deliver import DeliveryLog, Request, RuleOptions, Sender, Verdict
from notifyctl.contract.emulate import SandboxContext
from notifyctl.providers.pelion.rules import UNTIL_ACCEPTED, PelionRules

SECTIONS = (
    "registrations",
    "reg-updates",
    "notifications",
    "de-registrations",
    "registrations-expired",
    "async-responses",
)
WEBHOOK_LIMIT = 400  # URL, header names and values together (Webhook schema)
_RANK = {section: rank for rank, section in enumerate(SECTIONS)}
GONE = frozenset({"de-registrations", "registrations-expired"})
MIN_CHUNK, MAX_CHUNK = 100, 10_000

_encode = msgspec.json.Encoder().encode
# uid values look like UUIDs and are unique per sandbox run; a counter is far cheaper than uuid4.
_uid_counter = itertools.count(1)
_UID_PREFIX = f"5a4db0c3-{int(time.time()) & 0xFFFF:04x}-4000-8000-"


class BadRequest(ValueError):
    """A request the platform answers with 400; the message is the response body."""


def _flag(cfg: Mapping[str, Any], name: str) -> bool:
    value = cfg.get(name, False)
    if isinstance(value, bool):
        return value
    # The spec examples send strings ("true"), KAFKA real booleans: accept both.
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadRequest(f"serialization.cfg.{name}: expected true or false, got {value!r}")


@dataclass(slots=True)
class Serialization:
    """``SerializationConfigData``: chunk size and the v2 ``cfg`` switches."""

    max_chunk_size: int = MAX_CHUNK
    include_uid: bool = False
    include_timestamp: bool = False
    include_original_ep: bool = False
    deregistrations_as_object: bool = False

    @classmethod
    def parse(cls, raw: Any) -> Serialization:
        """Validate a request's ``serialization`` object (``None`` gives the defaults)."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise BadRequest("serialization: expected an object")
        kind = raw.get("type", "v2")
        if kind != "v2":
            raise BadRequest(f"serialization.type: only 'v2' is supported, got {kind!r}")
        chunk: Any = raw.get("max_chunk_size", MAX_CHUNK)
        if isinstance(chunk, str) and chunk.strip().isdigit():
            chunk = int(chunk)
        if isinstance(chunk, bool) or not isinstance(chunk, int):
            raise BadRequest(f"serialization.max_chunk_size: expected an integer, got {chunk!r}")
        if not MIN_CHUNK <= chunk <= MAX_CHUNK:
            raise BadRequest(
                f"serialization.max_chunk_size: {chunk} is outside {MIN_CHUNK}..{MAX_CHUNK}"
            )
        cfg = raw.get("cfg") or {}
        if not isinstance(cfg, dict):
            raise BadRequest("serialization.cfg: expected an object")
        return cls(
            chunk,
            _flag(cfg, "include_uid"),
            _flag(cfg, "include_timestamp"),
            _flag(cfg, "include_original_ep"),
            _flag(cfg, "deregistrations_as_object"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "v2",
            "max_chunk_size": self.max_chunk_size,
            "cfg": {
                "deregistrations_as_object": self.deregistrations_as_object,
                "include_uid": self.include_uid,
                "include_timestamp": self.include_timestamp,
                "include_original_ep": self.include_original_ep,
            },
        }


@dataclass(slots=True)
class Queued:
    """One item waiting in a channel queue. ``item`` is a dict, or the ep string of a
    de-registration/expiry; uid and timestamp are fixed when the item enters the queue, as
    numbers taken by C-level calls (the generator queues hundreds of thousands a second) and
    formatted only when a channel's serialization asks for them."""

    section: str
    item: Any
    ep: str
    original_ep: str | None
    serial: int = field(default_factory=_uid_counter.__next__)
    queued_ns: int = field(default_factory=time.time_ns)

    @property
    def uid(self) -> str:
        return f"{_UID_PREFIX}{self.serial:012x}"

    @property
    def timestamp(self) -> int:
        """Milliseconds since the epoch."""
        return self.queued_ns // 1_000_000


def queued_from(section: str, item: Any) -> Queued:
    """Wrap an item of an injected NotificationMessage (already validated)."""
    if isinstance(item, str):
        return Queued(section, item, item, None)
    ep = item.get("ep") or item.get("id") or ""
    original = item.get("original-ep")
    return Queued(section, item, str(ep), original if isinstance(original, str) else None)


def shape(entry: Queued, cfg: Serialization) -> Any:
    """The item as the channel's serialization config makes it look on the wire. Fields the
    item already has are kept (injected items stay as the tester wrote them)."""
    if entry.section == "async-responses":
        return entry.item
    if entry.section in GONE:
        if not cfg.deregistrations_as_object:
            return entry.ep
        obj: dict[str, Any] = dict(entry.item) if isinstance(entry.item, dict) else {}
        obj.setdefault("ep", entry.ep)
    else:
        obj = dict(entry.item)
    if cfg.include_uid:
        obj.setdefault("uid", entry.uid)
    if cfg.include_timestamp:
        obj.setdefault("timestamp", entry.timestamp)
    if cfg.include_original_ep and entry.original_ep is not None:
        obj.setdefault("original-ep", entry.original_ep)
    return obj


def build_message(batch: Iterable[Queued], cfg: Serialization) -> bytes:
    """One NotificationMessage of a batch from ``EventQueue.take`` (arrays in ``SECTIONS``
    order, since ``take`` keeps the sections of a batch in that order)."""
    message: dict[str, list[Any]] = {}
    for entry in batch:
        items = message.get(entry.section)
        if items is None:
            items = message[entry.section] = []
        items.append(shape(entry, cfg))
    return _encode(message)


def parse_webhook(body: Any) -> tuple[str, dict[str, str], Serialization]:
    """Validate a ``Webhook`` request body: URL, headers (400 characters together at most)
    and serialization."""
    if not isinstance(body, dict):
        raise BadRequest("expected a Webhook object: {\"url\": ..., \"headers\": {...}}")
    url = body.get("url")
    if not isinstance(url, str) or not url:
        raise BadRequest("url: required")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"url: not an http(s) URL: {url}")
    headers = body.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise BadRequest("headers: expected an object of string values")
    size = len(url) + sum(len(k) + len(v) for k, v in headers.items())
    if size > WEBHOOK_LIMIT:
        raise BadRequest(
            f"url and headers are {size} characters together; at most {WEBHOOK_LIMIT} allowed"
        )
    return url, dict(headers), Serialization.parse(body.get("serialization"))


def parse_message(body: Any) -> list[Queued]:
    """The items of an injected NotificationMessage, in order; ``BadRequest`` if malformed."""
    if not isinstance(body, dict):
        raise BadRequest("expected a NotificationMessage object")
    entries: list[Queued] = []
    for section, items in body.items():
        if section not in SECTIONS:
            raise BadRequest(f"{section!r} is not a NotificationMessage array")
        if not isinstance(items, list):
            raise BadRequest(f"{section}: expected an array")
        for index, item in enumerate(items):
            if not isinstance(item, dict) and not (section in GONE and isinstance(item, str)):
                raise BadRequest(f"{section}[{index}]: expected an object")
            entries.append(queued_from(section, item))
    return entries


class EventQueue:
    """A channel's queue: bounded (the oldest items are dropped first, as the service does when
    its 50 MB limit is reached), with an event that wakes the one consumer."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.items: deque[Queued] = deque()
        self.dropped = 0
        self.changed = asyncio.Event()
        # The sandbox's ``duplicate`` fault: this many next items are queued twice, the same
        # item (same uid), as the service re-sends a batch.
        self.duplicate = 0

    def __len__(self) -> int:
        return len(self.items)

    def push(self, entries: Iterable[Queued]) -> None:
        if self.duplicate:
            entries = self._doubled(entries)
        self.items.extend(entries)
        self._trim()
        self.changed.set()

    def _doubled(self, entries: Iterable[Queued]) -> Iterable[Queued]:
        for entry in entries:
            yield entry
            if self.duplicate:
                self.duplicate -= 1
                yield entry

    def push_front(self, entries: list[Queued]) -> None:
        """Put back a batch that was not delivered, ahead of everything else."""
        self.items.extendleft(reversed(entries))
        self._trim()
        self.changed.set()

    def take(self, count: int) -> list[Queued]:
        """The next frame's worth: at most ``count`` items, stopping early where queue order
        would otherwise be lost. A message's arrays are read in ``SECTIONS`` order, so a frame
        ends before an item whose array comes earlier than one already in it (a registration
        after a notification starts the next frame): reading frames array by array then gives
        exactly the queue order, and a device's registration always precedes its events."""
        items, top = self.items, -1
        out: list[Queued] = []
        while items and len(out) < count:
            rank = _RANK[items[0].section]
            if rank < top:
                break
            top = rank
            out.append(items.popleft())
        return out

    def clear(self) -> None:
        self.items.clear()
        self.changed.set()

    def wake(self) -> None:
        """Wake the consumer so it re-checks its stop conditions."""
        self.changed.set()

    async def wait(self) -> None:
        """Wait until something was queued (or ``wake`` was called) since the last call."""
        self.changed.clear()
        await self.changed.wait()

    def _trim(self) -> None:
        excess = len(self.items) - self.limit
        if excess > 0:
            self.dropped += excess
            for _ in range(excess):
                self.items.popleft()


def callback_rules(url: str, headers: Mapping[str, str], *, retry_base: float = 1.0,
                   timeout: float | None = None) -> PelionRules:
    """The Pelion delivery rules for a registered callback: its URL and headers, retried until
    accepted (the platform retries for 24 h), every back-off delay times ``retry_base``."""
    return PelionRules(RuleOptions(target=url, headers=list(headers.items()),
                                   max_attempts=UNTIL_ACCEPTED, retry_base=retry_base,
                                   timeout=timeout))


@dataclass
class DeliveryStats:
    """A key's callback counters for ``/_sandbox/state``, over every URL it registered: the
    engine's log, read as the platform's terms (a failure is an attempt that is retried)."""

    report: DeliveryLog
    deliverer: Sender | None = None  # the current one, for the last attempt's outcome

    @property
    def delivered(self) -> int:
        return self.report.events_accepted

    def to_json(self) -> dict[str, Any]:
        report = self.report
        last = self.deliverer.last if self.deliverer is not None else None
        status = int(last) if last is not None and last.isdigit() else None
        return {
            "attempts": report.attempts,
            "failures": report.retried + report.failed,
            "batches": report.accepted,
            "delivered": report.events_accepted,
            "last_status": status,
            "last_error": last if status is None else None,
            "statuses": dict(report.statuses),
        }


async def verify_callback(
    context: SandboxContext, url: str, headers: Mapping[str, str], timeout: float
) -> None:
    """The registration handshake: ``PUT {}`` with the channel's headers must get 200 or 204
    within ``timeout``; redirects are not followed. Raises ``BadRequest`` otherwise."""
    rules = callback_rules(url, headers, timeout=timeout)
    deliverer = context.sender(rules, context.log(url))
    if await deliverer.handshake() is Verdict.ACCEPTED:
        return
    last = deliverer.last or "no answer"
    if last.isdigit():
        raise BadRequest(
            f"URL not reachable: the verification PUT to {url} answered {last}, not 200 or 204"
        )
    raise BadRequest(f"URL not reachable: the verification PUT to {url} failed ({last})")


class CallbackDeliverer:
    """Delivers one callback channel's queue: takes the next batch of at most
    ``max_chunk_size`` items only when the previous one was accepted, shaped by the channel's
    serialization config of that moment, and hands it to the sandbox's sender, which resends
    it with back-off until a 2xx (one request in flight).
    """

    def __init__(
        self,
        *,
        context: SandboxContext,
        url: str,
        headers: Mapping[str, str],
        queue: EventQueue,
        serialization: Callable[[], Serialization],
        stats: DeliveryStats,
    ) -> None:
        self.url = url
        config = context.config
        self.rules = callback_rules(url, headers, retry_base=config.retry_base,
                                    timeout=config.callback_timeout)
        self.stats = stats
        self._deliverer = context.sender(self.rules, stats.report)
        self.stats.deliverer = self._deliverer
        self._queue = queue
        self._serialization = serialization
        self._batch: list[Queued] = []
        self._batches = itertools.count()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"pelion-callback {self.url}")

    async def stop(self) -> list[Queued]:
        """Stop delivering; returns the batch that was in flight and not acknowledged."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        batch, self._batch = self._batch, []
        return batch

    async def _run(self) -> None:
        request: Request | None = None
        while True:
            if request is None:
                if not self._queue:
                    await self._queue.wait()
                    continue
                cfg = self._serialization()
                self._batch = self._queue.take(cfg.max_chunk_size)
                request = self.rules.batch(build_message(self._batch, cfg), len(self._batch),
                                           "sandbox queue", f"sandbox-{next(self._batches)}")
            # Retried inside until accepted (max_attempts 0); anything else would resend it.
            if await self._deliverer.deliver(request) is Verdict.ACCEPTED:
                self._batch, request = [], None
