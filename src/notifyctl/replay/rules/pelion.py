"""Pelion / Izuma callback delivery (protocols/pelion.md section 4): ``PUT`` of NotificationMessage
batches with the configured headers, strictly one batch in flight, the next only after a 2xx.

Captured items are re-chunked into batches of ``--batch-size`` (at most 10,000, the platform's
``max_chunk_size``) with the provider's own wire module, so the batches are exactly what the
platform would build. Failures are retried with back-off 1 s, 2 s, 4 s ... capped at 2 min
(``--retry-base`` scales it); the platform retries for 24 h, so ``--max-attempts`` bounds a
replay. A batch that still fails ends the run: nothing after it may be delivered. Timeout 20 s.
``--handshake`` first sends the verification ``PUT {}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from notifyctl.errors import UsageError, WireError
from notifyctl.replay.inputs import Item
from notifyctl.replay.rules.base import (
    Decision,
    Refused,
    Request,
    RuleOptions,
    Rules,
    Verdict,
    configured_headers,
)

MAX_BATCH = 10_000
DEFAULT_ATTEMPTS = 8  # 1 + 7 retries: 127 s of back-off at the real scale
BACKOFF_CAP = 120.0


class PelionRules(Rules):
    name = "pelion"
    timeout = 20.0
    sequential = True
    stop_on_failure = True

    def __init__(self, options: RuleOptions) -> None:
        super().__init__(options)
        if not 1 <= options.batch_size <= MAX_BATCH:
            raise UsageError(f"--batch-size must be 1..{MAX_BATCH} (the platform's "
                             f"max_chunk_size), got {options.batch_size}")
        self.attempts = options.max_attempts or DEFAULT_ATTEMPTS
        self.headers = {"Content-Type": "application/json", **configured_headers(options)}

    def requests(self, items: Iterator[Item]) -> Iterator[Request | Refused]:
        from notifyctl.providers.pelion import wire

        size = self.options.batch_size
        pending: list[tuple[str, Any]] = []
        where, at, count = "", None, 0
        for item in items:
            try:
                if wire.is_verification(item.body):
                    continue  # a captured handshake is not an event (see --handshake)
                found = wire.items(item.body, validate=False)
            except (WireError, ValueError) as exc:
                self.bad_input(item.where, f"not a Pelion NotificationMessage: {exc}")
                continue
            while found:
                if not pending:
                    where, at = item.where, item.at
                room = size - len(pending)
                pending.extend(found[:room])
                found = found[room:]
                if len(pending) == size:
                    yield from self._batches(wire, pending, where, at, count)
                    count += 1
                    pending = []
        if pending:
            yield from self._batches(wire, pending, where, at, count)

    def _batches(self, wire: Any, pending: list[tuple[str, Any]], where: str, at: str | None,
                 count: int) -> Iterator[Request]:
        bodies: list[bytes] = list(wire.encode(pending, max_chunk_size=self.options.batch_size))
        for part, body in enumerate(bodies):
            events = len(pending) if len(bodies) == 1 else len(wire.items(body, validate=False))
            yield Request("PUT", self.options.target, self.headers, body, events, where,
                          f"pelion-{count}-{part}", at)

    def handshake(self) -> Request | None:
        return Request("PUT", self.options.target, self.headers, b"{}", 0, "handshake",
                       "pelion-handshake")

    def decide(self, status: int | None, attempt: int) -> Decision:
        if status is not None and 200 <= status < 300:
            return Decision(Verdict.ACCEPTED)
        if attempt < self.attempts:
            delay = min(self.options.retry_base * 2 ** (attempt - 1),
                        BACKOFF_CAP * self.options.retry_base)
            return Decision(Verdict.RETRY, delay)
        return Decision(Verdict.FAILED)
