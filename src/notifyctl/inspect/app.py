"""The ``inspect`` terminal UI (Textual): the deliveries table filling the screen, a detail pane
under it on ``enter``, a filter line on ``/``, and at the bottom the status bar (counts, time
span, arrival sparkline), the message line (what the last key did, or why it could not) and the
keys.

Slow work runs off the UI: filtering and writing a capture in threads (they check whether a
newer filter replaced them), a resend as an asyncio task on Textual's own loop, where the
replay engine runs as it does for ``replay``. Nothing here prints; every outcome, error included,
is a line in the UI.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from notifyctl.errors import NotifyctlError
from notifyctl.inspect import actions, detail, rate, table
from notifyctl.inspect.index import Deliveries
from notifyctl.inspect.summary import Summaries
from notifyctl.redaction import mask_query, redact

SPARK_WIDTH = 32
KEYS = "/ filter   enter detail   tab pane   r resend   e export   esc close   q quit"

Matcher = Callable[[Any], bool]


class InspectApp(App[int]):
    """Browse ``deliveries``; ``where`` is the expression to start filtered with."""

    TITLE = "notifyctl inspect"
    # On the app, so they work from the detail pane too (tab moves there, arrows scroll it);
    # the filter field keeps the letters typed into it (it handles them before bindings).
    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("slash", "filter", "filter"),
        Binding("enter", "detail", "detail"),
        Binding("r", "resend", "resend"),
        Binding("e", "export", "export"),
        Binding("q", "quit_inspect", "quit"),
        # Ctrl-C ends it as it ends every other command (Textual's own asks for ctrl+q).
        Binding("ctrl+c", "stop_inspect", "interrupt", priority=True, show=False),
    ]
    CSS = """
    #header { height: 1; text-style: bold; background: $panel; }
    #table { height: 1fr; scrollbar-gutter: stable; }
    #detail { height: 1fr; display: none; border-top: solid $primary; }
    #detail.open { display: block; }
    #filter { display: none; height: 3; }
    #filter.open { display: block; }
    #status { height: 2; background: $panel; }
    #message { height: 1; }
    #keys { height: 1; color: $text-muted; }
    """

    def __init__(self, deliveries: Deliveries, *, where: str | None = None,
                 matches: Matcher | None = None, resend: actions.Resend | None = None,
                 first_input: str = "capture.jsonl", export_folder: str | None = None) -> None:
        super().__init__()
        self.deliveries = deliveries
        self.summaries = Summaries(deliveries)
        self.resend_to = resend or actions.Resend(None)
        self.first_input = first_input
        self.export_folder = export_folder
        self.where: str | None = None
        # Filtered once mounted: ``matches`` is ``where`` compiled (by the command, which
        # checked it before anything was read), else compiled here.
        self.pending = None if where is None else (where, matches or _compiled(where))
        self.timeline = "…"  # span and sparkline, drawn once worked out
        self.busy = ""  # "filtering 12%" while a filter runs
        self.settled = False  # no worker left: what a test waits for before it looks
        # What the status bar, message line and detail pane last showed (kept after exit).
        self.status_text = self.message_text = self.detail_text = ""
        self._table = table.DeliveryTable(self.summaries, table.View(len(deliveries)))

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        yield self._table
        with VerticalScroll(id="detail"):
            yield Static(id="detail-text")
        yield Input(id="filter", placeholder="jq over each event line, e.g. "
                    '.kind == "notification" (empty: every row; esc: keep the current one)')
        yield Static(id="status")
        yield Static(id="message")
        yield Static(Text(KEYS), id="keys")

    def on_mount(self) -> None:
        self._table.focus()
        self._draw_header()
        self._draw_status()
        if self.pending:
            self._start_filter(*self.pending)
        else:
            self._start_timeline(None)

    def on_delivery_table_resized(self) -> None:
        self._draw_header()

    # -- drawing -------------------------------------------------------------------------

    def _draw_header(self) -> None:
        width = self._table.scrollable_content_region.width or self.size.width
        self.query_one("#header", Static).update(Text(table.header(width)))

    def _draw_status(self) -> None:
        shown, total = len(self._table.view), len(self.deliveries)
        parts = [f"{shown:,} of {total:,} deliveries" if shown != total
                 else f"{total:,} deliveries"]
        if self.deliveries.invalid:
            parts.append(f"{self.deliveries.invalid:,} invalid")
        if self.busy:
            parts.append(self.busy)
        if self.where:
            parts.append(f"where {self.where}")
        line = " · ".join(parts)
        self.status_text = f"{line}\n{self.timeline}"
        self.query_one("#status", Static).update(Text(self.status_text))

    def say(self, message: str) -> None:
        """The message line: what the last key did, or why it could not."""
        self.message_text = message
        self.query_one("#message", Static).update(Text(message))

    def _draw_detail(self) -> None:
        pane = self.query_one("#detail")
        if "open" not in pane.classes:
            return
        index = self._table.selected
        text = "no delivery in view" if index is None else detail.render(
            self.summaries.get(index), self.summaries.row(index).item,
            self.summaries.events(index))
        self.detail_text = text
        self.query_one("#detail-text", Static).update(Text(text))

    def on_delivery_table_moved(self) -> None:
        self._draw_detail()

    # -- keys ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = self.where or ""
        field.add_class("open")
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        expression = event.value.strip()
        if not expression:
            self._close_filter()
            self._start_filter(None, None)
            return
        try:
            matches = _compiled(expression)
        except NotifyctlError as exc:  # the field stays open, the message says what is wrong
            self.say(f"filter: {exc.message.removeprefix('--where ')}")
            return
        self._close_filter()
        self._start_filter(expression, matches)

    def on_key(self, event: Any) -> None:
        if event.key != "escape":
            return
        if "open" in self.query_one("#filter").classes:
            self._close_filter()
        else:
            self.query_one("#detail").remove_class("open")
        event.stop()

    def _close_filter(self) -> None:
        self.query_one("#filter").remove_class("open")
        self._table.focus()

    def action_detail(self) -> None:
        self.query_one("#detail").toggle_class("open")
        self._draw_detail()

    def action_resend(self) -> None:
        index = self._table.selected
        if index is None:
            self.say("r: no delivery in view")
            return
        if self.resend_to.target is None:
            self.say("r resends to --to URL: start inspect with --to http://HOST:PORT/PATH")
            return
        self.say(f"{self.summaries.get(index).where}: sending to "
                 f"{mask_query(self.resend_to.target)} …")
        self.settled = False
        self.run_worker(self._resend(index), group="resend", exit_on_error=False)

    async def _resend(self, index: int) -> None:
        try:
            status, message = await actions.resend(self.deliveries, index, self.resend_to)
        except NotifyctlError as exc:
            self.say(f"r: {exc.message}")
        except Exception as exc:  # the UI stays up whatever a platform's rules raise
            self.say(f"r: failed: {type(exc).__name__}: {redact(str(exc))}")
        else:
            self.summaries.answered(index, status)
            self.say(message)
            self._table.refresh()
            self._draw_detail()
        self.settled = True

    def action_export(self) -> None:
        path = actions.export_path(self.first_input, self.export_folder)
        rows = array("I", self._table.view)
        self.say(f"writing {len(rows):,} deliveries to {path} …")
        self.settled = False
        self.run_worker(lambda: self._export(rows, path), thread=True, group="export",
                        exit_on_error=False)

    def _export(self, rows: array[int], path: Path) -> None:
        try:
            written, skipped = actions.export(self.deliveries, rows, path)
        except NotifyctlError as exc:
            self.call_from_thread(self.say, f"e: {exc.message}")
        except OSError as exc:  # the disk filled up, say
            self.call_from_thread(self.say, f"e: writing {path} failed: {exc.strerror}")
        else:
            left = f" ({skipped:,} invalid left out)" if skipped else ""
            self.call_from_thread(self.say, f"wrote {written:,} deliveries to {path}{left}")
        self.call_from_thread(setattr, self, "settled", True)

    def action_quit_inspect(self) -> None:
        self.exit(0, return_code=0)

    def action_stop_inspect(self) -> None:
        from notifyctl.errors import ExitStatus

        self.exit(int(ExitStatus.SIGINT), return_code=int(ExitStatus.SIGINT))

    # -- background work -----------------------------------------------------------------

    def _start_filter(self, expression: str | None, matches: Matcher | None) -> None:
        self.settled = False
        if expression is None or matches is None:
            self.where = None
            self._table.show(table.View(len(self.deliveries)))
            self._start_timeline(None)
            return
        self.busy = "filtering"
        self._draw_status()
        self.run_worker(lambda: self._filter(expression, matches), thread=True,
                        group="filter", exclusive=True, exit_on_error=False)

    def _filter(self, expression: str, matches: Matcher) -> None:
        worker = get_current_worker()
        total = max(1, len(self.deliveries))

        def progress(done: int) -> None:
            self.call_from_thread(self._progress, f"filtering {done * 100 // total}%")

        try:
            kept = actions.filtered(self.deliveries, matches,
                                    cancelled=lambda: worker.is_cancelled, progress=progress)
        except Exception as exc:  # a row the file no longer holds, say: the UI stays up
            self.call_from_thread(self._filter_failed, f"{type(exc).__name__}: {exc}")
            return
        if kept is not None and not worker.is_cancelled:
            self.call_from_thread(self._filtered, expression, kept)

    def _filter_failed(self, why: str) -> None:
        self.busy = ""
        self.say(f"filter failed: {redact(why)}")
        self._draw_status()
        self.settled = True

    def _progress(self, busy: str) -> None:
        self.busy = busy
        self._draw_status()

    def _filtered(self, expression: str, kept: array[int]) -> None:
        self.where, self.busy = expression, ""
        self._table.show(table.View(len(self.deliveries), kept))
        self.say(f"{len(kept):,} of {len(self.deliveries):,} deliveries match")
        self._start_timeline(kept)

    def _start_timeline(self, kept: array[int] | None) -> None:
        self.run_worker(lambda: self._timeline(kept), thread=True, group="timeline",
                        exclusive=True, exit_on_error=False)

    def _timeline(self, kept: array[int] | None) -> None:
        line = rate.timeline(lambda: self.deliveries.times(kept), SPARK_WIDTH)
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self._timeline_done, line)

    def _timeline_done(self, line: str) -> None:
        self.timeline = line
        self._draw_status()
        self._draw_detail()
        self.settled = True


def _compiled(expression: str) -> Matcher:
    """The ``--where`` predicate, compiled once per expression (a bad one: ``UsageError``)."""
    from notifyctl.where import compile_where

    return compile_where(expression)
