"""Waiting before trying again: the one back-off generator (the WebSocket streams' reconnects)
and ``Retry-After`` parsing (management calls in ``http``, the WebSocket handshake, replay's
engine). It lives apart from ``http`` so replay and the streams need not import httpx for it."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Iterator


def backoff(base: float = 1.0, cap: float = 30.0, *, jitter: bool = False) -> Iterator[float]:
    """Delays doubling from ``base`` up to ``cap``: exactly 1, 2, 4 ... 30 without ``jitter``
    (the seed's reconnect delays); with it, each delay drawn from [d/2, d], so the first retry
    comes within ``base`` and many clients do not reconnect in lockstep after a restart."""
    delay = base
    while True:
        yield delay / 2 + random.uniform(0, delay / 2) if jitter else delay
        delay = min(cap, delay * 2)



def parse_retry_after(value: str | None, cap: float) -> float | None:
    """A ``Retry-After`` value (seconds or an HTTP date) in seconds, within [0, cap]."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap)
