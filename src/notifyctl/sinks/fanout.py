"""The sink engine: every ``--sink`` of one run, with the delivery guarantee (at least once).

``Sinks.build`` parses and checks every URL and loads each system's client (exit 2 for a bad
URL, a template field events lack, a missing extra) before anything connects; ``start``
connects each (exit 5 naming the URL when a broker cannot be reached). Then two modes:

- ``put`` (``tail``): each sink has a bounded buffer (``buffer`` events) drained by its own task,
  which publishes batch by batch and, when the broker is down, reconnects with back-off and
  re-sends the whole batch (the broker may hold part of it twice: at least once). ``put`` waits
  while a buffer is full, so ``tail`` stops reading its stream and the platform keeps the rest.
  A sink down for ``timeout`` seconds ends the run (NetworkError, exit 5).
- ``deliver`` (``listen``): publish now to every sink and wait for every ack; False when one
  cannot take them (the request is answered 503 and the platform sends it again).

Nothing is dropped silently: per sink, ``counts`` has what was published, re-sent after a
failure (``retried``), acknowledged as a duplicate by the broker, ``deferred`` (answered 503),
and ``failed`` (never published: too large for the broker, or still buffered when the run
ended) with the reasons; they go into the run's summary (``Accounting.sinks``).
"""

from __future__ import annotations

import asyncio
import importlib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from notifyctl import output
from notifyctl.errors import (
    AuthError,
    DeliveryFailed,
    NetworkError,
    NotifyctlError,
    UsageError,
)
from notifyctl.events import Event, encode_jsonl
from notifyctl.retry import backoff
from notifyctl.sinks.base import (
    Client,
    Message,
    SinkDown,
    SinkRefused,
    SinkUrl,
    Template,
    message_ids,
    parse_url,
    password_env,
)
from notifyctl.tls import client_context

if TYPE_CHECKING:
    from notifyctl.metrics import Family  # a type only: prometheus_client loads with --metrics

BUFFER_EVENTS = 100_000  # per sink, while it reconnects (tail)
BATCH = 5_000  # messages published and awaited together
RETRY_AFTER_S = 5  # what listen asks the platform to wait when a sink is down
RECONNECT_EVERY_S = 1.0  # listen: at most one connect attempt per sink in this time
MAX_REASONS = 20
COUNTERS = (  # per sink in /metrics, as notifyctl_sink_<name>_total
    ("published", "Messages the sink's broker acknowledged."),
    ("retried", "Messages published again after the sink failed (at least once)."),
    ("failed", "Messages never published: too large, or still buffered when the run ended."),
    ("deferred", "listen: messages answered 503 because the sink was down."),
    ("duplicates", "Messages the broker said it already had (JetStream)."),
)
CLIENTS = {"mqtt": "MqttClient", "nats": "NatsClient", "redis": "RedisClient"}


def load(system: str, shown: str) -> Any:
    """The module of ``system``'s client; exit 2 naming the extra when it is not installed."""
    try:
        return importlib.import_module(f"notifyctl.sinks.{system}")
    except ImportError as exc:  # mqtt needs none: its publisher is notifyctl's own
        raise UsageError(f"--sink {shown}: the {system} client is not installed ({exc.name})",
                         hint=f"pip install 'notifyctl[{system}]'") from exc


def _gather(queue: asyncio.Queue[list[Message] | None],
            first: list[Message]) -> tuple[list[Message], bool]:
    """``first`` with what else is queued, up to BATCH messages: small frames queued while a
    batch was out go as one, instead of one broker round trip each (which falls behind a busy
    stream). True when the end-of-run mark was taken too."""
    batch = first  # a chunk list of put's own: extending it in place is safe
    while len(batch) < BATCH and not queue.empty():
        more = queue.get_nowait()
        if more is None:
            return batch, True
        batch.extend(more)
    return batch, False


