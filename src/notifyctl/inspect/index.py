"""The deliveries ``inspect`` shows, indexed so that a 1 GB capture opens in seconds in little
memory.

A capture file is scanned once, in large blocks split at newlines: every line is checked
exactly as ``replay`` checks it (``events.parse_capture_line``), and only its byte offset, line
number, capture time and platform are kept, in arrays (21 bytes a delivery). A row's delivery is
read again from the file, at its offset, when it is shown. The other inputs ``replay`` reads
(bare bodies, arrays of bodies, HAR files) come from ``replay.inputs`` as ``Item``s and are held
as they are: a HAR file is read whole anyway.

Each file is read as it was when it was opened (its size then), like ``replay`` does.
"""

from __future__ import annotations

import bisect
import math
import os
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Protocol

from notifyctl.contract.deliver import InputStats, Item
from notifyctl.events import (
    MAX_LINE_ENV,
    CaptureError,
    Delivery,
    max_capture_line,
    parse_capture_line,
)
from notifyctl.replay.inputs import Source, format_of, item_of, read_inputs

BLOCK = 4 << 20  # bytes read at a time by the scan
READ = 64 << 10  # bytes read at a time for one row (most lines are far shorter)
INVALID = 255  # the platform slot of a line that is not a delivery (--skip-invalid)
LONG_LINE_HINT = f"set {MAX_LINE_ENV} to a larger number of bytes if the file is trusted"


@dataclass(frozen=True, slots=True)
class Row:
    """One row, read from its file: the delivery (None for an invalid line) and why not."""

    where: str  # FILE:LINE
    item: Item | None
    delivery: Delivery | None  # as captured, for capture files
    problem: str | None = None


class Part(Protocol):
    """The rows of one input file."""

    name: str
    invalid: int  # lines that are not deliveries (kept as invalid rows, or skipped)

    def __len__(self) -> int: ...

    def row(self, index: int) -> Row: ...

    def raw(self, index: int) -> bytes | None: ...

    def time(self, index: int) -> float: ...

    def moments(self) -> Iterable[float]:
        """Every row's time, in order (NaN: none)."""
        ...

    def provider(self, index: int) -> str | None: ...

    def is_invalid(self, index: int) -> bool: ...

    def close(self) -> None: ...


