"""Hostile input: any bytes given to the capture reader or the config loader give a result or a
typed ``NotifyctlError`` (never another exception); capture lines are bounded by a limit the
user can raise; escape sequences and Rich markup in device payloads, paths, error texts and
server messages are shown inert in the tail and listen tables.

(The wire decoders have their own property tests next to them: test_pelion_wire.py,
test_pelion_tlv.py, test_thingspace_wire.py, test_circle.py, test_iottly.py, test_sigfox.py,
and test_listen.py for the listen handlers.)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifyctl import config
from notifyctl.errors import NotifyctlError
from notifyctl.events import (
    MAX_LINE_ENV,
    CaptureError,
    Delivery,
    Event,
    capture_lines,
    parse_capture_line,
    read_capture,
)

EXAMPLES = int(os.environ.get("NOTIFYCTL_HYPOTHESIS_EXAMPLES", "300"))
FAST = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# -- the capture reader -----------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
capture_like = st.fixed_dictionaries(
    {},
    optional={
        "v": st.one_of(st.just(1), json_values), "provider": json_values,
        "source": st.one_of(st.sampled_from(["websocket", "callback"]), json_values),
        "at": json_values, "method": json_values, "path": json_values,
        "headers": st.one_of(st.dictionaries(st.text(), st.text(), max_size=3), json_values),
        "body": st.one_of(st.text(), json_values),
        "body_b64": st.one_of(st.text(alphabet="ABCDabcd0123+/=", max_size=12), json_values),
    },
)


def check_line(line: bytes) -> None:
    try:
        delivery = parse_capture_line(line, "cap.jsonl:1")
    except CaptureError as exc:
        assert exc.message.startswith("cap.jsonl:1: ")
        return
    assert isinstance(delivery, Delivery)
    delivery.body_bytes()  # what replay sends must be computable too


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_capture_error(line: bytes) -> None:
    check_line(line)


@FAST
@given(capture_like)
def test_any_capture_shaped_object_parses_or_raises_capture_error(doc: dict[str, Any]) -> None:
    check_line(json.dumps(doc).encode())


@FAST
@given(st.text(max_size=200))
def test_any_text_with_escapes_parses_or_raises_capture_error(text: str) -> None:
    line = ('{"v":1,"provider":"p","source":"callback","at":"t","body":"' + text + '"}')
    check_line(line.encode("utf-8", "surrogatepass"))


def test_capture_lines_are_bounded_and_the_limit_can_be_raised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = Delivery.capture("generic", "callback", b'{"n": 1}', method="POST", path="/")
    big = Delivery.capture("generic", "callback", json.dumps({"x": "y" * 5000}).encode())
    from msgspec import json as mjson

    path = tmp_path / "cap.jsonl"
    path.write_bytes(b"\n".join(mjson.encode(d) for d in (good, big, good)) + b"\n")
    monkeypatch.setenv(MAX_LINE_ENV, "1000")
    with pytest.raises(CaptureError) as refused:
        list(read_capture(path))
    assert f"{path}:2: line longer than 1,000 bytes" in refused.value.message
    assert MAX_LINE_ENV in (refused.value.hint or "")
    monkeypatch.setenv(MAX_LINE_ENV, "10000")
    assert [n for n, _ in read_capture(path)] == [1, 2, 3]
    monkeypatch.setenv(MAX_LINE_ENV, "lots")
    with pytest.raises(NotifyctlError):
        list(read_capture(path))
    # The reader never holds more than the limit of an oversized line.
    reads: list[int] = []

    class Spy(io.BytesIO):
        def readline(self, size: int | None = -1) -> bytes:
            reads.append(size if size is not None else -1)
            return super().readline(size)

    with pytest.raises(CaptureError):
        list(capture_lines(Spy(b"z" * 10_000_000), "huge", limit=4096))
    assert reads == [4097]
    # Exactly the limit, newline excluded, is accepted.
    assert list(capture_lines(io.BytesIO(b"a" * 8 + b"\n" + b"b" * 8), "x", limit=8)) == [
        (1, b"a" * 8 + b"\n"), (2, b"b" * 8)]


def test_replay_refuses_an_oversized_capture_line_with_exit_2(cli, tmp_path: Path,
                                                              monkeypatch) -> None:
    from msgspec import json as mjson

    line = mjson.encode(Delivery.capture("generic", "callback", b'{"n": "' + b"q" * 3000 + b'"}',
                                         method="POST", path="/"))
    path = tmp_path / "cap.jsonl"
    path.write_bytes(line + b"\n")
    monkeypatch.setenv(MAX_LINE_ENV, "2000")
    result = cli("replay", str(path), "--provider", "generic", "--to", "http://127.0.0.1:9/")
    assert result.exit_code == 2
    assert f"{path}:1: line longer than 2,000 bytes" in result.stderr
    assert "Traceback" not in result.stderr


# -- the config loader ------------------------------------------------------------------------
yaml_like = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet=st.sampled_from(list("abc:- \n\t'\"[]{}&*!|>%@#,?0123456789.~")),
             max_size=200).map(str.encode),
    st.dictionaries(st.sampled_from(["default_profile", "profiles", "x"]), json_values,
                    max_size=3).map(lambda d: json.dumps(d).encode()),
    st.dictionaries(st.text(max_size=8), st.dictionaries(
        st.sampled_from(["provider", "api_url", "account", "settings", "x"]), json_values,
        max_size=4), max_size=3).map(lambda d: json.dumps({"profiles": d}).encode()),
)


@FAST
@given(data=yaml_like)
def test_config_load_gives_a_config_or_a_typed_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(data)
    try:
        loaded = config.load(path)
    except NotifyctlError as exc:
        assert str(path) in exc.message
        return
    assert isinstance(loaded, config.Config)


@pytest.mark.parametrize("data", [
    b"a: &a [" + b"*a, " * 50 + b"]\nb: &b [" + b"*a, " * 50 + b"]\n",  # alias fan-out
    b"[" * 5000 + b"]" * 5000,  # deep nesting
    b"!!python/object/apply:os.system ['true']",  # no constructor runs
    b"profiles: !!binary aGVsbG8=",
])
def test_config_load_hostile_yaml(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(data)
    with contextlib.suppress(NotifyctlError):  # an error is fine; another exception is not
        config.load(path)


# -- tables show untrusted text inert -------------------------------------------------------
HOSTILE = "\x1b[31mRED\x1b]8;;http://evil\x07link\x1b]8;;\x07[bold]B[/bold][/][link=x]L\x9b2J"


def render(renderable: Any) -> str:
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=400, height=40, color_system=None,
            force_terminal=False).print(renderable)
    return buffer.getvalue()


def assert_inert(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "\\x1b[31mRED" in text and "\\x07" in text
    assert "[bold]B[/bold][/]" in text  # markup shown, not applied (and no MarkupError)


def test_tail_table_shows_device_path_payload_and_messages_inert() -> None:
    from notifyctl.tail import StreamStats, TailRun
    from notifyctl.tail_view import LiveTable

    view = LiveTable(console=__import__("rich.console").console.Console(
        file=io.StringIO(), width=400, height=40, color_system=None))
    run = TailRun(last_error=f"frame 3 skipped: {HOSTILE}")

    class Stats:
        stats = StreamStats(state="connected", detail=HOSTILE)

    view._source, view._run = Stats(), run  # type: ignore[assignment]
    view.emit([Event("pelion", "notification", device=HOSTILE[:40], path=HOSTILE[:40],
                     payload=HOSTILE, id="1"),
               # Circle's kind (eventType) and time come from the body as sent
               Event("circle", HOSTILE, time=HOSTILE, payload="p")])
    view.message(f"closed with code 4000: {HOSTILE}")
    text = render(view._render())
    assert_inert(text)
    assert text.count("\\x1b[31mRED") >= 5  # device, path, payload, kind and time columns
    assert "closed with code 4000" in text


def test_listen_table_shows_device_path_payload_and_errors_inert() -> None:
    from rich.console import Console

    from notifyctl.listen.view import Seen, TableSink

    console = Console(file=io.StringIO(), width=400, height=40, color_system=None)
    sink = TableSink(console, "generic")
    try:
        sink.show(Seen("generic", "message", "POST", "/hook" + HOSTILE[:30], 200,
                       "2026-11-23T09:00:00.000Z", True, None,
                       [Event("generic", "message", device=HOSTILE[:17], payload=HOSTILE)]))
        sink.show(Seen("generic", "invalid", "POST", "/", 400, "2026-11-23T09:00:00.000Z",
                       False, f"bad header X-Sig: {HOSTILE}", []))
        text = render(sink.render())
    finally:
        sink.close()
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "\\x1b[31mRED" in text and "[bold]B" in text
