"""The deliveries table: a Textual line-API widget that draws only the rows on screen, so a
capture of millions of deliveries costs no more to show than one screenful (a row is decoded
when it is drawn, through ``summary.Summaries``' cache).

It owns the cursor, the keys that move it and the columns' layout; the keys that act on the
selected delivery are the app's (``app.py``).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from notifyctl.inspect.summary import Summaries, Summary

# (title, width); the device column takes what the others leave.
COLUMNS = (("line", 7), ("time", 23), ("provider", 10), ("kind", 18), ("device", 0),
           ("status", 10), ("size", 8))
MIN_DEVICE = 8
_CURSOR = Style(reverse=True)
_INVALID = Style(color="red")


def widths(total: int) -> list[int]:
    """Each column's width for a table ``total`` cells wide (one space between columns)."""
    fixed = sum(width for _name, width in COLUMNS) + len(COLUMNS) - 1
    return [width or max(MIN_DEVICE, total - fixed) for _name, width in COLUMNS]


def fit(text: str, width: int, right: bool = False) -> str:
    """``text`` cut to ``width`` (an ellipsis says it was) and padded."""
    if len(text) > width:
        text = text[: max(0, width - 1)] + "…"
    return text.rjust(width) if right else text.ljust(width)


def header(total: int) -> str:
    cells = [fit(name, width, right=name == "size")
             for (name, _w), width in zip(COLUMNS, widths(total), strict=True)]
    return " ".join(cells)


def line_of(summary: Summary, total: int) -> str:
    """A row's text: the captured time without the ISO ``T`` and ``Z``, the size in bytes."""
    number = summary.where.rsplit(":", 1)[-1]
    moment = summary.time.replace("T", " ").removesuffix("Z")
    values = (number, moment, summary.provider, summary.kind, summary.device, summary.status,
              f"{summary.size:,}" if summary.problem is None else "")
    if summary.problem is not None:
        values = (number, "", "", "INVALID", summary.problem, "", "")
    cells = [fit(value, width, right=name in ("line", "size"))
             for value, (name, _w), width in zip(values, COLUMNS, widths(total), strict=True)]
    return " ".join(cells)


@dataclass
class View:
    """The rows on show: every row, or those a filter kept (indices into the deliveries)."""

    total: int
    kept: array[int] | None = None

    def __len__(self) -> int:
        return self.total if self.kept is None else len(self.kept)

    def index(self, position: int) -> int:
        return position if self.kept is None else self.kept[position]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(range(self.total)) if self.kept is None else iter(self.kept)


class DeliveryTable(ScrollView, can_focus=True):
    """The rows of ``view``, one line each, with a cursor."""

    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("up,k", "move(-1)", "up", show=False),
        Binding("down,j", "move(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown,space", "page(1)", "page down", show=False),
        Binding("home,g", "edge(0)", "first", show=False),
        Binding("end,G", "edge(1)", "last", show=False),
    ]

    class Moved(Message):
        """The cursor is on another row."""

    class Resized(Message):
        """The rows are another width: the header follows."""

    def __init__(self, summaries: Summaries, view: View) -> None:
        super().__init__(id="table")
        self.summaries = summaries
        self.view = view
        self.cursor = 0
        self.virtual_size = Size(0, len(view))

    @property
    def selected(self) -> int | None:
        """The delivery under the cursor (an index into the deliveries), if any row shows."""
        return self.view.index(self.cursor) if len(self.view) else None

    def show(self, view: View) -> None:
        """Another set of rows (a filter's), the cursor back on the first."""
        self.view = view
        self.cursor = 0
        self.virtual_size = Size(0, len(view))
        self.scroll_to(y=0, animate=False)
        self.refresh()
        self.post_message(self.Moved())

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        position = int(self.scroll_offset.y) + y
        if position >= len(self.view):
            return Strip.blank(width)
        summary = self.summaries.get(self.view.index(position))
        style = _INVALID if summary.problem is not None else Style()
        if position == self.cursor and self.has_focus:
            style = style + _CURSOR
        elif position == self.cursor:
            style = style + Style(underline=True)
        text = line_of(summary, width)
        if position == self.cursor:  # seen without colours too (NO_COLOR, a screenshot)
            text = ">" + text[1:]
        return Strip([Segment(text.ljust(width)[:width], style)], width)

    def action_move(self, step: int) -> None:
        self._go(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._go(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_edge(self, end: int) -> None:
        self._go(len(self.view) - 1 if end else 0)

    def _go(self, position: int) -> None:
        if not len(self.view):
            return
        position = max(0, min(len(self.view) - 1, position))
        if position == self.cursor:
            return
        self.cursor = position
        height = max(1, self.scrollable_content_region.height)
        top = int(self.scroll_offset.y)
        if position < top:
            self.scroll_to(y=position, animate=False)
        elif position >= top + height:
            self.scroll_to(y=position - height + 1, animate=False)
        self.refresh()
        self.post_message(self.Moved())

    def on_click(self, event: Click) -> None:
        """A click puts the cursor on the row clicked (the keyboard does the rest)."""
        self._go(int(self.scroll_offset.y) + event.y)

    def on_resize(self) -> None:
        self.post_message(self.Resized())

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
