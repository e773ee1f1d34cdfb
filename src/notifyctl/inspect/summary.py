"""One table row of ``inspect``: what a delivery holds (time, platform, kinds, devices, status,
size), decoded when the row is shown, with each platform's own receiver (the code ``listen``
runs, as ``replay --where`` does), and cached for the rows near the screen.

Names no platform: a platform is a name from the capture (or ``--provider``) looked up in the
registry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from notifyctl.contract.deliver import Item
from notifyctl.errors import NotifyctlError
from notifyctl.inspect.index import Deliveries, Row

Decoder = Callable[[Item], list[Any]]
CACHED = 512  # rows kept summarised: a few screens either way of the cursor


class _Answered(msgspec.Struct):
    """What ``listen`` adds to a capture line: whether the signature checked out."""

    verified: bool | None = None
    error: str | None = None


_answered = msgspec.json.Decoder(_Answered).decode


@dataclass(frozen=True, slots=True)
class Summary:
    """What the table shows of a row."""

    where: str
    time: str
    provider: str
    kind: str
    device: str
    status: str
    size: int
    problem: str | None = None  # the row is not a delivery: why
    events: int = 0


class Decoders:
    """One receiver per platform, made on first use (decode-only: no key needed); a platform
    with no receiver, or not installed, decodes to no events."""

    def __init__(self) -> None:
        self._made: dict[str, Decoder | None] = {}

    def events(self, provider: str | None, item: Item) -> list[Any]:
        if provider is None:
            return []
        if provider not in self._made:
            self._made[provider] = _decoder(provider)
        decode = self._made[provider]
        return decode(item) if decode is not None else []


def _decoder(provider: str) -> Decoder | None:
    from notifyctl.replay.select import receiver_decoder

    try:
        return receiver_decoder(provider)
    except NotifyctlError:
        return None


class Summaries:
    """Row summaries of ``deliveries``, decoded on demand and cached."""

    def __init__(self, deliveries: Deliveries, decoders: Decoders | None = None) -> None:
        self.deliveries = deliveries
        self.decoders = decoders or Decoders()
        self.answers: dict[int, str] = {}  # rows resent here: the answer, shown as status
        self.get = functools.lru_cache(maxsize=CACHED)(self._summary)

    def answered(self, index: int, answer: str) -> None:
        self.answers[index] = answer
        self.get.cache_clear()

    def _summary(self, index: int) -> Summary:
        deliveries = self.deliveries
        try:
            row = deliveries.row(index)
        except OSError as exc:  # the file went away or shrank under us: say so in the row
            return Summary(f"row {index + 1}", "", "", "invalid", "", "INVALID", 0,
                           problem=f"cannot read it again: {exc.strerror}")
        if row.item is None:
            return Summary(row.where, "", "", "invalid", "", "INVALID", 0,
                           problem=row.problem or "not a delivery")
        provider = deliveries.platform(index)
        events = self.decoders.events(provider, row.item)
        kinds = list(dict.fromkeys(str(getattr(e, "kind", "?")) for e in events))
        devices = list(dict.fromkeys(str(e.device) for e in events
                                     if getattr(e, "device", None)))
        status = self.answers.get(index) or _status(self._raw(index))
        return Summary(row.where, row.item.at or "", provider or "?", _joined(kinds),
                       _joined(devices), status, len(row.item.body), events=len(events))

    def _raw(self, index: int) -> bytes | None:
        part, local = self.deliveries.locate(index)
        return part.raw(local)

    def row(self, index: int) -> Row:
        return self.deliveries.row(index)

    def events(self, index: int) -> list[Any]:
        """The row's events, decoded afresh: the cache keeps what the table shows, not the
        events (a row may hold a 64 MB frame's worth)."""
        row = self.deliveries.row(index)
        if row.item is None:
            return []
        return self.decoders.events(self.deliveries.platform(index), row.item)


def _joined(names: list[str]) -> str:
    """``a`` / ``a +2``: the first, and how many more."""
    if not names:
        return "-"
    return names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")


def _status(line: bytes | None) -> str:
    """``verified`` / ``FAILED`` where ``listen`` checked the signature, else ``-``."""
    if not line:
        return "-"
    try:
        answered = _answered(line)
    except msgspec.MsgspecError:
        return "-"
    return {True: "verified", False: "FAILED", None: "-"}[answered.verified]
