"""replay inputs: capture files, bare bodies, streamed JSON arrays, HAR, globs, FILE:LINE errors
and --skip-invalid, delivered to a real receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notifyctl.errors import UsageError
from notifyctl.replay import inputs
from test_replay import capture, receiver

__all__ = ["receiver"]  # the fixture, shared with test_replay


def test_bare_body_and_array_are_delivered_byte_for_byte(tmp_path, receiver, cli):
    server = receiver()
    body = tmp_path / "one.json"
    body.write_text('{\n  "n": 1,\n  "text": "h\\u00e9"\n}\n')
    array = tmp_path / "many.json"
    array.write_text('[ {"n": 2},\n{"n" :3}, {"n": 4, "é": [1, 2]}\n]')
    result = cli("replay", str(body), str(array), "--provider", "generic", "-c", "1",
                 "--to", server.url)
    assert result.exit_code == 0, result.stderr
    assert [h.body for h in server.hits] == [
        b'{\n  "n": 1,\n  "text": "h\\u00e9"\n}', b'{"n": 2}', b'{"n" :3}',
        '{"n": 4, "é": [1, 2]}'.encode()]


def test_array_streams_elements_across_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "_CHUNK", 64)  # force many boundaries, also inside characters
    elements = [{"i": i, "pad": "é" * (i % 50), "num": 12345678901234} for i in range(300)]
    path = tmp_path / "a.json"
    path.write_text("[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in elements)
                    + "\n]\n")
    items = list(inputs.read_inputs([str(path)]))
    assert [json.loads(i.body) for i in items] == elements
    assert items[5].where == f"{path}:7"


def test_array_error_names_the_line(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "_CHUNK", 16)
    path = tmp_path / "a.json"
    path.write_text('[{"n": 1},\n{"n": 2},\n{"n": oops}\n]')
    with pytest.raises(UsageError, match=rf"{path}:3: malformed JSON body"):
        list(inputs.read_inputs([str(path)]))
    truncated = tmp_path / "t.json"
    truncated.write_text('[{"n": 1},\n{"n": 2')
    with pytest.raises(UsageError, match=rf"{truncated}:2"):
        list(inputs.read_inputs([str(truncated)]))


def test_har_entries_are_replayed_as_captured(tmp_path, receiver, cli):
    server = receiver()
    har = {"log": {"version": "1.2", "entries": [
        {"startedDateTime": "2026-11-23T09:00:00.000Z", "request": {
            "method": "PUT", "url": "https://example.com/hooks/a?x=1",
            "headers": [{"name": ":authority", "value": "example.com"},
                        {"name": "Content-Type", "value": "application/json"},
                        {"name": "X-Custom", "value": "yes"}],
            "postData": {"mimeType": "application/json", "text": '{"a": 1}'}}},
        {"startedDateTime": "2026-11-23T09:00:01.000Z", "request": {
            "method": "POST", "url": "https://example.com/hooks/b", "headers": [],
            "postData": {"mimeType": "application/octet-stream", "text": "AAEC",
                         "encoding": "base64"}}},
    ]}}
    path = tmp_path / "session.har"
    path.write_text(json.dumps(har))
    result = cli("replay", str(path), "--provider", "generic", "-c", "1", "--to",
                 server.url + "/base", "--keep-path")  # the captured paths, below --to's
    assert result.exit_code == 0, result.stderr
    first, second = server.hits
    assert (first.method, first.path, first.body) == ("PUT", "/base/hooks/a?x=1", b'{"a": 1}')
    assert first.headers["X-Custom"] == "yes"
    assert (second.method, second.path, second.body) == ("POST", "/base/hooks/b", b"\x00\x01\x02")


def test_malformed_capture_line_stops_with_file_and_line(tmp_path, receiver, cli):
    server = receiver()
    src = capture(tmp_path / "c.jsonl", "generic", [{"n": i} for i in range(3)])
    lines = src.read_text().splitlines()
    lines.insert(2, '{"v": 1, "provider": "generic", broken')
    src.write_text("\n".join(lines) + "\n")
    result = cli("replay", str(src), "--to", server.url, "-c", "1")
    assert result.exit_code == 2
    assert f"{src}:3:" in result.stderr and "Traceback" not in result.stderr

    skipped = cli("replay", str(src), "--to", server.url, "--skip-invalid", "-o", "json")
    assert skipped.exit_code == 0
    report = skipped.json()
    assert report["invalid"] == 1 and report["deliveries"] == 3
    assert any(f"{src}:3:" in p for p in report["problems"])


def test_invalid_pelion_body_is_a_file_line_error(tmp_path, cli):
    src = capture(tmp_path / "p.jsonl", "pelion", [{"notifications": [{"ep": 5}]}])
    result = cli("replay", str(src), "--to", "http://127.0.0.1:9")
    assert result.exit_code == 2 and f"{src}:1:" in result.stderr


def test_globs_and_provider_from_the_capture(tmp_path, receiver, cli):
    server = receiver()
    for name in ("a", "b", "c"):
        capture(tmp_path / f"{name}.jsonl", "generic", [{"f": name}])
    result = cli("replay", str(tmp_path / "*.jsonl"), "--to", server.url, "-c", "1")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(h.body)["f"] for h in server.hits] == ["a", "b", "c"]
    missing = cli("replay", str(tmp_path / "*.nothing"), "--to", server.url)
    assert missing.exit_code == 2 and "no file matches" in missing.stderr


def test_no_provider_anywhere_is_a_usage_error(tmp_path, cli):
    body = tmp_path / "b.json"
    body.write_text('{"n": 1}')
    result = cli("replay", str(body), "--to", "http://127.0.0.1:9")
    assert result.exit_code == 2 and "--provider" in result.stderr


def test_help_does_not_load_the_transport():
    import subprocess
    import sys

    from conftest import subprocess_env

    code = ("import sys\nfrom notifyctl.cli import main\n"
            "try:\n    main(['replay', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('aiohttp' in sys.modules, 'msgspec' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=subprocess_env(), timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "False False"


def test_list_fixtures_loads_no_transport(tmp_path: Path):
    import subprocess
    import sys

    from conftest import subprocess_env

    code = ("import sys\nfrom notifyctl.cli import main\n"
            "main(['replay', '--list-fixtures', '-o', 'json'])\n"
            "print('aiohttp' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=subprocess_env(), timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "False"
    assert "pelion/notifications" in proc.stdout
