"""What ``listen`` shows: JSON lines (one per event, or one describing a request that has none)
or a live Rich table, with ``WhereSink`` in front of either under ``--where``. Sinks are called
on the event loop thread; neither blocks the answer to a request for long (JSON lines are
written once per loop pass, the table redraws at most 10 times a second from a bounded deque).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import msgspec  # noqa: TID253 - listen runs only inside its command

from notifyctl.events import Event

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from notifyctl.accounting import Accounting

MAX_REDRAWS_PER_S = 10


class RequestLine(Event, omit_defaults=True):
    """The line for a request without decodable events (a handshake, a rejected or malformed
    request): Event fields plus what happened to the request. ``status`` is the HTTP status
    answered."""

    method: str | None = None
    verified: bool | None = None
    error: str | None = None


@dataclass(slots=True)
class Seen:
    """One request as the views need it."""

    provider: str
    kind: str
    method: str
    path: str
    status: int
    at: str
    verified: bool | None
    error: str | None
    events: list[Event]


class Sink(Protocol):
    def show(self, seen: Seen) -> None: ...

    def close(self) -> None: ...


class NullSink:
    def show(self, seen: Seen) -> None:
        pass

    def close(self) -> None:
        pass


class ListSink:
    """Keeps every line as a dict (the in-process API and tests)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.seen: list[Seen] = []

    def show(self, seen: Seen) -> None:
        self.seen.append(seen)
        # Through JSON, as a jsonl reader would see them (``raw`` may be a msgspec.Raw).
        self.lines.extend(msgspec.json.decode(msgspec.json.encode(line))
                          for line in lines_of(seen))

    def close(self) -> None:
        pass


class WhereSink:
    """Passes on only the lines ``--where`` matches: a request's matching events, or a request
    without events (a handshake, a rejected request) when its own line matches."""

    def __init__(self, target: Sink, matches: Callable[[Any], bool]) -> None:
        self.target = target
        self.matches = matches

    def show(self, seen: Seen) -> None:
        if not seen.events:
            if self.matches(lines_of(seen)[0]):
                self.target.show(seen)
            return
        kept = [event for event in seen.events if self.matches(event)]
        if kept:
            self.target.show(replace(seen, events=kept))

    def close(self) -> None:
        self.target.close()


def lines_of(seen: Seen) -> list[Event]:
    if seen.events:
        return seen.events
    return [RequestLine(provider=seen.provider, kind=seen.kind, time=seen.at, path=seen.path,
                        status=seen.status, method=seen.method, verified=seen.verified,
                        error=seen.error)]


class JsonlSink:
    """JSON lines on stdout, gathered per event-loop pass and written in one call."""

    def __init__(self, stream: TextIO, on_closed: Callable[[], None] | None = None) -> None:
        self._on_closed = on_closed
        self._binary = getattr(stream, "buffer", None)
        self._stream: TextIO | None = stream
        self._pending: list[bytes] = []
        self._scheduled = False
        self._encode = msgspec.json.Encoder().encode

    def show(self, seen: Seen) -> None:
        encode = self._encode
        self._pending.extend(encode(line) + b"\n" for line in lines_of(seen))
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        data, self._pending = b"".join(self._pending), []
        if self._stream is None:
            return
        try:
            if self._binary is not None:
                self._binary.write(data)
                self._binary.flush()
            else:
                self._stream.write(data.decode("utf-8"))
                self._stream.flush()
        except BrokenPipeError:
            # The reader went away (`listen | head`): drop further output and end the run.
            self._stream = self._binary = None
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            if self._on_closed is not None:
                self._on_closed()

    def close(self) -> None:
        self.flush()


def _brief(payload: Any) -> str:
    """A payload as one short line of text (JSON for structures)."""
    if payload is None:
        return ""
    if isinstance(payload, str):
        return payload[:200]
    try:
        return msgspec.json.encode(payload)[:200].decode("utf-8", "replace")
    except (TypeError, msgspec.EncodeError):
        return str(payload)[:200]


_CLOCK = re.compile(r"\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)(\.\d{1,3})?")


def _clock(time_text: str | None, received_at: str) -> str:
    """``HH:MM:SS.mmm`` of an ISO time; the request's arrival for anything else (an event time
    as the sender wrote it stays in the JSON lines, not cut into a fixed column)."""
    for text in (time_text, received_at):
        match = _CLOCK.match(text or "")
        if match:
            return match.group(1) + (match.group(2) or ".").ljust(4, "0")
    return ""


@dataclass(slots=True)
class Row:
    """One table row: an event, or a request without events (its ``detail`` is the request
    line: method, HTTP path and what went wrong)."""

    time: str
    kind: str
    device: str
    check: str
    http: str
    path: str
    detail: str


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    field: str
    width: int | None  # fixed; None: as wide as the widest value, up to ``cap``
    cap: int = 0