def refused(url: SinkUrl, exc: SinkRefused) -> NotifyctlError:
    """The error a run ends with when a broker refuses its credentials (exit 3) or its TLS
    certificate is not trusted (exit 5)."""
    if exc.credentials:
        return AuthError(f"--sink {url.shown}: {exc}",
                         hint=f"check the URL's user name and {password_env(url.scheme)}, or "
                              f"the profile's keyring entry '{url.system}-password'")
    return NetworkError(f"--sink {url.shown}: {exc}",
                        hint="trust the broker's CA with tail --ca-bundle FILE (listen: "
                             "SSL_CERT_FILE=FILE), or use tail --insecure to test")


@dataclass
class Target:
    """One sink of the run: its client, address template, counts and (tail) buffer."""

    url: SinkUrl
    client: Client
    template: Template
    counts: dict[str, Any] = field(default_factory=lambda: {
        "published": 0, "retried": 0, "duplicates": 0, "deferred": 0, "failed": 0,
        "reasons": []})
    pending: int = 0
    holding: bool = False  # put is waiting for room: the caller's reading is paused
    connected: bool = False
    down_since: float | None = None
    tried: float = 0.0  # monotonic time of listen's last connect attempt
    error: NotifyctlError | None = None
    queue: asyncio.Queue[list[Message] | None] = field(default_factory=asyncio.Queue)
    room: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def fail(self, count: int, reason: str) -> None:
        self.counts["failed"] += count
        if len(self.counts["reasons"]) < MAX_REASONS:
            self.counts["reasons"].append(reason)


