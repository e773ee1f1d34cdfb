"""What ``replay`` reads: capture files, a bare JSON body, a JSON array of bodies, HAR files and the
built-in fixtures, all turned into one stream of ``Item`` (one captured delivery each).

Everything streams: capture lines one at a time, arrays element by element (a multi-GB array
never sits in memory), so replay runs in constant memory. HAR files are JSON documents written
by browsers and proxies and are read whole. A malformed input stops with ``FILE:LINE: what is
wrong`` (a ``UsageError``, exit 2); with ``skip_invalid`` it is counted in ``InputStats`` instead.

Each file is read as it was when the replay started (``read_inputs`` notes every regular file's
size then, and reads no further): a capture still being written, even by the receiver the
replay delivers to (``listen --save`` of the same file), ends where it ended at the start.
Following a growing file is ``tail -f``'s job, not replay's.
"""

from __future__ import annotations

import base64
import codecs
import glob
import io
import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from notifyctl.contract.deliver import InputStats, Item
from notifyctl.errors import UsageError
from notifyctl.events import CaptureError, Delivery, capture_lines, parse_capture_line

FORMATS = ("auto", "capture", "body", "array", "har")
_CHUNK = 1 << 20
_WS = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Source:
    """An input file and how messages name it (a built-in fixture by its name, not by a path
    inside the installation)."""

    path: str
    name: str


def expand(patterns: Iterable[str]) -> list[str]:
    """Files and globs in the order given; a pattern that matches nothing is an error."""
    paths: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern) and not os.path.exists(pattern):
            found = sorted(glob.glob(pattern, recursive=True))
            if not found:
                raise UsageError(f"{pattern}: no file matches")
            paths.extend(found)
        else:
            paths.append(pattern)
    return paths


def read_inputs(
    paths: Iterable[str | Source],
    *,
    fmt: str = "auto",
    skip_invalid: bool = False,
    stats: InputStats | None = None,
    limit: int | None = None,
) -> Iterator[Item]:
    """Stream the deliveries of every file in turn (at most ``limit`` in all), each file as it
    was at this call (its size is noted now, before the first item is asked for)."""
    stats = stats if stats is not None else InputStats()
    if fmt not in FORMATS:
        raise UsageError(f"--input-format {fmt!r} is not one of {', '.join(FORMATS)}")
    sources = [path if isinstance(path, Source) else Source(path, path) for path in paths]
    return _stream([(source, _held_size(source.path)) for source in sources], fmt,
                   skip_invalid, stats, limit)


def _stream(sources: list[tuple[Source, int | None]], fmt: str, skip_invalid: bool,
            stats: InputStats, limit: int | None) -> Iterator[Item]:
    for source, size in sources:
        for item in _read_one(_Input(source.path, source.name, size), fmt, skip_invalid, stats):
            if limit is not None and stats.read >= limit:
                return
            stats.read += 1
            yield item


def _held_size(path: str) -> int | None:
    """The size of a regular file now; None for anything else (a pipe has no size to keep)."""
    try:
        info = os.stat(path)
    except OSError:
        return None  # opening it says why, in order
    return info.st_size if stat.S_ISREG(info.st_mode) else None


@dataclass(frozen=True, slots=True)
class _Input:
    path: str
    name: str  # for messages: FILE in FILE:LINE
    size: int | None  # bytes held when the replay started; None: read to the end


class _Held(io.RawIOBase):
    """The first ``size`` bytes of a file: what it held when the replay started."""

    def __init__(self, raw: io.FileIO, size: int) -> None:
        super().__init__()
        self.raw, self.left = raw, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self.left)
        if wanted <= 0:
            return 0
        got = self.raw.readinto(memoryview(buffer)[:wanted]) or 0
        self.left -= got
        return got

    def grew(self) -> bool:
        """Bytes were added after the size was noted (a writer is still at work)."""
        return os.fstat(self.raw.fileno()).st_size > self.raw.tell()

    def close(self) -> None:
        self.raw.close()
        super().close()


