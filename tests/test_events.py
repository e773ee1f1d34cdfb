"""Capture files: exact bodies, masked secrets, 0600, streaming reads with FILE:LINE errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from notifyctl.events import CaptureError, CaptureWriter, Delivery, read_capture
from notifyctl.output import inert_str
from notifyctl.redaction import mask_headers


def test_capture_round_trip_keeps_bodies_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    bodies = [b'{"notifications":[]}', "caf\u00e9 \u2603".encode(), b"\xff\x00\xfe", b""]
    with CaptureWriter(path) as writer:
        for body in bodies:
            writer.write(Delivery.capture("pelion", "callback", body, method="PUT", path="/h"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    read = list(read_capture(path))
    assert [n for n, _ in read] == [1, 2, 3, 4]
    assert [d.body_bytes() for _, d in read] == bodies
    assert read[2][1].body is None and read[2][1].body_b64 == "/wD+"
    assert path.read_text().startswith('{"v":1,"provider":"pelion","source":"callback","at":"')


def test_secret_headers_are_masked() -> None:
    masked = mask_headers({
        "Authorization": "Bearer ak_secret", "X-API-Key": "k", "Cookie": "a=b",
        "Content-Type": "application/json", "authorization": "Basic dXNlcjpwYXNz",
    })
    assert masked == {
        "Authorization": "Bearer ***", "X-API-Key": "***", "Cookie": "***",
        "Content-Type": "application/json", "authorization": "Basic ***",
    }


def test_credential_query_parameters_are_masked_in_captured_paths() -> None:
    delivery = Delivery.capture("iottly", "callback", b"{}", method="POST",
                                path="/hook?api_key=ak_secret&monkey=1&token=t0k#frag")
    assert delivery.path == "/hook?api_key=***&monkey=1&token=***#frag"


def test_writer_appends(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    for _ in range(2):
        with CaptureWriter(path) as writer:
            writer.write(Delivery.capture("iottly", "websocket", b"{}"))
    assert len(list(read_capture(path))) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "cap.jsonl:2: malformed JSON"),
        ('{"v":1}', "cap.jsonl:2: not a capture line"),
        ('{"v":2,"provider":"p","source":"callback","at":"x"}', "capture version 2"),
        ('{"v":1,"provider":"p","source":"s","at":"x","body":"a","body_b64":"YQ=="}', "both"),
        ('{"v":1,"provider":"p","source":"s","at":"x","body_b64":"!!"}', "not base64"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "cap.jsonl"
    good = Delivery.capture("pelion", "callback", b"{}")
    import msgspec

    path.write_bytes(msgspec.json.encode(good) + b"\n" + line.encode() + b"\n")
    with pytest.raises(CaptureError, match=message) as info:
        list(read_capture(path))
    assert str(info.value).startswith(f"{path}:2:")


def test_missing_capture_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="cannot open capture"):
        list(read_capture(tmp_path / "nope.jsonl"))


def test_inert_shows_control_characters() -> None:
    assert inert_str("a\x1b[31mred\x07\n") == "a\\x1b[31mred\\x07\n"
