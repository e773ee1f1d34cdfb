"""replay reads the answers its rules need (Sigfox BIDIR downlinks) whatever Content-Encoding
the receiver chose, and an answer it cannot read is a failed delivery (exit 6), never a silent
loss. Receivers are real aiohttp servers on 127.0.0.1 that compress as a framework would."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aioserve import ServeThread

DOWNLINK = "0102030405060708"


def uplinks(tmp_path: Path) -> str:
    path = tmp_path / "uplinks.json"
    path.write_text(json.dumps([{"device": "1A2B", "time": 1700000000, "data": "0102",
                                 "seqNumber": 1}]))
    return str(path)


def bidir(cli: Any, tmp_path: Path, url: str, *extra: str) -> Any:
    return cli("replay", uplinks(tmp_path), "--provider", "sigfox", "--callback-type",
               "data/bidir", "--to", url, "-o", "json", *extra)


def answering(make: Any) -> Any:
    """A receiver whose /bidir answer is ``make(request)``; it records the Accept-Encoding."""
    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        seen.append(request.headers.get("Accept-Encoding"))
        response: web.StreamResponse = make(request)
        return response

    def setup(app: web.Application) -> None:
        app.router.add_post("/bidir", handle)

    return setup, seen


def downlink_answer() -> web.Response:
    return web.json_response({"1A2B": {"downlinkData": DOWNLINK}})


def test_a_gzipped_bidir_answer_is_read(cli: Any, tmp_path: Path) -> None:
    # As hapi does for any answer: compressed whenever the request accepts gzip.
    def gzipped(request: web.Request) -> web.Response:
        response = downlink_answer()
        response.enable_compression()
        return response

    setup, seen = answering(gzipped)
    with ServeThread(setup) as server:
        result = bidir(cli, tmp_path, server.url + "/bidir")
    assert result.exit_code == 0, result.stderr
    assert seen and "gzip" in (seen[0] or "")  # the receiver was allowed to compress
    assert f"downlink for 1A2B: {DOWNLINK}" in result.stderr
    assert "not UTF-8" not in result.stderr
    report = result.json()
    assert report["accepted"] == 1 and report["failed"] == 0


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_compressed_answer_is_read_even_when_forced(cli: Any, tmp_path: Path,
                                                      coding: str) -> None:
    def forced(request: web.Request) -> web.Response:
        response = downlink_answer()
        response.enable_compression(web.ContentCoding(coding))
        return response

    setup, _ = answering(forced)
    with ServeThread(setup) as server:
        result = bidir(cli, tmp_path, server.url + "/bidir")
    assert result.exit_code == 0, result.stderr
    assert f"downlink for 1A2B: {DOWNLINK}" in result.stderr


@pytest.mark.parametrize(("body", "headers", "why"), [
    (b"\x8b\x00garbage", {"Content-Type": "application/json", "Content-Encoding": "br"},
     "Content-Encoding 'br'"),
    (gzip.compress(b'{"1A2B": {"downlinkData": "0102030405060708"}}')[:-6],
     {"Content-Type": "application/json", "Content-Encoding": "gzip"}, "truncated"),
    (b"\xff\xfe{}", {"Content-Type": "application/json"}, "not UTF-8"),
    (b'{"1A2B": {"downlinkData": "12"}}', {"Content-Type": "application/json"},
     "16 hex characters"),
], ids=["unknown-coding", "truncated-gzip", "not-utf8", "bad-downlink"])
def test_an_unreadable_bidir_answer_is_a_counted_failure(
        cli: Any, tmp_path: Path, body: bytes, headers: dict[str, str], why: str) -> None:
    setup, seen = answering(lambda request: web.Response(status=200, body=body,
                                                         headers=headers))
    report_file = tmp_path / "report.json"
    with ServeThread(setup) as server:
        result = bidir(cli, tmp_path, server.url + "/bidir", "--report", str(report_file))
    assert result.exit_code == 6, result.stderr
    assert len(seen) == 1  # the uplink was accepted: it is not sent again
    report = json.loads(report_file.read_text())
    assert report["failed"] == 1 and report["accepted"] == 0
    assert report["statuses"] == {"200": 1}
    assert any(why in problem for problem in report["problems"]), report["problems"]
    assert why in result.stderr


def test_an_empty_answer_labelled_gzip_is_no_downlink_not_a_failure(cli: Any,
                                                                     tmp_path: Path) -> None:
    setup, _ = answering(lambda request: web.Response(
        status=200, body=b"", headers={"Content-Encoding": "gzip"}))
    with ServeThread(setup) as server:
        result = bidir(cli, tmp_path, server.url + "/bidir")
    assert result.exit_code == 0, result.stderr
    assert result.json()["accepted"] == 1
