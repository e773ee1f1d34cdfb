"""The status bar's picture of time: the span a set of deliveries covers, and a sparkline of how
many arrived in each slice of it (deliveries per slice; a delivery may hold several events).

Pure: times in, text out, so the same capture always draws the same line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

BARS = "▁▂▃▄▅▆▇█"


def span(times: Iterable[float]) -> tuple[float, float] | None:
    """The first and last known time, or None when no delivery has one."""
    low, high = math.inf, -math.inf
    for moment in times:
        if not math.isnan(moment):  # NaN: a delivery without a capture time
            low, high = min(low, moment), max(high, moment)
    return None if low == math.inf else (low, high)


def sparkline(times: Iterable[float], bounds: tuple[float, float], width: int
              ) -> tuple[str, int]:
    """``width`` bars, each as high as the share of deliveries in its slice of ``bounds``
    (an empty slice is a space), and the most deliveries in one slice."""
    low, high = bounds
    counts = [0] * width
    scale = width / (high - low) if high > low else 0.0
    for moment in times:
        if not math.isnan(moment):
            counts[min(width - 1, int((moment - low) * scale))] += 1
    top = max(counts)
    if not top:
        return " " * width, 0
    return "".join(BARS[min(len(BARS) - 1, (count * len(BARS) - 1) // top)] if count else " "
                   for count in counts), top


def timeline(times: Callable[[], Iterable[float]], width: int) -> str:
    """The status bar's second line: the span, then the arrivals over it, with the scale
    (``times`` is called twice: the span first, then the slices)."""
    bounds = span(times())
    if bounds is None:
        return describe(None)
    bars, top = sparkline(times(), bounds, width)
    if bounds[1] <= bounds[0]:
        return describe(bounds)  # one instant: no slices to draw
    per = duration((bounds[1] - bounds[0]) / width)
    return f"{describe(bounds)} · arrivals {bars} (at most {top:,} in {per})"


def describe(bounds: tuple[float, float] | None) -> str:
    """``2026-11-23 09:00:00 → 09:00:12 (12 s)``, in UTC; ``no times`` without any."""
    if bounds is None:
        return "no times"
    low, high = (datetime.fromtimestamp(moment, UTC) for moment in bounds)
    same_day = low.date() == high.date()
    end = high.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S")
    return f"{low:%Y-%m-%d %H:%M:%S} → {end} UTC ({duration(bounds[1] - bounds[0])})"


def duration(seconds: float) -> str:
    """``850 ms``, ``12 s``, ``14 min``, ``3.5 h``, ``2.0 d``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
