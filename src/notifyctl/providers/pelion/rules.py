"""Pelion / Izuma callback delivery (docs/platforms/pelion.md, "Callback delivery"): ``PUT`` of
NotificationMessage batches with the configured headers, strictly one batch in flight, the next
only after a 2xx.

Replay means "these requests again": each captured batch is sent as captured, byte for byte,
one ``PUT`` each, in order. Only ``--batch-size N`` (at most 10,000, the platform's
``max_chunk_size``) re-chunks the events into batches of N with the provider's own wire module,
so the batches are exactly what the platform would build; a captured body that already is one
full batch is then still sent byte for byte. The summary says which (``batches``).
Failures are retried with back-off 1 s, 2 s, 4 s ... capped at 2 min (``--retry-base``
scales it); the platform retries for 24 h, so ``--max-attempts`` bounds a replay (default 8;
0 retries until accepted, as the platform and the sandbox do). A batch that still fails ends
the run: nothing after it may be delivered. Timeout 20 s. ``--handshake`` first sends the
verification ``PUT {}``: one attempt, accepted only on 200 or 204, redirects
not followed, as when the platform verifies a registered URL.

The sandbox (``emulator_delivery``) delivers its callback channels with
these rules and ``engine.Deliverer``; it builds batches from its own queue with ``batch``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from notifyctl.contract.deliver import (
    Decision,
    Item,
    Refused,
    Request,
    RuleOptions,
    Rules,
    Verdict,
    configured_headers,
)
from notifyctl.errors import UsageError, WireError

T = TypeVar("T")
MAX_BATCH = 10_000
DEFAULT_ATTEMPTS = 8  # 1 + 7 retries: 127 s of back-off at the real scale
UNTIL_ACCEPTED = 0  # max_attempts value: retry for ever (the platform gives up after 24 h)
BACKOFF_CAP = 120.0
VERIFIED = frozenset({200, 204})  # the only answers that verify a callback URL


class PelionRules(Rules):
    name = "pelion"
    timeout = 20.0
    sequential = True
    stop_on_failure = True

    def __init__(self, options: RuleOptions) -> None:
        super().__init__(options)
        # --batch-size: re-chunk into batches of N; None: each captured batch as captured.
        self.batch_size: int | None = options.extra.get("batch_size")
        self.handshake_first = bool(options.extra.get("handshake"))  # --handshake
        if self.batch_size is not None and not 1 <= self.batch_size <= MAX_BATCH:
            raise UsageError(f"--batch-size must be 1..{MAX_BATCH} (the platform's "
                             f"max_chunk_size), got {self.batch_size}")
        attempts = DEFAULT_ATTEMPTS if options.max_attempts is None else options.max_attempts
        if attempts < 0:
            raise UsageError(f"--max-attempts must be 0 (until accepted) or more, got {attempts}")
        self.attempts = attempts
        self.headers = {"Content-Type": "application/json", **configured_headers(options)}

    def settings(self) -> dict[str, str]:
        size = self.batch_size
        return {"batches": "as captured" if size is None else f"re-chunked to {size}"}

    def requests(self, items: Iterator[Item]) -> Iterator[Request | Refused]:
        from notifyctl.providers.pelion import wire

        size = self.batch_size
        if size is None:  # as captured: only each batch's size is needed, not its items
            sized = ((item, events) for item in items
                     if (events := self._checked(wire, wire.count, item)) is not None)
            for count, (item, events) in enumerate(sized):
                yield self.batch(item.body, events, item.where, f"pelion-{count}-0", item.at)
            return
        read = functools.partial(wire.items, check="types")
        captured = ((item, found) for item in items
                    if (found := self._checked(wire, read, item)) is not None)
        yield from self._rechunked(wire, captured, size)

    def _checked(self, wire: Any, read: Callable[[bytes], T], item: Item) -> T | None:
        """``read(body)`` of a captured batch (its events, or how many; every item's field
        types checked); None for a captured handshake or a bad body."""
        try:
            if wire.is_verification(item.body):
                return None  # a captured handshake is not an event (see --handshake)
            return read(item.body)
        except (WireError, ValueError) as exc:
            self.bad_input(item.where, f"not a Pelion NotificationMessage: {exc}")
            return None

    def _rechunked(self, wire: Any, captured: Iterator[tuple[Item, list[tuple[str, Any]]]],
                   size: int) -> Iterator[Request]:
        """--batch-size: the events in batches of ``size``, in order."""
        pending: list[tuple[str, Any]] = []
        where, at, count = "", None, 0
        for item, events in captured:
            if not pending and len(events) == size:
                # Already exactly one full batch: send the captured bytes as they came, which
                # is both what the platform sent and cheaper than re-encoding 10,000 items.
                yield self.batch(item.body, size, item.where, f"pelion-{count}-0", item.at)
                count += 1
                continue
            found = events
            while found:
                if not pending:
                    where, at = item.where, item.at
                room = size - len(pending)
                pending.extend(found[:room])
                found = found[room:]
                if len(pending) == size:
                    yield from self._batches(wire, pending, where, at, count, size)
                    count += 1
                    pending = []
        if pending:
            yield from self._batches(wire, pending, where, at, count, size)

    def _batches(self, wire: Any, pending: list[tuple[str, Any]], where: str, at: str | None,
                 count: int, size: int) -> Iterator[Request]:
        bodies: list[bytes] = list(wire.encode(pending, max_chunk_size=size))
        for part, body in enumerate(bodies):
            events = len(pending) if len(bodies) == 1 else len(wire.items(body, check="types"))
            yield self.batch(body, events, where, f"pelion-{count}-{part}", at)

    def batch(self, body: bytes, events: int, where: str, key: str,
              at: str | None = None) -> Request:
        """The delivery of one NotificationMessage ``body`` holding ``events`` items."""
        return Request("PUT", self.options.target, self.headers, body, events, where, key, at)

    def handshake(self) -> Request | None:
        return Request("PUT", self.options.target, self.headers, b"{}", 0, "handshake",
                       "pelion-handshake")

    def decide_handshake(self, status: int | None, attempt: int) -> Decision:
        """The verification ``PUT {}`` is sent once and must answer 200 or 204."""
        del attempt
        return Decision(Verdict.ACCEPTED if status in VERIFIED else Verdict.FAILED)

    def decide(self, status: int | None, attempt: int) -> Decision:
        if status is not None and 200 <= status < 300:
            return Decision(Verdict.ACCEPTED)
        if self.attempts == UNTIL_ACCEPTED or attempt < self.attempts:
            return Decision(Verdict.RETRY, self.backoff(attempt))
        return Decision(Verdict.FAILED)

    def backoff(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``: 1, 2, 4 ... capped at 120, times
        ``retry_base``. The exponent is bounded so retrying for ever cannot overflow."""
        return min(2.0 ** min(attempt - 1, 32), BACKOFF_CAP) * self.options.retry_base