def _open(source: _Input) -> IO[bytes]:
    try:
        raw = open(source.path, "rb", buffering=0)  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise UsageError(f"{source.name}: cannot open: {exc.strerror}") from exc
    # A large buffer: a capture line is often a 1-2 MB batch, which an 8 KB buffer reads in
    # hundreds of _Held.readinto calls (15% of a Pelion replay's time).
    if source.size is None:
        return io.BufferedReader(raw, buffer_size=_CHUNK)
    return io.BufferedReader(_Held(raw, source.size), buffer_size=_CHUNK)


def detect(source: _Input) -> str:
    """Guess the format from the name and the first line."""
    suffix = Path(source.path).suffix.lower()
    if suffix == ".har":
        return "har"
    if suffix in (".jsonl", ".ndjson"):
        return "capture"
    with _open(source) as handle:
        first = b""
        for line in handle:
            if line.strip():
                first = line.strip().removeprefix(b"\xef\xbb\xbf")
                break
    if first.startswith(b"["):
        return "array"
    try:
        doc = json.loads(first)
    except ValueError:
        return "body"  # a pretty-printed document: parsed whole
    if isinstance(doc, dict) and "v" in doc and "source" in doc:
        return "capture"
    return "body"


def _read_one(source: _Input, fmt: str, skip_invalid: bool, stats: InputStats
              ) -> Iterator[Item]:
    kind = detect(source) if fmt == "auto" else fmt
    if kind == "capture":
        yield from _capture(source, skip_invalid, stats)
    elif kind == "array":
        yield from _array(source, skip_invalid, stats)
    elif kind == "har":
        yield from _har(source, skip_invalid, stats)
    else:
        yield from _body(source)


def _capture(source: _Input, skip_invalid: bool, stats: InputStats) -> Iterator[Item]:
    name = source.name
    with _open(source) as handle:
        for number, line in capture_lines(handle, name):
            if not line.endswith(b"\n") and _being_written(handle):
                return  # cut where the size was noted: its writer had not finished it
            if not line.strip():
                continue
            try:
                d = parse_capture_line(line, f"{name}:{number}")
            except CaptureError as exc:
                if not skip_invalid:
                    raise
                stats.skip(exc.message)
                continue
            yield item_of(d, f"{name}:{number}")


def item_of(delivery: Delivery, where: str) -> Item:
    """A captured delivery as the rules take it (``where``: its ``FILE:LINE``)."""
    d = delivery
    return Item(where, d.body_bytes(), d.method, d.path, d.headers, d.at, d.provider)


def format_of(source: Source, fmt: str = "auto") -> str:
    """How ``read_inputs`` reads ``source``: ``fmt`` itself, or the format detected."""
    if fmt not in FORMATS:
        raise UsageError(f"--input-format {fmt!r} is not one of {', '.join(FORMATS)}")
    return detect(_Input(source.path, source.name, None)) if fmt == "auto" else fmt


def _being_written(handle: IO[bytes]) -> bool:
    raw = getattr(handle, "raw", None)
    return isinstance(raw, _Held) and raw.grew()


def _body(source: _Input) -> Iterator[Item]:
    with _open(source) as handle:
        data = handle.read()
    try:
        json.loads(data)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source.name}:1: the body is not UTF-8 JSON") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source.name}:{exc.lineno}: malformed JSON body: {exc.msg}") from exc
    yield Item(f"{source.name}:1", data.strip())


def _array(source: _Input, skip_invalid: bool, stats: InputStats) -> Iterator[Item]:
    with _open(source) as raw:
        yield from _ArrayReader(source.name, raw).items(skip_invalid, stats)


