"""``tail -o table``: a Rich Live view of the latest events with a status line.

The view never renders per event. ``emit`` only appends a frame's events to a bounded deque
under a lock; Rich's refresh thread calls ``_render`` at most ``REFRESH_PER_SECOND`` times a
second and builds the table lazily from a snapshot of the newest rows. The columns are the
platform's (``Platform.columns``, declared in its package): ``layout`` keeps kind and time
whole, drops the least important columns on a narrow terminal instead of cutting every cell,
and gives the content column the rest. Widths only grow, so the table does not jump. Device
data goes through ``output.inert`` so payloads cannot inject markup or terminal controls.

The status line shows the stream state, events/s with a sparkline of the last 30 seconds'
rates, the total, reconnects, duplicates and gaps (numbers missing, from the accounting) as
they happen, and the age of the newest event. Stream
messages (reconnecting, ...) are shown in the view instead of on stderr, which would tear the
live display; the final summary goes to stderr after the view stops.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from msgspec.structs import replace  # noqa: TID253 - loaded only by `tail -o table`
from rich.console import Console, Group  # noqa: TID253
from rich.live import Live  # noqa: TID253
from rich.table import Table  # noqa: TID253
from rich.text import Text  # noqa: TID253

from notifyctl import output
from notifyctl.contract import DEFAULT_COLUMNS, Column
from notifyctl.events import now_iso

if TYPE_CHECKING:
    from notifyctl.events import Event
    from notifyctl.tail import Source, TailRun

REFRESH_PER_SECOND = 10
MAX_ROWS = 120
SPARK = "▁▂▃▄▅▆▇█"
HISTORY = 20  # seconds of rate history in the sparkline
MESSAGE_SECONDS = 10.0  # how long a stream message stays under the status line
STATE_STYLE = {"connected": "green", "reconnecting": "yellow", "connecting": "yellow",
               "stopped": "red"}


def sparkline(values: list[float]) -> str:
    """One block character per value, scaled to the largest."""
    top = max(values, default=0)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[round(value / top * (len(SPARK) - 1))] for value in values)


def _clock(stamp: str | None) -> str:
    # "2026-11-23T09:00:00.123Z" -> "09:00:00.123": the date rarely matters while tailing.
    if stamp and len(stamp) >= 23 and stamp[10] == "T":
        return stamp[11:23]
    return stamp or ""


def _middle(text: str, width: int) -> str:
    # Device ids differ at the end as often as at the start: elide the middle.
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def _content(event: Event) -> str:
    if event.status is not None and event.kind == "async-response":
        text = f"[{event.status}] "
        detail = event.payload if event.payload is not None else event.payload_b64
        return text + ("" if detail is None else str(detail))
    for value in (event.payload, event.value, event.chunk):
        if value is not None:
            return value if isinstance(value, str) else output.inert_str(_compact(value))
    if event.payload_b64 is not None:
        return f"base64:{event.payload_b64}"
    return ""


def _tlv(records: list[Any]) -> str | None:
    """A parsed LwM2M TLV tree (``wire``/``tlv`` records) as ``0=Acme 1=X 7:[0=5 1=6]``."""
    parts = []
    for record in records:
        if not isinstance(record, dict) or "id" not in record:
            return None
        children = record.get("children")
        if isinstance(children, list):
            inner = _tlv(children)
            if inner is None:
                return None
            parts.append(f"{record['id']}:[{inner}]")
        else:
            parts.append(f"{record['id']}={record.get('value', record.get('hex', ''))}")
    return " ".join(parts)


def _compact(value: Any) -> str:
    import json

    if isinstance(value, list):
        text = _tlv(value)
        if text is not None:
            return text

    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


GAP = 2  # between columns: Rich's default padding of one space on each side


def _cell(event: Event, field: str) -> str:
    if field == "time":
        return _clock(event.time)
    if field == "content":
        return _content(event)[:500]
    value = getattr(event, field, None)
    return "" if value is None else str(value)


def _fit(text: str, size: int, col: Column) -> str:
    # Ids differ at either end, so they lose their middle; Rich ends anything else with "…".
    return _middle(text, size) if col.field == "device" else text


def layout(columns: Sequence[Column], widest: dict[int, int], total: int
           ) -> list[tuple[int, int]]:
    """(column index, width) of the columns that fit in ``total`` characters.

    Fit columns take their widest value; the others start at their least width. While the
    sum does not fit, the column with the lowest ``keep`` goes: on a narrow terminal a column is
    dropped rather than every column cut to "…". Space left grows the other columns up to the
    widest value (at most ``most``); the content column takes the rest when rendering.
    """
    def least(index: int) -> int:
        col = columns[index]
        return widest.get(index, len(col.header)) if col.fit else max(col.width, len(col.header))

    shown = list(range(len(columns)))
    while len(shown) > 1 and sum(map(least, shown)) + GAP * (len(shown) - 1) > total:
        shown.remove(min(shown, key=lambda index: columns[index].keep))
    sizes = {index: least(index) for index in shown}
    spare = total - sum(sizes.values()) - GAP * (len(shown) - 1)
    for index in shown:
        col = columns[index]
        if col.fit or col.field == "content" or spare <= 0:
            continue
        most = max(col.most, col.width)
        grow = min(spare, max(0, min(most, widest.get(index, 0)) - sizes[index]))
        sizes[index] += grow
        spare -= grow
    return [(index, sizes[index]) for index in shown]


class LiveTable:
    """A ``notifyctl.tail.Sink`` drawing a Live table on stdout."""

    def __init__(self, console: Console | None = None,
                 refresh_per_second: float = REFRESH_PER_SECOND,
                 columns: Sequence[Column] = ()) -> None:
        self.console = console or output.current().console
        self.refresh_per_second = refresh_per_second
        self._rows: deque[Event] = deque(maxlen=MAX_ROWS)
        self._lock = threading.Lock()
        self._message = ""
        self._message_at = 0.0
        self._live: Live | None = None
        self._source: Source | None = None
        self._columns: Sequence[Column] = columns or DEFAULT_COLUMNS
        self._widest: dict[int, int] = {}  # column index -> widest value shown so far
        self._run: TailRun | None = None
        # (monotonic second, events total at its start) and completed per-second rates
        self._second_start = (time.monotonic(), 0)
        self._rates: deque[float] = deque(maxlen=HISTORY)
        self._rate = 0.0
        self.renders = 0

    def message(self, text: str) -> None:
        """Stream state messages: shown under the status line (untrusted parts are inert)."""
        self._message, self._message_at = text, time.monotonic()

    def start(self, source: Source, run: TailRun) -> None:
        self._source, self._run = source, run
        self._widest = {}
        self._second_start = (time.monotonic(), run.events)
        self._live = Live(
            console=self.console,
            get_renderable=self._render,
            refresh_per_second=self.refresh_per_second,
            redirect_stdout=False,
            redirect_stderr=False,
            transient=False,
        )
        self._live.start()

    def emit(self, events: list[Event]) -> None:
        # Copies without ``raw``: a decoded item's raw JSON is a view into its whole frame,
        # which a kept row would otherwise hold in memory.
        # An event without a time of its own (some Circle and Iottly events) shows when it
        # arrived, rather than an empty time column.
        arrived = now_iso()
        rows = [replace(event, raw=None, time=event.time or arrived)
                for event in events[-MAX_ROWS:]]
        with self._lock:
            self._rows.extend(rows)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- rendering (Rich's refresh thread) ------------------------------------------------
    def _tick(self, now: float, total: int) -> None:
        started, at_start = self._second_start
        elapsed = now - started
        if elapsed >= 1.0:
            self._rate = (total - at_start) / elapsed
            self._rates.append(self._rate)
            self._second_start = (now, total)

    def _status(self) -> Text:
        run, source = self._run, self._source
        now = time.monotonic()
        total = run.events if run else 0
        self._tick(now, total)
        state = source.stats.state if source else "starting"
        reconnects = source.stats.reconnects if source else 0
        status = Text()
        status.append("● ", style=STATE_STYLE.get(state, ""))
        status.append(f"{state:<12} ")
        status.append(f"{self._rate:>8,.0f} ev/s ", style="bold")
        status.append(sparkline(list(self._rates)).ljust(HISTORY), style="cyan")
        status.append(f"  total {total:,} · reconnects {reconnects}")
        status.append(self._losses())
        if run is not None and run.newest is not None:
            status.append(f" · newest {now - run.newest:.1f} s ago")
        elif run is not None:
            status.append(f" · waiting {run.elapsed:.0f} s")
        return status

    def _losses(self) -> Text:
        """Duplicates and gaps as they happen (where the platform makes them knowable)."""
        run = self._run
        acc = run.accounting if run is not None else None
        text = Text()
        duplicates = acc.duplicates if acc is not None else run.duplicates if run else 0
        if duplicates:
            text.append(f" · duplicates {duplicates:,}", style="yellow")
        if acc is not None and acc.missing:
            text.append(f" · gaps: {acc.missing:,} missing", style="yellow")
        return text

    def _table(self, height: int, width: int) -> Table:
        with self._lock:
            count = min(len(self._rows), height)
            rows = [self._rows[-1 - i] for i in range(count)]
        rows.reverse()
        cells = [[_cell(event, col.field) for col in self._columns] for event in rows]
        for index, col in enumerate(self._columns):
            # Fit columns only ever grow, so the table does not jump back and forth.
            widest = max([len(col.header), *(len(row[index]) for row in cells)])
            self._widest[index] = max(self._widest.get(index, 0), widest)
        shown = layout(self._columns, self._widest, width)
        table = Table(expand=True, box=None, pad_edge=False, header_style="bold")
        for index, size in shown:
            col = self._columns[index]
            if col.field == "content":
                table.add_column(col.header, ratio=1, min_width=size, no_wrap=True,
                                 overflow="ellipsis")
            else:
                table.add_column(col.header, width=size, min_width=size, no_wrap=True,
                                 overflow="ellipsis")
        for row in cells:
            # All inert: kind and time are the sender's text on some platforms.
            table.add_row(*(output.inert(_fit(row[index], size, self._columns[index]))
                            for index, size in shown))
        return table

    def _render(self) -> Group:
        self.renders += 1
        width, rows = self.console.size
        height = max(3, min(MAX_ROWS, rows - 5))
        parts: list[Any] = [self._status()]
        message = self._message
        if time.monotonic() - self._message_at > MESSAGE_SECONDS:
            message = self._run.last_error if self._run else ""
        if message:
            parts.append(Text(output.inert_str(message), style="dim", no_wrap=True,
                              overflow="ellipsis"))
        parts.append(self._table(height, width))
        return Group(*parts)