class Sinks:
    """Every ``--sink`` of one run (module doc)."""

    def __init__(self, targets: list[Target], *, unique_ids: bool, timeout: float,
                 skip_oversize: bool, buffer: int) -> None:
        self.targets = targets
        self.unique_ids = unique_ids
        self.timeout = timeout
        self.skip_oversize = skip_oversize
        self.buffer = buffer

    @classmethod
    def build(cls, urls: Sequence[str], *, unique_ids: bool, timeout: float = 60.0,
              skip_oversize: bool = False, buffer: int = BUFFER_EVENTS,
              keyring: Callable[[str], str | None] | None = None,
              tls: Callable[[], ssl.SSLContext] = client_context) -> Sinks:
        """``tls`` makes the context of a TLS sink (``mqtts://``): the run's ``--ca-bundle``
        and ``--insecure`` where the command has them, else the system's CAs."""
        if timeout <= 0:
            raise UsageError(f"--sink-timeout {timeout:g}: must be greater than 0")
        targets: list[Target] = []
        for text in urls:
            url = parse_url(text)
            if any(target.url.shown == url.shown for target in targets):
                raise UsageError(f"--sink {url.shown} is given twice")
            module = load(url.system, url.shown)
            extra = {"tls": tls()} if url.tls else {}
            client = getattr(module, CLIENTS[url.system])(url, url.password(keyring), **extra)
            targets.append(Target(url, client, module.template(url)))
        return cls(targets, unique_ids=unique_ids, timeout=timeout,
                   skip_oversize=skip_oversize, buffer=buffer)

    @property
    def counts(self) -> dict[str, dict[str, Any]]:
        """Per sink (URL as shown) its counts, live: the summary reads them at the end."""
        return {target.url.shown: target.counts for target in self.targets}

    def families(self) -> list[Family]:
        """Per-sink figures for ``/metrics`` (``Metrics.watch``), labelled with the URL as
        shown (password masked): the counts of the summary, and what is buffered now."""
        def each(value: Callable[[Target], float]) -> list[tuple[dict[str, str], float]]:
            return [({"sink": target.url.shown}, value(target)) for target in self.targets]

        def count(name: str) -> Callable[[Target], float]:
            return lambda target: float(target.counts[name])

        out: list[Family] = [("counter", f"notifyctl_sink_{name}", doc, each(count(name)))
                             for name, doc in COUNTERS]
        out.append(("gauge", "notifyctl_sink_buffered", "tail: events waiting for the sink.",
                    each(lambda target: target.pending)))
        out.append(("gauge", "notifyctl_sink_connected", "1 while the sink is connected.",
                    each(lambda target: 1.0 if target.connected else 0.0)))
        return out

    # -- start and end ----------------------------------------------------------------------
    async def start(self, workers: bool = True) -> None:
        """Connect every sink (exit 5 naming one that cannot be reached); with ``workers``
        (tail) start the tasks draining each buffer."""
        for target in self.targets:
            try:
                await target.client.connect()
            except SinkRefused as exc:
                await self.close()
                raise refused(target.url, exc) from exc
            except SinkDown as exc:
                await self.close()
                raise NetworkError(f"--sink {target.url.shown}: cannot connect ({exc})",
                                   hint="start the broker, or check the host and port") from exc
            target.connected = True
            if workers:
                target.worker = asyncio.create_task(self._drain(target))

    async def finish(self) -> None:
        """Publish what is buffered (each sink keeps retrying up to ``timeout``), then close;
        what could not be published is counted as failed."""
        for target in self.targets:
            if target.worker is not None and not target.worker.done():
                target.queue.put_nowait(None)
        workers = [t.worker for t in self.targets if t.worker is not None]
        try:
            if workers:
                await asyncio.wait(workers, timeout=self.timeout)
        finally:
            for target in self.targets:
                if target.worker is not None and not target.worker.done():
                    target.worker.cancel()
                if target.pending:
                    target.fail(target.pending, f"{target.pending} events still buffered when "
                                                "the run ended")
                    target.pending = 0
            await self.close()

    async def close(self) -> None:
        for target in self.targets:
            await target.client.close()
            target.connected = False

    def outcome(self) -> NotifyctlError | None:
        """The error the run ends with for messages never published, if any."""
        failed = [t for t in self.targets if t.counts["failed"]]
        if not failed:
            return None
        only_oversize = all(reason.startswith("too large")
                            for t in failed for reason in t.counts["reasons"])
        if only_oversize and self.skip_oversize:
            return None
        first = failed[0]
        return DeliveryFailed(
            f"{sum(t.counts['failed'] for t in failed):,} events were not published to "
            f"{', '.join(t.url.shown for t in failed)}: {first.counts['reasons'][0]}",
            hint="--sink-skip-oversize lets a run skip messages too large for the broker"
            if only_oversize else "see the summary")

    # -- messages ---------------------------------------------------------------------------
    def _messages(self, events: Sequence[Event]) -> list[tuple[Target, list[Message]]]:
        """Each sink's messages for ``events``; those too large are counted failed here."""
        lines = encode_jsonl(events).split(b"\n")
        ids = message_ids(events, self.unique_ids)
        out = []
        for target in self.targets:
            render, limit = target.template.render, target.client.max_message
            longest = target.client.max_address
            messages = []
            for event, line, ident in zip(events, lines, ids, strict=False):
                address = render(event)
                if len(line) > limit:
                    self._oversize(target, ident, f"is {len(line):,} bytes", limit)
                elif len(address) > longest // 4 and len(address.encode()) > longest:
                    self._oversize(target, ident, f"has a {len(address.encode()):,}-byte "
                                                  "address", longest)
                else:
                    messages.append(Message(address, ident, line))
            out.append((target, messages))
        return out

    def _oversize(self, target: Target, ident: str, what: str, limit: int) -> None:
        reason = f"too large: event {ident} {what}, the broker takes {limit:,}"
        target.fail(1, reason)
        output.current().warn(f"sink {target.url.shown}: {reason}"
                              + (" (skipped)" if self.skip_oversize else ""))

    # -- tail: buffered, with back-pressure -------------------------------------------------
    async def put(self, events: Sequence[Event]) -> None:
        """Queue ``events`` for every sink; waits while a sink's buffer is full (so the
        caller stops reading), raises the error of a sink that gave up."""
        batches = self._messages(events)
        for number, (target, messages) in enumerate(batches):
            while (target.pending and target.pending + len(messages) > self.buffer
                   and target.error is None):
                target.room.clear()
                target.holding = True
                try:
                    await target.room.wait()
                finally:
                    target.holding = False
            if target.error is not None:  # the run ends: these events are counted, not lost
                for other, left in batches[number:]:
                    other.fail(len(left), f"{len(left)} events not published: the run ended "
                                          f"({target.url.shown} gave up)")
                raise target.error
            for start in range(0, len(messages), BATCH):
                chunk = messages[start:start + BATCH]
                target.pending += len(chunk)
                target.queue.put_nowait(chunk)

    async def _drain(self, target: Target) -> None:
        ending = False
        while not ending and (batch := await target.queue.get()) is not None:
            batch, ending = _gather(target.queue, batch)
            try:
                await self._send(target, batch)
            except NotifyctlError as exc:
                target.error = exc
                target.room.set()
                return
            target.pending -= len(batch)
            target.room.set()

    async def _send(self, target: Target, batch: list[Message]) -> None:
        """Publish ``batch`` until the broker acknowledged all of it, reconnecting with
        back-off; NetworkError after ``timeout`` seconds without the sink, the ``refused``
        error at once when the broker refuses the client as configured."""
        delays = backoff(0.1, 5.0, jitter=True)
        retry = False
        while True:
            try:
                if not target.connected:
                    await target.client.connect()
                    target.connected = True
                    output.current().info(f"sink {target.url.shown}: reconnected")
                await target.client.publish(batch)
            except SinkRefused as exc:  # e.g. restarted with other credentials: retry is futile
                raise refused(target.url, exc) from exc
            except SinkDown as exc:
                self._down(target, exc)
                retry = True
                await asyncio.sleep(next(delays))
                continue
            target.down_since = None
            target.counts["published"] += len(batch)
            if retry:
                target.counts["retried"] += len(batch)
            target.counts["duplicates"] = target.client.duplicates
            return

    def _down(self, target: Target, exc: SinkDown) -> None:
        now = time.monotonic()
        target.connected = False
        if target.down_since is None:
            target.down_since = now
            output.current().warn(f"sink {target.url.shown}: {exc}; reconnecting (up to "
                                  f"{self.buffer:,} events are kept, then reading pauses)")
        elif now - target.down_since > self.timeout:
            raise NetworkError(f"--sink {target.url.shown}: no connection for "
                               f"{self.timeout:g} s ({exc})",
                               hint="start the broker, or raise --sink-timeout")

    # -- listen: publish now ----------------------------------------------------------------
    async def deliver(self, events: Sequence[Event]) -> bool:
        """Publish ``events`` to every sink and wait for every ack; False when a sink is down
        (nothing is kept: the caller answers 503 and the platform sends them again)."""
        results = await asyncio.gather(*(self._deliver(target, messages)
                                         for target, messages in self._messages(events)))
        return all(results)

    async def _deliver(self, target: Target, messages: list[Message]) -> bool:
        try:
            if not target.connected:
                async with target.lock:
                    if not target.connected:
                        # Requests arriving together while the broker is down get their 503
                        # at once instead of each waiting for a connect attempt of its own.
                        if time.monotonic() - target.tried < RECONNECT_EVERY_S:
                            raise SinkDown("still down")
                        target.tried = time.monotonic()
                        await target.client.connect()
                        target.connected = True
                        target.down_since = None
                        output.current().info(f"sink {target.url.shown}: reconnected")
            await target.client.publish(messages)
        except SinkDown as exc:
            if target.connected or target.down_since is None:
                target.down_since = time.monotonic()
                output.current().warn(f"sink {target.url.shown}: {exc}; answering 503 "
                                      f"(Retry-After: {RETRY_AFTER_S}) until it is back")
            target.connected = False
            target.counts["deferred"] += len(messages)
            return False
        target.counts["published"] += len(messages)
        target.counts["duplicates"] = target.client.duplicates
        return True
