"""The replay report: counters, status codes and a constant-memory latency histogram, rendered as
the summary table people read on stderr and as the JSON ``--report FILE`` (and ``-o json``).

Latencies go into logarithmic buckets (5 % wide), so percentiles are exact to a few percent and
memory does not grow with the number of deliveries.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_BASE_MS = 0.01  # the first bucket starts at 10 microseconds
_GROWTH = 1.05
_LOG_GROWTH = math.log(_GROWTH)
_BUCKETS = 400  # 10 us * 1.05**400 is about 3 hours


class Latency:
    """Logarithmic histogram of latencies in milliseconds."""

    def __init__(self) -> None:
        self.counts = [0] * _BUCKETS
        self.n = 0
        self.total = 0.0
        self.max = 0.0
        self.min = math.inf

    def add(self, ms: float) -> None:
        index = int(math.log(ms / _BASE_MS) / _LOG_GROWTH) if ms > _BASE_MS else 0
        self.counts[min(index, _BUCKETS - 1)] += 1
        self.n += 1
        self.total += ms
        self.max = max(self.max, ms)
        self.min = min(self.min, ms)

    def percentile(self, p: float) -> float | None:
        if not self.n:
            return None
        rank = max(1, math.ceil(self.n * p / 100))
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:  # the bucket's geometric middle, clamped to what was seen
                middle = _BASE_MS * _GROWTH ** (index + 0.5)
                return float(min(max(middle, self.min), self.max))
        return self.max

    def histogram(self, rows: int = 8) -> list[tuple[float, float, int]]:
        """(from ms, to ms, count) over ``rows`` log-spaced ranges between min and max."""
        if not self.n:
            return []
        if self.max <= self.min * 1.001:  # one latency (a single delivery): one row, not eight
            return [(self.min, self.max, self.n)]
        low, high = self.min, self.max
        edges = [low * (high / low) ** (i / rows) for i in range(rows + 1)]
        out = [0] * rows
        for index, count in enumerate(self.counts):
            if count:
                middle = min(max(_BASE_MS * _GROWTH ** (index + 0.5), low), high)
                row = min(rows - 1, int(math.log(middle / low) / math.log(high / low) * rows))
                out[row] += count
        return [(edges[i], edges[i + 1], out[i]) for i in range(rows)]


PASS_COUNTS = ("deliveries", "events", "accepted", "failed", "gone", "refused")


@dataclass
class Report:
    """Everything a run did; ``ok`` is True only when every delivery was accepted."""

    provider: str
    target: str
    deliveries: int = 0  # settled deliveries (duplicates included)
    events: int = 0  # events in those deliveries
    accepted: int = 0
    events_accepted: int = 0
    retried: int = 0  # extra attempts
    failed: int = 0  # given up after the platform's attempts
    gone: int = 0  # answered 410: nothing more was sent to the target
    refused: int = 0  # not sent at all (e.g. a stale signature and no key)
    duplicates: int = 0
    resigned: int = 0
    invalid: int = 0  # input lines skipped by --skip-invalid
    attempts: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latency: Latency = field(default_factory=Latency)
    problems: list[str] = field(default_factory=list)
    stopped: str | None = None  # why delivery stopped early
    # How the rules shaped the deliveries, e.g. {"batches": "as captured"} (Rules.settings).
    settings: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    # --loop: what each pass did (``end_pass``); empty for a single run.
    passes: list[dict[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.failed == 0 and self.gone == 0 and self.refused == 0
                and self.stopped is None and self.accepted == self.deliveries)

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def note(self, message: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(message)

    def end_pass(self) -> None:
        """Record the pass that just ended (--loop): its own counts, not the running totals."""
        before = {name: sum(done[name] for done in self.passes) for name in PASS_COUNTS}
        self.passes.append({name: getattr(self, name) - before[name] for name in PASS_COUNTS})

    def as_dict(self) -> dict[str, Any]:
        data = self._totals()
        if self.passes:
            data["passes"] = [dict(done) for done in self.passes]
        return data

    def _totals(self) -> dict[str, Any]:
        elapsed = self.elapsed
        lat = self.latency
        return {
            "ok": self.ok,
            "provider": self.provider,
            "target": self.target,
            "settings": dict(self.settings),
            "deliveries": self.deliveries,
            "events": self.events,
            "accepted": self.accepted,
            "events_accepted": self.events_accepted,
            "retried": self.retried,
            "failed": self.failed,
            "gone": self.gone,
            "refused": self.refused,
            "duplicates": self.duplicates,
            "resigned": self.resigned,
            "invalid": self.invalid,
            "attempts": self.attempts,
            "statuses": dict(sorted(self.statuses.items())),
            "latency_ms": {
                "p50": _round(lat.percentile(50)),
                "p95": _round(lat.percentile(95)),
                "p99": _round(lat.percentile(99)),
                "max": _round(lat.max if lat.n else None),
                "mean": _round(lat.total / lat.n if lat.n else None),
                "histogram": [
                    {"from": _round(a), "to": _round(b), "count": c} for a, b, c in lat.histogram()
                ],
            },
            "elapsed_s": round(elapsed, 3),
            "events_per_s": round(self.events / elapsed, 1) if elapsed > 0 else None,
            "deliveries_per_s": round(self.deliveries / elapsed, 1) if elapsed > 0 else None,
            "stopped": self.stopped,
            "problems": self.problems,
        }

    def progress_line(self) -> str:
        elapsed = self.elapsed or 1e-9
        return (f"{self.deliveries} deliveries  {self.events} events  "
                f"{self.events / elapsed:,.0f} ev/s  ok {self.accepted}  retried {self.retried}  "
                f"failed {self.failed + self.refused}  gone {self.gone}")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def summary_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary table's (what, value) rows from ``Report.as_dict()``."""
    lat = data["latency_ms"]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f} ms"

    rows = list(data["settings"].items())
    rows += [(name, str(data[name])) for name in
             ("deliveries", "events", "accepted", "retried", "failed", "gone", "refused")]
    rows += [(name, str(data[name])) for name in ("duplicates", "resigned", "invalid")
             if data[name]]
    rows.append(("status codes", "  ".join(f"{k}: {v}" for k, v in data["statuses"].items())
                 or "-"))
    rows.append(("latency p50 / p95 / p99",
                 f"{ms(lat['p50'])} / {ms(lat['p95'])} / {ms(lat['p99'])}"))
    rate = data["events_per_s"]
    rows.append(("events/s", "-" if rate is None else f"{rate:,.0f}"))
    rows.append(("elapsed", f"{data['elapsed_s']:.2f} s"))
    passes = data.get("passes") or []
    if passes:  # accepted/settled per pass, the first few (all of them are in --report)
        shown = "  ".join(f"{done['accepted']}/{done['deliveries']}" for done in passes[:10])
        rows.append((f"passes ({len(passes)}), accepted", shown + ("  ..." * (len(passes) > 10))))
    if data["stopped"]:
        rows.append(("stopped", data["stopped"]))
    return rows


def histogram_lines(data: dict[str, Any], width: int = 30) -> list[str]:
    """A small latency histogram, one text line per range."""
    bins = data["latency_ms"]["histogram"]
    top = max((b["count"] for b in bins), default=0)
    lines = []
    for b in bins:
        bar = "█" * (round(b["count"] / top * width) if top else 0)
        lines.append(f"{b['from']:>9.2f} - {b['to']:<9.2f} ms {bar} {b['count']}")
    return lines
