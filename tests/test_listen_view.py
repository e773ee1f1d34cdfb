"""``listen``'s live table rendered into fixed-width consoles: the resource path (not the HTTP
path) in the path column, the request line for requests without events, no column a provider
never fills, kind and time never cut, and narrow terminals dropping columns instead of
ellipsising every cell."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from notifyctl.events import Event
from notifyctl.listen.view import Seen, TableSink

AT = "2026-11-23T09:00:00.123Z"


@contextmanager
def table(provider: str, width: int) -> Iterator[tuple[TableSink, Console]]:
    console = Console(file=io.StringIO(), width=width, height=40, color_system=None)
    sink = TableSink(console, provider)
    try:
        yield sink, console
    finally:
        sink.close()


def text(sink: TableSink, console: Console) -> str:
    with console.capture() as captured:
        console.print(sink.render())
    return captured.get()


def pelion(sink: TableSink) -> None:
    sink.show(Seen("pelion", "notification", "PUT", "/callbacks/hook", 200, AT, None, None, [
        Event("pelion", "notification", device="016f8d4a0b3c0000000000010010ab12",
              time="2026-11-23T08:59:58.5Z", path="/3303/0/5700", payload=21.5),
        Event("pelion", "de-registration", device="016f8d4a0b3c0000000000010010ab13"),
    ]))
    sink.show(Seen("pelion", "unverified", "PUT", "/callbacks/hook", 401, AT, False,
                   "missing Authorization header", []))


def circle(sink: TableSink) -> None:
    sink.show(Seen("circle", "activity_created", "POST", "/circle", 200, AT, True, None, [
        Event("circle", "activity_created", device="acc-1", time="2026-11-23T08:58:00Z",
              payload={"activityId": "act-9", "relevanceLevel": 3}),
        Event("circle", "accessory_settings_changed", device="acc-2", time="yesterday"),
    ]))


def test_path_column_shows_the_resource_and_the_request_line_the_http_path() -> None:
    with table("pelion", 160) as (sink, console):
        pelion(sink)
        shown = text(sink, console)
    rows = shown.splitlines()
    notification = next(row for row in rows if "notification" in row)
    assert "/3303/0/5700" in notification and "/callbacks/hook" not in notification
    assert "08:59:58.500" in notification  # the event's own time
    unverified = next(row for row in rows if "unverified" in row)
    assert "PUT /callbacks/hook: missing Authorization header" in unverified
    assert "de-registration" in shown and "de-registrat…" not in shown


def test_columns_nobody_fills_are_left_out() -> None:
    with table("circle", 120) as (sink, console):
        circle(sink)
        shown = text(sink, console)
    header = next(row for row in shown.splitlines() if "kind" in row)
    assert "path" not in header.split()
    assert header.split() == ["time", "kind", "device", "check", "http", "payload"]
    assert "activity_created" in shown and "accessory_settings_changed" in shown
    assert "08:58:00.000" in shown
    assert "09:00:00.123" in shown  # a time that is not ISO: the request's arrival instead
    assert "…" not in "".join(row[:60] for row in shown.splitlines())


def test_narrow_terminal_drops_columns_instead_of_cutting_every_cell() -> None:
    for provider, fill in (("pelion", pelion), ("circle", circle)):
        with table(provider, 60) as (sink, console):
            fill(sink)
            shown = text(sink, console)
        rows = shown.splitlines()
        assert all(len(row) <= 60 for row in rows)
        header = next(row for row in rows if "kind" in row).split()
        assert header[:2] == ["time", "kind"] and "path" not in header and "check" not in header
        kinds = ["notification", "de-registration"] if provider == "pelion" else [
            "activity_created", "accessory_settings_changed"]
        for kind in kinds:
            assert kind in shown, (kind, shown)
        assert shown.count("…") <= 1, shown  # at most one payload is shortened
        assert "09:00:00.123" in shown


def test_wide_terminal_shows_every_filled_column_in_full() -> None:
    with table("pelion", 160) as (sink, console):
        pelion(sink)
        shown = text(sink, console)
    header = next(row for row in shown.splitlines() if "kind" in row).split()
    assert header == ["time", "kind", "device", "check", "http", "path", "payload"]
    assert "016f8d4a0b3c0000000000010010ab12" in shown  # a Pelion device id, whole