class _ArrayReader:
    """Elements of a top-level JSON array, decoded one at a time from a sliding text buffer.

    ``buf[pos:]`` is unread text; ``line`` is the line number of ``buf[0]``. An element cut by a
    chunk boundary is retried with more text (the read size grows with what is pending, so a
    huge element costs linear time, not quadratic).
    """

    def __init__(self, path: str, raw: IO[bytes]) -> None:
        self.path, self.raw = path, raw
        self.decode = codecs.getincrementaldecoder("utf-8")().decode
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        self.decoder = json.JSONDecoder()

    def more(self) -> bool:
        """Drop what was read, append the next chunk; False at end of input."""
        if self.eof:
            return False
        self.line += self.buf.count("\n", 0, self.pos)
        self.buf, self.pos = self.buf[self.pos:], 0
        data = self.raw.read(max(_CHUNK, len(self.buf)))
        try:
            self.buf += self.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise self.fail("not UTF-8 text") from exc
        self.eof = not data
        return True

    def skip_ws(self) -> bool:
        """Advance past whitespace; False at end of input."""
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return True
            if not self.more():
                return False

    def here(self) -> str:
        return f"{self.path}:{self.line + self.buf.count(chr(10), 0, self.pos)}"

    def fail(self, what: str) -> UsageError:
        return UsageError(f"{self.here()}: {what}")

    def element(self) -> tuple[int, int]:
        """Bounds of the next JSON value in ``buf``, reading more text while it is cut off."""
        while True:
            try:
                _value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                cut = exc.pos >= len(self.buf) - 1 or exc.msg.startswith("Unterminated string")
                if cut and self.more():
                    continue
                raise self.fail(f"malformed JSON body: {exc.msg}") from exc
            if end < len(self.buf) or self.eof:  # a number could continue in the next chunk
                return self.pos, end
            self.more()

    def items(self, skip_invalid: bool, stats: InputStats) -> Iterator[Item]:
        if not self.skip_ws() or self.buf[self.pos] != "[":
            raise self.fail("expected a JSON array of bodies")
        self.pos += 1
        first = True
        while True:
            if not self.skip_ws():
                raise self.fail("the array is not closed (truncated file?)")
            if self.buf[self.pos] == "]":
                return
            if not first:
                if self.buf[self.pos] != ",":
                    raise self.fail("expected ',' or ']' between bodies")
                self.pos += 1
                if not self.skip_ws():
                    raise self.fail("the array is not closed (truncated file?)")
            first = False
            try:
                start, end = self.element()
            except UsageError as exc:
                if not skip_invalid:
                    raise
                # After a broken element the array cannot be resynchronised reliably.
                stats.skip(f"{exc.message} (the rest of the array is skipped)")
                return
            where = self.here()
            self.pos = end
            yield Item(where, self.buf[start:end].encode("utf-8"))


def _har(source: _Input, skip_invalid: bool, stats: InputStats) -> Iterator[Item]:
    path = source.name
    with _open(source) as handle:
        try:
            doc: Any = json.load(handle)
        except (ValueError, UnicodeDecodeError) as exc:
            lineno = getattr(exc, "lineno", 1)
            raise UsageError(f"{path}:{lineno}: not a HAR file: malformed JSON") from exc
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"{path}:1: not a HAR file: no log.entries")
    for index, entry in enumerate(entries, start=1):
        where = f"{path}:entry {index}"
        try:
            yield _har_item(entry, where)
        except UsageError as exc:
            if not skip_invalid:
                raise
            stats.skip(exc.message)


def _har_item(entry: Any, where: str) -> Item:
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        raise UsageError(f"{where}: no request.url")
    post = request.get("postData") or {}
    text = post.get("text", "") if isinstance(post, dict) else ""
    if not isinstance(text, str):
        raise UsageError(f"{where}: postData.text is not a string")
    if isinstance(post, dict) and post.get("encoding") == "base64":
        try:
            body = base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise UsageError(f"{where}: postData.text is not base64") from exc
    else:
        body = text.encode("utf-8")
    headers: dict[str, str] = {}
    for pair in request.get("headers") or []:
        if isinstance(pair, dict) and isinstance(pair.get("name"), str):
            name = pair["name"]
            if not name.startswith(":"):  # HTTP/2 pseudo-headers
                headers[name] = str(pair.get("value", ""))
    url = urlsplit(request["url"])
    path = url.path + (f"?{url.query}" if url.query else "")
    at = entry.get("startedDateTime")
    return Item(where, body, str(request.get("method") or "POST"), path, headers,
                at if isinstance(at, str) else None)
