"""``notifyctl inspect``: the Textual UI driven by its pilot (``App.run_test``), the index, and
the command's refusals (no terminal, bad lines) run as the real CLI.

The captures are built from the platforms' own fixtures, so every row decodes with a real
receiver; resending goes to a real receiver on 127.0.0.1 (``tests/support/recorder.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import fcntl
import io
import json
import math
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from recorder import Recorder
from waiting import TIMEOUT, wait_for

from conftest import subprocess_env
from notifyctl.inspect import actions
from notifyctl.inspect.app import InspectApp
from notifyctl.inspect.index import Deliveries, open_inputs
from notifyctl.replay import fixtures
from notifyctl.replay.inputs import Source

SNAPSHOTS = Path(__file__).parent / "snapshots"
SIZE = (120, 40)


def fixture_lines(name: str) -> list[str]:
    return Path(fixtures.source(name).path).read_text("utf-8").splitlines()


def make_capture(folder: Path, extra: list[str] | None = None) -> Path:
    """Pelion batches, Sigfox uplinks and Circle events, one Circle line as ``listen`` would
    have written it (``verified``), then ``extra`` lines."""
    circle = fixture_lines("circle/motion_started")
    checked = json.loads(circle[0])
    checked["verified"] = True
    # Sigfox's were captured a year before the others: brought into the same minute, so
    # the sparkline has something to show.
    sigfox = [json.loads(line) for line in fixture_lines("sigfox/uplinks")]
    for second, line in enumerate(sigfox, start=20):
        line["at"] = f"2026-11-23T09:00:{second}.000Z"
    lines = [*fixture_lines("pelion/notifications"),
             *(json.dumps(line, separators=(",", ":")) for line in sigfox),
             json.dumps(checked, separators=(",", ":")), *circle[1:], *(extra or [])]
    path = folder / "capture.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def opened(path: Path, **options: Any) -> Deliveries:
    # Named as a relative path would be, so what the screen shows does not depend on tmp_path.
    return open_inputs([Source(str(path), path.name)], **options)


def screen_text(app: InspectApp) -> str:
    """What the terminal shows, as plain text (the screenshot Textual exports, without the
    styles; the compositor is what ``App.export_screenshot`` renders too)."""
    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(),
                      record=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def drive(app: InspectApp, scenario: Callable[[Any], Awaitable[None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settled(pilot, app)
            await scenario(pilot)

    asyncio.run(main())


async def settled(pilot: Any, app: InspectApp) -> None:
    """Until no filter, timeline, resend or export is left running (then one more refresh)."""
    deadline = time.monotonic() + TIMEOUT
    await pilot.pause()
    while not app.settled:
        assert time.monotonic() < deadline, f"the app was still busy after {TIMEOUT:g} s"
        await pilot.pause(0.01)
    await pilot.pause()


def shown(app: InspectApp) -> list[int]:
    """The deliveries in view (indices)."""
    return list(app._table.view)


def message(app: InspectApp) -> str:
    return app.message_text


def status(app: InspectApp) -> str:
    return app.status_text


def test_screen_of_a_120x40_terminal(tmp_path: Path) -> None:
    """The whole screen, table and detail pane, against the reviewed snapshot."""
    app = InspectApp(opened(make_capture(tmp_path)))
    got: list[str] = []

    async def scenario(pilot: Any) -> None:
        await pilot.press("down", "enter")
        await settled(pilot, app)
        got.append(screen_text(app))

    drive(app, scenario)
    if os.environ.get("INSPECT_SHOW"):
        sys.stderr.write(got[0])
    expected = (SNAPSHOTS / "inspect_120x40.txt").read_text("utf-8")
    assert got[0] == expected, "".join(difflib.unified_diff(
        expected.splitlines(True), got[0].splitlines(True), "expected", "got"))


def test_timeline_spans_and_slices() -> None:
    from notifyctl.inspect import rate

    day = 1795424400.0  # 2026-11-23 09:00:00 UTC
    times = [day, day + 1, day + 1.5, math.nan, day + 8]
    assert rate.timeline(lambda: iter(times), 4) == (
        "2026-11-23 09:00:00 → 09:00:08 UTC (8 s) · arrivals █  ▃ (at most 3 in 2 s)")
    assert rate.timeline(lambda: iter([math.nan]), 4) == "no times"
    assert rate.timeline(lambda: iter([day, day + 3 * 86400]), 2) == (
        "2026-11-23 09:00:00 → 2026-11-26 09:00:00 UTC (3.0 d) · arrivals ██ (at most 1 in "
        "36.0 h)")


def test_table_lists_every_delivery_with_its_decoded_kind_and_device(tmp_path: Path) -> None:
    app = InspectApp(opened(make_capture(tmp_path)))
    texts: list[str] = []

    async def scenario(pilot: Any) -> None:
        texts.append(screen_text(app))

    drive(app, scenario)
    lines = texts[0].splitlines()
    assert lines[0].split() == ["line", "time", "provider", "kind", "device", "status", "size"]
    assert "notification" in lines[1] and "01767982c9250000000000010011579e +2" in lines[1]
    assert any("sigfox" in line and "uplink" in line and "1A2B3C" in line for line in lines)
    assert any("circle" in line and "verified" in line for line in lines)
    assert "11 deliveries" in status(app)
    assert "→" in status(app) and "UTC" in status(app)  # the span the capture covers


def test_slash_filters_with_the_where_language(tmp_path: Path) -> None:
    deliveries = opened(make_capture(tmp_path))
    app = InspectApp(deliveries)

    async def scenario(pilot: Any) -> None:
        await pilot.press("slash", *'.device == "1A2B3C"', "enter")
        await settled(pilot, app)

    drive(app, scenario)
    rows = shown(app)
    assert message(app) == f"{len(rows)} of 11 deliveries match"  # typed letters stay typed
    assert not list(tmp_path.glob("*.view-*"))  # the "e" in ".device" exported nothing
    assert rows and len(rows) < len(deliveries)
    assert {deliveries.platform(index) for index in rows} == {"sigfox"}
    assert f"{len(rows)} of 11 deliveries" in status(app)
    assert 'where .device == "1A2B3C"' in status(app)


def test_an_empty_filter_shows_every_row_again(tmp_path: Path) -> None:
    app = InspectApp(opened(make_capture(tmp_path)), where='.kind == "uplink"')
    filtered: list[int] = []

    async def scenario(pilot: Any) -> None:
        filtered.append(len(shown(app)))
        await pilot.press("slash")  # the field opens with the current expression
        await pilot.press(*["backspace"] * len('.kind == "uplink"'), "enter")
        await settled(pilot, app)

    drive(app, scenario)
    assert filtered == [4]
    assert len(shown(app)) == 11 and app.where is None
    assert app.status_text.startswith("11 deliveries\n")


def test_a_bad_filter_is_a_message_and_keeps_the_rows(tmp_path: Path) -> None:
    app = InspectApp(opened(make_capture(tmp_path)))

    async def scenario(pilot: Any) -> None:
        await pilot.press("slash", *".kind ==", "enter")
        await settled(pilot, app)

    drive(app, scenario)
    assert message(app).startswith("filter: '.kind ==': ")
    assert len(shown(app)) == 11
    assert app.return_code is None or app.return_code == 0  # still ran to the end


def test_where_starts_filtered(tmp_path: Path) -> None:
    deliveries = opened(make_capture(tmp_path))
    app = InspectApp(deliveries, where='.kind == "notification"')
    drive(app, lambda pilot: asyncio.sleep(0))
    assert {deliveries.platform(index) for index in shown(app)} == {"pelion"}


def test_enter_shows_masked_headers_pretty_body_and_events(tmp_path: Path) -> None:
    capture = make_capture(tmp_path)
    # A HAR file keeps secrets in the clear: the pane masks them.
    har = tmp_path / "hook.har"
    body = Path(capture).read_text("utf-8").splitlines()[0]
    pelion_body = json.loads(body)["body"]
    har.write_text(json.dumps({"log": {"entries": [{"request": {
        "method": "PUT", "url": "http://x/notify?api_key=hunter2",
        "headers": [{"name": "Authorization", "value": "Bearer sekrit-token-123"}],
        "postData": {"text": pelion_body}}}]}}), "utf-8")
    app = InspectApp(open_inputs([Source(str(har), "hook.har")], provider="pelion"))
    texts: list[str] = []

    async def scenario(pilot: Any) -> None:
        await pilot.press("enter")
        await settled(pilot, app)
        texts.append(app.detail_text)

    drive(app, scenario)
    text = texts[0]
    assert "Authorization: Bearer ***" in text and "sekrit" not in text
    assert "api_key=***" in text and "hunter2" not in text
    assert '  "notifications": [' in text  # pretty-printed
    assert "events (3)" in text and '"kind":"notification"' in text


def test_r_resends_through_the_rules_to_a_local_receiver(tmp_path: Path) -> None:
    capture = make_capture(tmp_path)
    deliveries = opened(capture)
    with Recorder() as receiver:
        app = InspectApp(deliveries, resend=actions.Resend(receiver.url + "/hook"))

        async def scenario(pilot: Any) -> None:
            await pilot.press("r")
            await settled(pilot, app)

        drive(app, scenario)
        got = receiver.wait(1)
    first = json.loads(capture.read_text("utf-8").splitlines()[0])
    assert got[0].path == "/hook" and got[0].method == first["method"]
    assert got[0].body == first["body"].encode("utf-8")
    assert "accepted (200" in message(app), message(app)
    assert app.summaries.get(0).status == "sent 200"


def test_r_follows_the_platforms_rules(tmp_path: Path) -> None:
    """A Circle delivery goes signed (the rules add X-Logi-Verify), or not at all without a
    key, as 'replay' would."""
    capture = make_capture(tmp_path)
    circle = 8  # the first Circle row (after 4 Pelion and 4 Sigfox ones)

    def resend(how: actions.Resend) -> InspectApp:
        app = InspectApp(opened(capture), resend=how)

        async def scenario(pilot: Any) -> None:
            await pilot.press(*["down"] * circle, "r")
            await settled(pilot, app)

        drive(app, scenario)
        return app

    with Recorder() as receiver:
        unsigned = resend(actions.Resend(receiver.url + "/hook"))
        signed = resend(actions.Resend(receiver.url + "/hook", sign_key="k" * 32))
        got = receiver.wait(1)
    assert unsigned.message_text.startswith("capture.jsonl:9: not sent: unsigned: "
                                            "X-Logi-Verify is required")
    assert unsigned.summaries.get(circle).status == "not sent"
    assert len(got) == 1 and "X-Logi-Verify" in got[0].headers
    assert "accepted (200" in signed.message_text


def test_r_signs_with_the_key_the_platform_stores_when_no_sign_key_env(tmp_path: Path) -> None:
    """Without --sign-key-env, 'r' asks for the key the row's platform keeps in the profile's
    keyring (as 'replay' does): the CLI passes that look-up as ``stored_key``."""
    capture = make_capture(tmp_path)
    circle = 8
    asked: list[str] = []

    def stored(platform: str) -> str | None:
        asked.append(platform)
        return "k" * 32 if platform == "circle" else None

    with Recorder() as receiver:
        app = InspectApp(opened(capture),
                         resend=actions.Resend(receiver.url + "/hook", stored_key=stored))

        async def scenario(pilot: Any) -> None:
            await pilot.press(*["down"] * circle, "r")
            await settled(pilot, app)

        drive(app, scenario)
        got = receiver.wait(1)
    assert asked == ["circle"]
    assert len(got) == 1 and "X-Logi-Verify" in got[0].headers
    assert "accepted (200" in app.message_text


def test_r_without_to_is_a_message_not_a_crash(tmp_path: Path) -> None:
    app = InspectApp(opened(make_capture(tmp_path)))

    async def scenario(pilot: Any) -> None:
        await pilot.press("r")
        await settled(pilot, app)
        await pilot.press("q")

    drive(app, scenario)
    assert "start inspect with --to" in message(app)
    assert app.return_code == 0


def test_e_writes_the_rows_in_view_to_a_capture_replay_reads(tmp_path: Path, cli: Any) -> None:
    capture = make_capture(tmp_path)
    app = InspectApp(opened(capture), first_input=str(capture))

    async def scenario(pilot: Any) -> None:
        await pilot.press("slash", *'.kind == "uplink"', "enter")
        await settled(pilot, app)
        await pilot.press("e")
        await settled(pilot, app)

    drive(app, scenario)
    written = tmp_path / "capture.view-1.jsonl"
    assert f"wrote 4 deliveries to {written}" in message(app)
    result = cli("replay", str(written), "--dry-run", "--to", "http://127.0.0.1:9/hook")
    assert result.exit_code == 0, result.stderr
    planned = [json.loads(line) for line in result.stdout.splitlines()]
    assert [plan["where"] for plan in planned] == [f"{written}:{n}" for n in range(1, 5)]
    assert all(plan["events"] == 1 for plan in planned)


def test_e_never_overwrites(tmp_path: Path) -> None:
    capture = make_capture(tmp_path)
    (tmp_path / "capture.view-1.jsonl").write_text("kept\n")
    assert actions.export_path(str(capture)).name == "capture.view-2.jsonl"


def test_keys_work_from_the_detail_pane(tmp_path: Path) -> None:
    app = InspectApp(opened(make_capture(tmp_path)))

    async def scenario(pilot: Any) -> None:
        await pilot.press("enter", "tab")
        assert app.focused is not None and app.focused.id == "detail"
        await pilot.press("down", "r")  # arrows scroll the pane; r still resends
        await settled(pilot, app)
        await pilot.press("q")

    drive(app, scenario)
    assert "start inspect with --to" in message(app)
    assert app.return_code == 0


def test_a_click_selects_the_row(tmp_path: Path) -> None:
    deliveries = opened(make_capture(tmp_path))
    app = InspectApp(deliveries)

    async def scenario(pilot: Any) -> None:
        await pilot.click("#table", offset=(10, 5))
        await pilot.press("enter")
        await settled(pilot, app)

    drive(app, scenario)
    assert app._table.selected == 5
    assert app.detail_text.startswith("capture.jsonl:6  sigfox")


def test_q_exits_0(tmp_path: Path) -> None:
    app = InspectApp(opened(make_capture(tmp_path)))
    drive(app, lambda pilot: pilot.press("q"))
    assert app.return_code == 0


def test_ctrl_c_ends_it_as_interrupted_even_while_typing_a_filter(tmp_path: Path) -> None:
    app = InspectApp(opened(make_capture(tmp_path)))
    drive(app, lambda pilot: pilot.press("slash", "x", "ctrl+c"))
    assert app.return_code == 130


def test_skip_invalid_marks_the_bad_line(tmp_path: Path) -> None:
    capture = make_capture(tmp_path, extra=['{"v": 1, "provider": "sigfox"', "not json"])
    app = InspectApp(opened(capture, skip_invalid=True))
    texts: list[str] = []

    async def scenario(pilot: Any) -> None:
        await pilot.press("end", "enter")
        await settled(pilot, app)
        texts.append(screen_text(app))

    drive(app, scenario)
    assert "2 invalid" in status(app)
    rows = [line for line in texts[0].splitlines() if "INVALID" in line]
    assert [row.lstrip("> ").split()[0] for row in rows] == ["12", "13"]
    assert app.detail_text.startswith(
        "capture.jsonl:13\n\nnot a delivery: capture.jsonl:13: malformed JSON")


def test_a_bad_line_is_file_line(tmp_path: Path) -> None:
    from notifyctl.errors import UsageError

    capture = make_capture(tmp_path, extra=["{}"])
    with pytest.raises(UsageError, match=r"^capture\.jsonl:12: not a capture line"):
        opened(capture)


def test_blank_lines_keep_line_numbers_and_a_huge_line_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from notifyctl.errors import UsageError

    capture = make_capture(tmp_path)
    lines = capture.read_text("utf-8").splitlines()
    capture.write_text("\n".join([lines[0], "", "  ", *lines[1:]]) + "\n", "utf-8")
    deliveries = opened(capture)
    assert len(deliveries) == 11
    assert deliveries.row(1).where == "capture.jsonl:4"
    assert len(lines[2].encode()) < 1000 < len(lines[3].encode())
    assert deliveries.row(1).item is not None
    assert deliveries.row(1).item.body == json.loads(lines[1])["body"].encode()
    capture.write_text("\n".join(["", lines[2], lines[3]]) + "\n", "utf-8")
    monkeypatch.setenv("NOTIFYCTL_MAX_CAPTURE_LINE", "1000")
    with pytest.raises(UsageError, match=r"^capture\.jsonl:3: line longer than 1,000 bytes"):
        opened(capture)


def test_rows_are_read_back_whole_from_several_threads_at_once(tmp_path: Path) -> None:
    """The UI, a filter and an export read rows at the same time; a long line is read in
    several pieces."""
    import threading

    big = json.loads(fixture_lines("generic/standard-webhooks")[0])
    big["body"] = json.dumps({"type": "big", "data": "x" * 200_000})
    capture = make_capture(tmp_path, extra=[json.dumps(big)])
    deliveries = opened(capture)
    expected = [deliveries.row(index) for index in range(len(deliveries))]
    assert len(expected[-1].item.body) > 200_000  # type: ignore[union-attr]
    wrong: list[int] = []

    def read_all() -> None:
        for _ in range(30):
            wrong.extend(index for index in range(len(deliveries))
                         if deliveries.row(index) != expected[index])

    readers = [threading.Thread(target=read_all) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert wrong == []


def test_a_capture_cut_short_after_it_was_opened_shows_invalid_rows(tmp_path: Path) -> None:
    capture = make_capture(tmp_path)
    app = InspectApp(opened(capture))
    capture.write_bytes(b"")  # truncated: what was indexed is no longer there
    texts: list[str] = []

    async def scenario(pilot: Any) -> None:
        texts.append(screen_text(app))
        await pilot.press("enter")
        await settled(pilot, app)

    drive(app, scenario)
    assert texts[0].count("INVALID") == 11
    assert "not a delivery: capture.jsonl:1: malformed JSON" in app.detail_text


def test_arrays_and_bodies_are_read_as_replay_reads_them(tmp_path: Path) -> None:
    bodies = [json.loads(line)["body"] for line in fixture_lines("sigfox/uplinks")]
    array_file = tmp_path / "uplinks.json"
    array_file.write_text("[" + ",".join(bodies) + "]", "utf-8")
    deliveries = open_inputs([Source(str(array_file), "uplinks.json")], provider="sigfox")
    app = InspectApp(deliveries)
    drive(app, lambda pilot: asyncio.sleep(0))
    assert len(deliveries) == 4
    assert app.summaries.get(0).kind == "uplink"


def test_several_files_are_one_table(tmp_path: Path) -> None:
    capture = make_capture(tmp_path)
    bodies = [json.loads(line)["body"] for line in fixture_lines("sigfox/uplinks")]
    array_file = tmp_path / "uplinks.json"
    array_file.write_text("[" + ",\n".join(bodies) + "]", "utf-8")  # one a line
    deliveries = open_inputs([Source(str(capture), "capture.jsonl"),
                              Source(str(array_file), "uplinks.json")])
    assert len(deliveries) == 15
    assert [deliveries.row(i).where for i in (10, 11, 14)] == [
        "capture.jsonl:11", "uplinks.json:1", "uplinks.json:4"]
    assert deliveries.platform(10) == "circle" and deliveries.platform(11) is None


class Terminal:
    """The real CLI on a pseudo-terminal (stdin, stdout and stderr, where Textual draws),
    120x40; ``shown`` is everything written to it so far."""

    def __init__(self, *args: str) -> None:
        self.leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.set_blocking(self.leader, False)
        self.proc = subprocess.Popen([sys.executable, "-m", "notifyctl", *args], stdin=follower,
                                     stdout=follower, stderr=follower,
                                     env=subprocess_env(TERM="xterm"))
        os.close(follower)
        self.drawn = bytearray()

    def shown(self) -> bytes:
        # OSError: nothing new (BlockingIOError), or the other end closed (EIO).
        with contextlib.suppress(OSError):
            self.drawn.extend(os.read(self.leader, 65536))
        return bytes(self.drawn)

    def ended(self) -> bool:
        self.shown()  # keep draining, or a full buffer would block the writer
        return self.proc.poll() is not None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.leader)


def test_a_bad_line_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    capture = make_capture(tmp_path, extra=["not json"])
    term = Terminal("inspect", str(capture))
    try:
        wait_for(term.ended, what="inspect to end")
    finally:
        term.close()
    assert term.proc.returncode == 2
    said = term.shown().decode()
    assert f"{capture}:12: malformed JSON" in said and "Traceback" not in said


@pytest.mark.parametrize(("key", "code"), [(b"q", 0), (b"\x03", 130)], ids=["q", "ctrl-c"])
def test_in_a_real_terminal_q_quits_with_0(tmp_path: Path, key: bytes, code: int) -> None:
    """The command itself: it draws the capture on a terminal; ``q`` ends it with 0, Ctrl-C
    with 130 like every command."""
    term = Terminal("inspect", str(make_capture(tmp_path)))
    try:
        wait_for(lambda: b"11 deliveries" in term.shown(), what="the status bar to be drawn")
        os.write(term.leader, key)
        wait_for(term.ended, what="inspect to end")
    finally:
        term.close()
    assert term.proc.returncode == code, term.shown()[-2000:]


def test_without_a_terminal_exit_2_says_what_to_use(tmp_path: Path, run: Any) -> None:
    result = run("inspect", str(make_capture(tmp_path)))
    assert result.exit_code == 2
    assert "is not one" in result.stderr and "replay FILE --dry-run" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_where_exits_2_before_anything(tmp_path: Path, cli: Any) -> None:
    result = cli("inspect", str(make_capture(tmp_path)), "--where", ".kind ==")
    assert result.exit_code == 2
    assert "--where '.kind =='" in result.stderr
