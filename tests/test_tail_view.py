"""``tail``'s live table shows what matters on each platform: the columns each platform's
package declares (``Platform.columns``), kind and time whole at every width, Circle's time
never empty, Iottly's stream on every row, no ``path`` column where events have none, and on a
60-column terminal fewer columns rather than every cell cut to "…". Rendered into real Rich
consoles."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from rich.console import Console

from notifyctl import registry
from notifyctl.contract import Column
from notifyctl.events import Event
from notifyctl.tail import StreamStats, TailRun
from notifyctl.tail_view import LiveTable

WIDTHS = (60, 120, 160)
PELION = [
    Event("pelion", "notification", device="01767982c9250000000000010011579e",
          time="2026-11-23T09:00:00.123Z", path="/3303/0/5700", payload="21.5"),
    Event("pelion", "de-registration", device="015f3850a657000000000001001002ab",
          time="2026-11-23T09:00:01.000Z"),
    Event("pelion", "registration-expired", device="0176c7561cf3000000000001001122d4",
          time="2026-11-23T09:00:02.000Z"),
]
CIRCLE = [  # the sandbox's and some real events carry no time of their own
    Event("circle", "activity_created", device="a1b2c3d4-0000-4e5f-8a9b-0c1d2e3f4a5b",
          id="20261123", payload={"activityId": "20261123", "accessoryId": "a1b2c3d4"}),
    Event("circle", "accessory_settings_changed", device="a1b2c3d4-0000-4e5f-8a9b-0c1d2e3f4a5b",
          time="2026-11-23T09:00:03.000Z", payload={"setting": "night_vision"}),
]
IOTTLY = [
    Event("iottly", "telemetry", device="dev_01", stream="temp", value=21.5,
          time="2026-11-23T09:00:00.000Z", id="sub_1"),
    Event("iottly", "telemetry", device="dev_02", stream="humidity", value=44, id="sub_2"),
]


@dataclass
class Declared:
    """The part of a source the view reads: its stats and its platform's columns."""

    columns: tuple[Column, ...]
    stats: StreamStats = field(default_factory=lambda: StreamStats(state="connected"))


def render(source: Any, events: list[Event], width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, height=30, color_system=None)
    view = LiveTable(console=console, columns=source.columns)
    view.start(source, TailRun())
    view.emit(events)
    view.close()
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("time"))
    return lines[header:header + 1 + len(events)]


@pytest.mark.parametrize("width", WIDTHS)
def test_pelion_rows_keep_kind_and_time_whole(width: int) -> None:
    header, *rows = render(Declared(registry.get("pelion").columns), PELION, width)
    for row, event, clock in zip(rows, PELION, ("09:00:00.123", "09:00:01.000", "09:00:02.000"),
                                 strict=True):
        assert row.split()[:2] == [clock, event.kind], row
    assert "device" in header and "…" not in header
    if width >= 120:
        assert "path" in header and "/3303/0/5700" in rows[0]
        assert PELION[0].device in rows[0]  # a 32-digit endpoint id whole


@pytest.mark.parametrize("width", WIDTHS)
def test_circle_rows_show_time_kind_and_no_path(width: int) -> None:
    header, *rows = render(Declared(registry.get("circle").columns), CIRCLE, width)
    assert "path" not in header
    for row, event in zip(rows, CIRCLE, strict=True):
        clock, kind = row.split()[:2]
        assert len(clock) == 12 and clock[2] == ":" and kind == event.kind, row
    assert rows[1].split()[0] == "09:00:03.000"
    if width >= 120:
        assert "a1b2c3d4-0000-4e5f-8a9b-0c1d2e3f4a5b" in rows[0]


@pytest.mark.parametrize("width", WIDTHS)
def test_iottly_rows_show_the_stream_and_no_path(width: int) -> None:
    header, *rows = render(Declared(registry.get("iottly").columns), IOTTLY, width)
    assert header.split() == ["time", "kind", "device", "stream", "value"]
    assert [row.split()[1:5] for row in rows] == [
        ["telemetry", "dev_01", "temp", "21.5"], ["telemetry", "dev_02", "humidity", "44"]]


@pytest.mark.parametrize(("source", "events"), [
    (Declared(registry.get("pelion").columns), PELION),
    (Declared(registry.get("circle").columns), CIRCLE),
    (Declared(registry.get("iottly").columns), IOTTLY)], ids=["pelion", "circle", "iottly"])
def test_a_narrow_terminal_drops_columns_instead_of_cutting_all(source: Declared,
                                                                events: list[Event]) -> None:
    wide = render(source, events, 160)[0].split()
    header, *rows = render(source, events, 60)
    assert len(header.split()) <= len(wide)
    assert all(len(line) <= 60 for line in [header, *rows])
    assert not any(row.count("…") > 1 for row in rows), rows  # at most one cell cut per row
