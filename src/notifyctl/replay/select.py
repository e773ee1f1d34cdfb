"""Which captured deliveries a replay sends: ``--pick`` (capture line numbers) and ``--where``
(a jq expression over the events a delivery holds), both applied to the input stream before the
platform's rules see it, and (``one_platform``) only lines captured from the platform whose
rules run, when the capture chose it. Bytes are never touched: a delivery is kept or left out
whole. ``receiver`` is the platform's receiver over a captured delivery, which ``--where`` and
``--patch`` (``replay.patch``) decode and check bodies with.

``--where`` decodes each delivery with the platform's own receiver (``Handler.handle``, the
code ``listen`` runs), so the event lines it is matched against are the ones ``listen -o jsonl``
would print for it. Names no platform.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from notifyctl.contract.deliver import InputStats, Item
from notifyctl.errors import UsageError

if TYPE_CHECKING:
    from notifyctl.contract.receive import Outcome

_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


@dataclass
class Selection:
    """Counts what the filters left out, for the "nothing to replay" message."""

    picked_out: int = 0
    where_out: int = 0
    options: list[str] = field(default_factory=list)

    def why_empty(self) -> str:
        return f" ({' and '.join(self.options)} kept none)" if self.options else ""


def parse_pick(spec: str) -> list[tuple[int, int]]:
    """``3,7-9`` -> [(3, 3), (7, 9)]: 1-based, inclusive; anything else is exit 2."""
    ranges: list[tuple[int, int]] = []
    for part in spec.split(","):
        found = _RANGE.fullmatch(part)
        if found is None:
            raise UsageError(f"--pick {spec!r}: {part.strip()!r} is not a line number or a "
                             "range", hint="e.g. --pick 3,7-9 (capture lines, from 1)")
        low = int(found.group(1))
        high = int(found.group(2) or low)
        if low < 1 or high < low:
            raise UsageError(f"--pick {spec!r}: {part.strip()!r} is not a range of lines "
                             "from 1 up")
        ranges.append((low, high))
    return ranges


def check_pick(spec: str, ranges: list[tuple[int, int]], names: list[str],
               paths: list[str]) -> None:
    """Exit 2 when --pick names a line past the end of every input."""
    wanted = max(high for _low, high in ranges)
    longest = max((_line_count(path) for path in paths), default=0)
    if wanted > longest:
        raise UsageError(f"--pick {spec}: line {wanted} is outside {', '.join(names)} "
                         f"({longest} lines)")


def _line_count(path: str) -> int:
    lines, last = 0, b"\n"
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return 0  # reading it later says why
    return lines + (last != b"\n")


def picked(items: Iterable[Item], ranges: list[tuple[int, int]], selection: Selection
           ) -> Iterator[Item]:
    for item in items:
        line = _line_of(item.where)
        if line is not None and any(low <= line <= high for low, high in ranges):
            yield item
        else:
            selection.picked_out += 1


def _line_of(where: str) -> int | None:
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def matching(items: Iterable[Item], decode: Callable[[Item], list[Any]],
             matches: Callable[[Any], bool], selection: Selection) -> Iterator[Item]:
    """The deliveries with at least one event ``matches`` keeps."""
    for item in items:
        if any(matches(event) for event in decode(item)):
            yield item
        else:
            selection.where_out += 1


def one_platform(items: Iterable[Item], name: str, origin: str, *, skip_invalid: bool,
                 stats: InputStats) -> Iterator[Item]:
    """With the platform read from the capture (``origin``: the line it came from), a line
    captured from another platform is not a delivery this replay can make: bad input (exit 2,
    FILE:LINE), or counted in ``stats`` and skipped with ``skip_invalid``."""
    for item in items:
        if item.provider is None or item.provider == name:
            yield item
            continue
        message = (f"{item.where}: a {item.provider} delivery, but this replay sends by "
                   f"{name}'s rules (the platform of {origin})")
        if not skip_invalid:
            raise UsageError(message, hint="replay each platform's captures separately, pass "
                             "--provider NAME to send them all by one platform's rules, or "
                             "--skip-invalid to leave such lines out")
        stats.skip(message)


def receiver_decoder(platform_name: str) -> Callable[[Item], list[Any]]:
    """A delivery's events as the platform's receiver decodes them, without verifying (no
    key: the signature is not what is being selected on, and may be long expired)."""
    handle = receiver(platform_name)

    def decode(item: Item) -> list[Any]:
        events: list[Any] = handle(item).events
        return events

    return decode


def receiver(platform_name: str) -> Callable[[Item], Outcome]:
    """What the platform's receiver makes of a captured delivery, decoding only (no key), as
    ``listen`` would have: its events, or why the body is not the platform's (``invalid``)."""
    from multidict import CIMultiDict  # aiohttp's: header names case-insensitive, as served

    from notifyctl import registry
    from notifyctl.contract.receive import ReceiverSettings, Request

    handler = registry.get(platform_name, "receiver").load("receiver")(
        ReceiverSettings(decode_only=True))

    def handle(item: Item) -> Outcome:
        path, _, query = (item.path or "/").partition("?")
        request = Request(item.method or "POST", path, query, CIMultiDict(item.headers or {}),
                          item.body, item.at or "")
        outcome: Outcome = handler.handle(request)
        return outcome

    return handle
