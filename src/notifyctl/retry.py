"""``Retry-After`` parsing, shared by management calls (``http``), the WebSocket handshake and
replay's engine; it lives apart from ``http`` so replay need not import httpx for it."""

from __future__ import annotations

import email.utils
import math
import time


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
