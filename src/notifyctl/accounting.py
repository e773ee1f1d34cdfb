"""What a ``tail`` or ``listen`` run received and what it can tell was lost: the accounting.

Platform-neutral: a platform says what it can know through its declaration (``unique_ids``:
a repeated id is a duplicate; ``numbering``: per-device message numbers, so gaps and repeated
numbers can be counted). ``Accounting`` counts events by kind, duplicates, the numbers missing
per stream (device), and the largest age of the newest event of a batch against its own
``time``. A figure the platform cannot know is ``None`` ("not known"), never 0.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from notifyctl.contract import Numbering, Platform
from notifyctl.events import Event

__all__ = ["Accounting", "Stream"]

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
                 ids_checked_elsewhere: bool = False) -> None:
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
        self.reconnects: int | None = None
        self.max_age: float | None = None
        self.answers: Counter[int] | None = None
        # --sink: per sink (URL, password masked) what was published, retried, failed (live
        # counts kept by notifyctl.sinks); None without sinks.
        self.sinks: dict[str, dict[str, Any]] | None = None
        self._missing = 0

    @classmethod
    def for_platform(cls, platform: Platform, *, ids_checked_elsewhere: bool = False
                     ) -> Accounting:
        return cls(unique_ids=platform.unique_ids, numbering=platform.numbering,
                   ids_checked_elsewhere=ids_checked_elsewhere)

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
            "reconnects": self.reconnects,
        }
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
        lines.append(f"  max age {'not known' if age is None else f'{age:.1f} s'}"
                     + ("" if self.answers is not None
                        else f", reconnects {known(doc['reconnects'])}"))
        if "answers" in doc:
            lines.append("  answers " + ", ".join(f"{s}: {n:,}"
                                                  for s, n in doc["answers"].items()))
        lines.extend(_sink_line(url, counts) for url, counts in (self.sinks or {}).items())
        return lines

    def write(self, path: str) -> None:
        """``--summary FILE``: the summary as one JSON document (replaced, not appended)."""
        with open(path, "w", encoding="utf-8") as file:
            json.dump(self.summary(), file, indent=1)
            file.write("\n")


def _sink_line(url: str, counts: dict[str, Any]) -> str:
    figures = ", ".join(f"{name} {counts[name]:,}" for name in
                        ("published", "retried", "duplicates", "deferred", "failed")
                        if counts.get(name) or name in ("published", "failed"))
    reason = f" ({counts['reasons'][0]})" if counts.get("reasons") else ""
    return f"  sink {url}: {figures}{reason}"