# In the order shown. Kind is never cut (it folds if it has to); the rest yield first.
COLUMNS = (
    Column("time", "time", 12), Column("kind", "kind", None, 40),
    Column("device", "device", None, 36), Column("check", "check", 6),
    Column("http", "http", 4), Column("path", "path", None, 24),
)
# Which columns go, in this order, when the terminal is too narrow for all of them; the payload
# (the request line, for requests without events) goes next, before time, kind or http.
DROP_ORDER = ("path", "check", "device")
MIN_DETAIL = 16
CELL_PADDING = 2  # the SIMPLE box pads each cell by one column on either side


def _layout(rows: list[Row], width: int) -> tuple[list[tuple[Column, int]], bool]:
    """The columns to show with their widths, and whether the payload fits after them:
    columns no row fills are left out (a provider's events without paths, say), and on a
    narrow terminal whole columns are dropped rather than every cell cut to an ellipsis."""
    shown: list[tuple[Column, int]] = []
    for column in COLUMNS:
        values = [getattr(row, column.field) for row in rows]
        if column.width is None and not any(values):
            continue
        size = column.width or min(max(len(v) for v in values), column.cap)
        shown.append((column, max(size, len(column.name))))
    def room() -> int:
        return width - CELL_PADDING - sum(size + CELL_PADDING for _column, size in shown)

    for name in DROP_ORDER:
        if room() >= MIN_DETAIL + CELL_PADDING:
            break
        shown = [(column, size) for column, size in shown if column.name != name]
    return shown, room() >= MIN_DETAIL + CELL_PADDING


class TableSink:
    """A live table of the latest requests and events with a status line."""

    def __init__(self, console: Console, provider: str,
                 accounting: Accounting | None = None) -> None:
        from rich.live import Live

        self.console = console
        self.provider = provider
        self.accounting = accounting  # duplicates and gaps as they happen
        self.rows: deque[Row] = deque(maxlen=max(5, console.height - 8))
        self.requests = self.events = self.failed = self.invalid = 0
        self.started = time.monotonic()
        self._dirty = False
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.live: Live = Live(get_renderable=self.render, console=console,
                               auto_refresh=False, transient=False)
        self.live.start()

    def show(self, seen: Seen) -> None:
        self.requests += 1
        self.failed += seen.verified is False
        self.invalid += seen.kind == "invalid"
        check = {True: "ok", False: "FAILED", None: "-"}[seen.verified]
        self.events += len(seen.events)
        for event in seen.events:
            self.rows.append(Row(_clock(event.time, seen.at), event.kind, event.device or "",
                                 check, str(seen.status), event.path or "",
                                 _brief(event.payload)))
        if not seen.events:
            line = f"{seen.method} {seen.path}" + (f": {seen.error}" if seen.error else "")
            self.rows.append(Row(_clock(None, seen.at), seen.kind, "", check,
                                 str(seen.status), "", line[:300]))
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        delay = max(0.0, self._last + 1 / MAX_REDRAWS_PER_S - time.monotonic())
        try:
            self._timer = asyncio.get_running_loop().call_later(delay, self._redraw)
        except RuntimeError:
            self._redraw()

    def _redraw(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        self.live.refresh()

    def render(self) -> RenderableType:
        from rich.box import SIMPLE
        from rich.table import Table

        from notifyctl.output import inert

        rows = list(self.rows)
        layout, with_payload = _layout(rows, self.console.width)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        table = Table(
            title=f"listen {self.provider}", title_justify="left", expand=with_payload,
            box=SIMPLE,
            caption=f"{self.requests} requests · {self.events} events · {self.failed} failed "
            f"checks · {self.invalid} invalid{self._losses()} · "
            f"{self.requests / elapsed:.1f} req/s",
            caption_justify="left",
        )
        for column, size in layout:
            kind = column.name == "kind"
            table.add_column(column.name, width=size, min_width=size if kind else None,
                             no_wrap=not kind, overflow="fold" if kind else "ellipsis")
        fields = [column.field for column, _size in layout]
        if with_payload:
            table.add_column("payload", no_wrap=True, overflow="ellipsis", ratio=1)
            fields.append("detail")
        for row in rows:
            cells = [getattr(row, field) for field in fields]
            table.add_row(*(inert(cell) for cell in cells))
        return table

    def _losses(self) -> str:
        """`` · 2 duplicates · 3 missing`` where the platform makes them knowable."""
        acc = self.accounting
        if acc is None:
            return ""
        text = f" · {acc.duplicates:,} duplicates" if acc.duplicates_known else ""
        return text + (f" · {acc.missing:,} missing" if acc.numbering is not None else "")

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.live.refresh()
        self.live.stop()
