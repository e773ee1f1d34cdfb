"""What a ``tail`` or ``listen`` run received and what it can tell was lost: the accounting.

Platform-neutral: a platform says what it can know through its declaration (``unique_ids``:
a repeated id is a duplicate; ``numbering``: per-device message numbers, so gaps and repeated
numbers can be counted). ``Accounting`` counts events by kind, duplicates, the numbers missing
per stream (device), the largest age of the newest event of a batch against its own
``time`` (warning once, through ``on_late``, when it passes ``warn_age`` seconds, with the
platform's own retention fact, ``Platform.retention``), and, once ``watch`` is given the
stream's ``StreamStats``, reconnects and the seconds spent disconnected. A figure the
platform cannot know is ``None`` ("not known"), never 0.

``families()`` is the same figures as plain data for ``notifyctl.metrics`` (Prometheus), read
when ``/metrics`` is scraped: metrics cost nothing per event.

Work is per batch (a frame, a request), not per event, where it can be: kinds are counted in
C by ``Counter.update``, and only the newest event of a batch has its time parsed. Numbers are
looked at per event only on platforms that number their messages.

Gap rule, per stream with modulus M: the step from the last number seen to the new one is
``d = (new - last) mod M``. ``1 <= d <= M/2`` is forward (wrapping through 0 is normal), and
the ``d - 1`` numbers between are missing until they turn up (a late, reordered message is
then struck off). ``d > M/2`` is a jump back: unless the number is one of those missing (a
late message), the device was reset, which is counted as a reset and the stream goes on
from there (never as thousands missing).
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from notifyctl.contract import Numbering, Platform
from notifyctl.events import Event, StreamStats

if TYPE_CHECKING:
    from notifyctl.metrics import Family  # a type only: prometheus_client loads with --metrics

__all__ = ["DEFAULT_WARN_AGE", "Accounting", "Stream"]

DEFAULT_WARN_AGE = 60 * 60.0  # seconds: an hour behind is worth a warning on every platform

# Memory bounds: ids/numbers remembered for duplicates, and missing numbers kept per run.
SEEN_WINDOW = 20_000
MISSING_LIMIT = 100_000


@dataclass
class Stream:
    """One device's numbering: the last number seen and the numbers still missing."""

    last: int
    missing: set[int] = field(default_factory=set)
    resets: int = 0


class _Seen:
    """A bounded memory of keys (the most recent ``window``)."""

    def __init__(self, window: int = SEEN_WINDOW) -> None:
        self._set: set[object] = set()
        self._order: deque[object] = deque()
        self._window = window

    def repeated(self, key: object) -> bool:
        """True when ``key`` was seen; remembers it otherwise."""
        if key in self._set:
            return True
        self._set.add(key)
        self._order.append(key)
        if len(self._order) > self._window:
            self._set.discard(self._order.popleft())
        return False