def epoch(stamp: str | None) -> float:
    """An ISO capture time in seconds since the epoch (UTC when it names no zone); NaN when
    there is none or it is not a time."""
    if not stamp:
        return math.nan
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return math.nan
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class CaptureIndex:
    """A capture file's deliveries by byte offset; a row is decoded when it is asked for."""

    def __init__(self, source: Source, skip_invalid: bool = False) -> None:
        self.path, self.name = source.path, source.name
        self.offsets = array("q")
        self.lines = array("I")
        self.times = array("d")
        self.slots = array("B")  # index into self.providers, or INVALID
        self.providers: list[str] = []
        self.invalid = 0
        self._slot: dict[str, int] = {}
        self._limit = max_capture_line()
        self.size = 0  # bytes scanned: the file as it was when it was opened
        self._scan(skip_invalid)
        self._fd: int | None = os.open(self.path, os.O_RDONLY)  # rows are read back from it

    def __len__(self) -> int:
        return len(self.offsets)

    def _scan(self, skip_invalid: bool) -> None:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CaptureError(f"{self.name}: cannot open: {exc.strerror}") from exc
        with handle:
            left = self.size = os.fstat(handle.fileno()).st_size  # a writer may go on
            position, number = 0, 0
            for lines in self._blocks(handle, left):
                if lines is None:
                    raise CaptureError(f"{self.name}:{number + 1}: line longer than "
                                       f"{self._limit:,} bytes", hint=LONG_LINE_HINT)
                position, number = self._index(lines, position, number, skip_invalid)

    def _blocks(self, handle: IO[bytes], left: int) -> Iterator[list[bytes] | None]:
        """The file's lines without their newline, ``left`` bytes of it, a block at a time;
        None for a line longer than the limit (a hostile or corrupt file is not held)."""
        rest = b""
        while left > 0 and (block := handle.read(min(BLOCK, left))):
            left -= len(block)
            lines = (rest + block).split(b"\n") if rest else block.split(b"\n")
            rest = lines.pop()
            yield lines
            if len(rest) > self._limit:
                yield None
                return
        if rest:
            yield [rest]  # the last line, without its newline

    def _index(self, lines: list[bytes], position: int, number: int, skip_invalid: bool
               ) -> tuple[int, int]:
        """Index a block's lines; the position and line number after them. The hot loop of
        a 1 GB capture (two million lines): names bound locally, the line's name for
        messages made only for a bad line."""
        offsets, numbers, times, slots = (self.offsets.append, self.lines.append,
                                          self.times.append, self.slots.append)
        slot_of, parse, from_iso = self._slot.get, parse_capture_line, datetime.fromisoformat
        limit = self._limit
        for line in lines:
            number += 1
            if len(line) > limit:
                raise CaptureError(f"{self.name}:{number}: line longer than {limit:,} bytes",
                                   hint=LONG_LINE_HINT)
            if line and not line.isspace():
                try:
                    delivery = parse(line, "")
                except CaptureError:
                    if not skip_invalid:
                        parse(line, f"{self.name}:{number}")  # raises, naming the line
                    self.invalid += 1
                    offsets(position), numbers(number), times(math.nan), slots(INVALID)
                    position += len(line) + 1
                    continue
                try:
                    moment = from_iso(delivery.at)
                    stamp = moment.timestamp() if moment.tzinfo else epoch(delivery.at)
                except ValueError:
                    stamp = math.nan
                slot = slot_of(delivery.provider)
                offsets(position), numbers(number), times(stamp)
                slots(self._slot_of(delivery.provider) if slot is None else slot)
            position += len(line) + 1
        return position, number

    def _slot_of(self, provider: str) -> int:
        slot = self._slot.get(provider)
        if slot is None:
            if len(self.providers) >= INVALID:
                raise CaptureError(f"{self.name}: more than {INVALID} platforms in one file")
            slot = self._slot[provider] = len(self.providers)
            self.providers.append(provider)
        return slot

    def raw(self, index: int) -> bytes | None:
        """The row's capture line as stored (without its newline). Positional reads: the UI,
        a filter and an export read rows from their own threads at once."""
        if self._fd is None:
            raise CaptureError(f"{self.name}: closed")
        start = self.offsets[index]
        end = min(self.size, start + self._limit + 1)  # what the scan read, no further
        line = b""
        while start + len(line) < end:
            more = os.pread(self._fd, min(READ, end - start - len(line)), start + len(line))
            if not more:
                break
            cut = more.find(b"\n")
            if cut >= 0:
                return (line + more[:cut]).rstrip(b"\r")
            line += more
        return line.rstrip(b"\r")

    def row(self, index: int) -> Row:
        where = f"{self.name}:{self.lines[index]}"
        line = self.raw(index) or b""
        try:
            delivery = parse_capture_line(line, where)
        except CaptureError as exc:
            return Row(where, None, None, exc.message)
        return Row(where, item_of(delivery, where), delivery)

    def time(self, index: int) -> float:
        return self.times[index]

    def moments(self) -> Iterable[float]:
        return self.times

    def provider(self, index: int) -> str | None:
        slot = self.slots[index]
        return None if slot == INVALID else self.providers[slot]

    def is_invalid(self, index: int) -> bool:
        return self.slots[index] == INVALID

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ItemList:
    """The deliveries of a body, an array of bodies or a HAR file, read by ``replay.inputs``
    and held (what they skipped with ``--skip-invalid`` is counted in ``invalid``)."""

    def __init__(self, source: Source, fmt: str, skip_invalid: bool,
                 provider: str | None) -> None:
        self.name = source.name
        stats = InputStats()
        self.items = list(read_inputs([source], fmt=fmt, skip_invalid=skip_invalid,
                                      stats=stats))
        self.invalid = stats.invalid
        self.default_provider = provider

    def __len__(self) -> int:
        return len(self.items)

    def row(self, index: int) -> Row:
        item = self.items[index]
        return Row(item.where, item, None)

    def raw(self, index: int) -> bytes | None:
        return None

    def time(self, index: int) -> float:
        return epoch(self.items[index].at)

    def moments(self) -> Iterable[float]:
        return [epoch(item.at) for item in self.items]

    def provider(self, index: int) -> str | None:
        return self.items[index].provider or self.default_provider

    def is_invalid(self, index: int) -> bool:
        return False

    def close(self) -> None:
        pass


class Deliveries:
    """Every input's rows, one after the other, numbered from 0."""

    def __init__(self, parts: list[Part], provider: str | None = None) -> None:
        self.parts = parts
        self.provider = provider  # --provider: whose rules and receiver, over the captured one
        self.starts: list[int] = []
        total = 0
        for part in parts:
            self.starts.append(total)
            total += len(part)
        self.total = total

    def __len__(self) -> int:
        return self.total

    def locate(self, index: int) -> tuple[Part, int]:
        at = bisect.bisect_right(self.starts, index) - 1
        return self.parts[at], index - self.starts[at]

    def row(self, index: int) -> Row:
        part, local = self.locate(index)
        return part.row(local)

    def time(self, index: int) -> float:
        part, local = self.locate(index)
        return part.time(local)

    def platform(self, index: int) -> str | None:
        """Whose receiver and rules the row goes by: ``--provider``, else the captured one."""
        part, local = self.locate(index)
        return self.provider or part.provider(local)

    def is_invalid(self, index: int) -> bool:
        part, local = self.locate(index)
        return part.is_invalid(local)

    @property
    def invalid(self) -> int:
        return sum(part.invalid for part in self.parts)

    def times(self, rows: Iterable[int] | None = None) -> Iterator[float]:
        """The times of ``rows`` (every row when None, read straight from the index)."""
        if rows is None:
            for part in self.parts:
                yield from part.moments()
            return
        for index in rows:
            yield self.time(index)

    def close(self) -> None:
        for part in self.parts:
            part.close()


def open_inputs(sources: list[Source], *, fmt: str = "auto", skip_invalid: bool = False,
                provider: str | None = None) -> Deliveries:
    """Index every input (captures by byte offset, the rest held as read); a bad line is
    ``FILE:LINE: what is wrong`` (exit 2) unless ``skip_invalid``."""
    parts: list[Part] = []
    for source in sources:
        kind = format_of(source, fmt)
        if kind == "capture":
            parts.append(CaptureIndex(source, skip_invalid))
        else:
            parts.append(ItemList(source, kind, skip_invalid, provider))
    return Deliveries(parts, provider)