class Accounting:
    """Counts of one run; ``add`` each batch of events, ``summary()`` at the end."""

    def __init__(self, *, unique_ids: bool, numbering: Numbering | None,
                 ids_checked_elsewhere: bool = False, provider: str = "",
                 retention: str = "", warn_age: float | None = DEFAULT_WARN_AGE,
                 on_late: Callable[[str], None] | None = None) -> None:
        self.provider = provider
        self.numbering = numbering
        # tail drops repeated ids itself (and reports them with ``note_duplicates``).
        self._ids = _Seen() if unique_ids and not ids_checked_elsewhere else None
        self._numbers = _Seen() if numbering is not None else None
        self.duplicates_known = unique_ids or numbering is not None
        self.received = 0
        self.by_kind: Counter[str] = Counter()
        self.duplicates = 0
        self.duplicated: list[dict[str, Any]] = []  # (stream, number) repeats, bounded
        self.streams: dict[str, Stream] = {}
        self.max_age: float | None = None
        self.newest: float | None = None  # epoch seconds of the newest event's own time
        self.answers: Counter[int] | None = None
        self.gaps = 0  # forward jumps that left numbers missing, for the metrics
        self.stream: StreamStats | None = None
        self.retention = retention
        self.warn_age = warn_age or None  # 0 turns the warning off
        self.on_late = on_late
        self._warned = False
        # --sink: per sink (URL, password masked) what was published, retried, failed (live
        # counts kept by notifyctl.sinks); None without sinks.
        self.sinks: dict[str, dict[str, Any]] | None = None
        self._missing = 0

    @classmethod
    def for_platform(cls, platform: Platform, *, ids_checked_elsewhere: bool = False,
                     warn_age: float | None = DEFAULT_WARN_AGE,
                     on_late: Callable[[str], None] | None = None) -> Accounting:
        return cls(unique_ids=platform.unique_ids, numbering=platform.numbering,
                   ids_checked_elsewhere=ids_checked_elsewhere, provider=platform.name,
                   retention=platform.retention, warn_age=warn_age, on_late=on_late)

    def watch(self, stats: StreamStats) -> None:
        """Read reconnects and time disconnected from a live stream's stats (``tail``)."""
        self.stream = stats

    @property
    def missing(self) -> int:
        """Numbers missing now (a late message strikes one off): the live status lines."""
        return self._missing

    # -- counting ---------------------------------------------------------------------------
    def add(self, events: Sequence[Event], now: float | None = None) -> None:
        """One batch as it arrived (duplicates included: they are counted here)."""
        if not events:
            return
        self.received += len(events)
        self.by_kind.update([event.kind for event in events])
        if self._ids is not None:
            repeated = self._ids.repeated
            self.duplicates += sum(1 for event in events
                                   if event.id is not None and repeated(event.id))
        if self.numbering is not None:
            self._number(events)
        self._age(events[-1].time, time.time() if now is None else now)

    def note_duplicates(self, count: int) -> None:
        self.duplicates += count

    def answer(self, status: int) -> None:
        if self.answers is None:
            self.answers = Counter()
        self.answers[status] += 1

    def _age(self, stamp: str | None, now: float) -> None:
        if not stamp:
            return
        try:
            age = now - datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            return
        if self.max_age is None or age > self.max_age:
            self.max_age = age
        when = now - age
        if self.newest is None or when > self.newest:
            self.newest = when
        if self.warn_age is not None and age > self.warn_age and not self._warned:
            self._warned = True
            if self.on_late is not None:
                self.on_late(self.late_message(age))

    def late_message(self, age: float) -> str:
        """The one warning of a run that fell behind, with what the platform then drops."""
        fact = f"; {self.retention}" if self.retention else ""
        return (f"the channel is {_span(age)} behind (its newest event is older than "
                f"--warn-age {_span(self.warn_age or 0)}){fact}")

    def _number(self, events: Iterable[Event]) -> None:
        numbering = self.numbering
        assert numbering is not None and self._numbers is not None
        for event in events:
            number = numbering.of(event.raw)
            if number is None or event.device is None:
                continue
            if self._numbers.repeated((event.device, number)):
                self.duplicates += 1
                if len(self.duplicated) < MISSING_LIMIT:
                    self.duplicated.append({"stream": event.device, "sequence": number})
                continue
            self._step(event.device, number, numbering.modulus)

    def _step(self, device: str, number: int, modulus: int) -> None:
        stream = self.streams.get(device)
        if stream is None:
            self.streams[device] = Stream(number)
            return
        if number in stream.missing:  # a late (reordered) message
            stream.missing.discard(number)
            self._missing -= 1
            return
        step = (number - stream.last) % modulus
        if step > modulus // 2:
            stream.resets += 1
        else:
            room = MISSING_LIMIT - self._missing
            between = [(stream.last + k) % modulus for k in range(1, min(step, room + 1))]
            stream.missing.update(between)
            self._missing += len(between)
            self.gaps += step > 1
        stream.last = number

    # -- the result -------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """The run's figures as JSON-ready data; None stands for "not known"."""
        numbered = self.numbering is not None
        doc: dict[str, Any] = {
            "received": self.received,
            "by_kind": dict(sorted(self.by_kind.items())),
            "duplicates": self.duplicates if self.duplicates_known else None,
            "duplicated": self.duplicated if numbered else None,
            "gaps": [{"stream": name, "missing": sorted(stream.missing)}
                     for name, stream in sorted(self.streams.items()) if stream.missing]
            if numbered else None,
            "resets": sum(s.resets for s in self.streams.values()) if numbered else None,
            "max_age_seconds": None if self.max_age is None else round(self.max_age, 3),
            "reconnects": None,
            "disconnected_seconds": None,
        }
        if self.stream is not None:
            doc["reconnects"] = self.stream.reconnects
            doc["disconnected_seconds"] = round(self.stream.disconnected_seconds(), 3)
        if self.answers is not None:
            doc["answers"] = {str(status): n for status, n in sorted(self.answers.items())}
        if self.sinks is not None:
            doc["sinks"] = self.sinks
        return doc

    def lines(self, first: str) -> list[str]:
        """The summary for people, a few short lines for stderr; ``first`` starts the first
        (the command's own figures: "tail: 30 events in 1.2 s")."""
        doc = self.summary()

        def known(value: object) -> str:
            return "not known" if value is None else f"{value:,}" if isinstance(value, int) \
                else str(value)

        kinds = ", ".join(f"{kind} {n:,}" for kind, n in doc["by_kind"].items())
        lines = [first + (f" ({kinds})" if kinds else "")]
        missing = sum(len(gap["missing"]) for gap in doc["gaps"] or ())
        gaps = "not known" if doc["gaps"] is None else (
            f"{missing:,} missing in {len(doc['gaps'])} streams" if missing else "none")
        lines.append(f"  duplicates {known(doc['duplicates'])}, gaps {gaps}")
        for gap in (doc["gaps"] or ())[:5]:
            shown = ", ".join(map(str, gap["missing"][:20]))
            more = f" (+{len(gap['missing']) - 20})" if len(gap["missing"]) > 20 else ""
            lines.append(f"    {gap['stream']}: missing {shown}{more}")
        age = doc["max_age_seconds"]
        away = doc["disconnected_seconds"]
        lines.append(f"  max age {'not known' if age is None else f'{age:.1f} s'}"
                     + ("" if self.answers is not None
                        else f", reconnects {known(doc['reconnects'])}")
                     + ("" if not away else f" ({away:.1f} s disconnected)"))
        if "answers" in doc:
            lines.append("  answers " + ", ".join(f"{s}: {n:,}"
                                                  for s, n in doc["answers"].items()))
        lines.extend(_sink_line(url, counts) for url, counts in (self.sinks or {}).items())
        return lines

    def families(self) -> list[Family]:
        """The figures as metrics (see ``Family``); what cannot be known is left out."""
        label = {"provider": self.provider}
        out: list[Family] = [
            ("counter", "notifyctl_events", "Events received, by provider and kind.",
             [({**label, "kind": kind}, n) for kind, n in sorted(self.by_kind.items())]),
        ]
        if self.duplicates_known:
            out.append(("counter", "notifyctl_duplicates", "Duplicate events seen.",
                        [(label, self.duplicates)]))
        if self.numbering is not None:
            out.append(("counter", "notifyctl_gaps", "Gaps in the platform's message numbers.",
                        [(label, self.gaps)]))
            out.append(("gauge", "notifyctl_missing_messages",
                        "Message numbers missing now (late messages strike them off).",
                        [(label, self._missing)]))
        if self.stream is not None:
            stats = self.stream
            out.append(("counter", "notifyctl_reconnects", "Reconnects of the stream.",
                        [(label, stats.reconnects)]))
            out.append(("gauge", "notifyctl_connected", "1 while the stream is connected.",
                        [(label, 1.0 if stats.state == "connected" else 0.0)]))
            out.append(("counter", "notifyctl_disconnected_seconds",
                        "Seconds the stream spent disconnected after it was first up.",
                        [(label, stats.disconnected_seconds())]))
        if self.newest is not None:
            out.append(("gauge", "notifyctl_newest_event_age_seconds",
                        "Age of the newest event received, against its own time.",
                        [(label, time.time() - self.newest)]))
        if self.answers is not None:
            out.append(("counter", "notifyctl_listen_answers", "Requests answered, by status.",
                        [({**label, "status": str(status)}, n)
                         for status, n in sorted(self.answers.items())]))
        return out

    def write(self, path: str) -> None:
        """``--summary FILE``: the summary as one JSON document (replaced, not appended)."""
        with open(path, "w", encoding="utf-8") as file:
            json.dump(self.summary(), file, indent=1)
            file.write("\n")


def _span(seconds: float) -> str:
    """A duration as people say it: ``45 s``, ``12 min``, ``3 h``, ``2 d``."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= 2 * size or (unit == "min" and seconds >= size):
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
def _sink_line(url: str, counts: dict[str, Any]) -> str:
    figures = ", ".join(f"{name} {counts[name]:,}" for name in
                        ("published", "retried", "duplicates", "deferred", "failed")
                        if counts.get(name) or name in ("published", "failed"))
    reason = f" ({counts['reasons'][0]})" if counts.get("reasons") else ""
    return f"  sink {url}: {figures}{reason}"
