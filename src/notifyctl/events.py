"""The data every engine shares: ``Event`` (one decoded item), ``Delivery`` (one captured request
or frame), ``StreamStats`` (a live stream's connection facts), the JSON-lines encoder, and the
capture file (JSON Lines of deliveries) with its reader and writer.

A capture keeps each body byte for byte (signatures depend on it): ``body`` when it is UTF-8,
``body_b64`` otherwise. Secret headers are kept with masked values. The writer appends and
flushes one line per delivery, so a capture is complete up to the last delivery written even
when the process is killed.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import msgspec  # noqa: TID253 - events are only used by commands that run, never by --help

from notifyctl.errors import UsageError
from notifyctl.redaction import mask_headers, mask_query

CAPTURE_VERSION = 1
# A line holds one frame or request body: tail accepts frames up to 64 MiB, which JSON escaping
# or base64 can grow by a third.
MAX_CAPTURE_LINE = 128 * 1024 * 1024
MAX_LINE_ENV = "NOTIFYCTL_MAX_CAPTURE_LINE"
class Event(msgspec.Struct, omit_defaults=True):
    """One decoded item, as printed by ``tail``/``listen -o jsonl`` (fields: docs/architecture.md,
    "Event lines")."""

    provider: str
    kind: str
    device: str | None = None
    time: str | None = None
    id: str | None = None
    path: str | None = None
    payload: Any = None
    payload_b64: str | None = None
    content_type: str | None = None
    status: int | None = None
    stream: str | None = None
    value: Any = None
    fd: str | None = None
    chunk: str | None = None
    exit_code: int | None = None
    raw: Any = None


class Delivery(msgspec.Struct, omit_defaults=True):
    """One captured request (callback) or frame (websocket): a capture file line."""

    v: int
    provider: str
    source: str  # "websocket" | "callback"
    at: str
    method: str | None = None
    path: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: str | None = None
    body_b64: str | None = None

    @classmethod
    def capture(
        cls,
        provider: str,
        source: str,
        body: bytes,
        *,
        method: str | None = None,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
        at: str | None = None,
    ) -> Delivery:
        """Build a delivery from raw bytes, masking secret headers."""
        text: str | None
        try:
            text = body.decode("utf-8")
            encoded = None
        except UnicodeDecodeError:
            text, encoded = None, base64.b64encode(body).decode("ascii")
        return cls(
            v=CAPTURE_VERSION,
            provider=provider,
            source=source,
            at=at or now_iso(),
            method=method,
            path=mask_query(path) if path else path,
            headers=mask_headers(headers or {}),
            body=text,
            body_b64=encoded,
        )

    def body_bytes(self) -> bytes:
        if self.body is not None:
            return self.body.encode("utf-8")
        if self.body_b64 is not None:
            return base64.b64decode(self.body_b64)
        return b""


@dataclass
class StreamStats:
    """Live connection facts a stream keeps up to date for ``tail``'s status line."""

    state: str = "starting"  # connecting | connected | reconnecting | stopped
    detail: str = ""
    reconnects: int = 0
    connections: int = 0
    # Seconds disconnected after a connection was first up (ended spells), and since when
    # (``time.monotonic()``) it has been down now; the accounting reads both.
    disconnected: float = 0.0
    down_since: float | None = None
    # tail's --max-reconnects: reconnects in a row without a healthy connection before the
    # loop (``ws.Reconnecting``) gives up; None: no such bound.
    max_reconnects: int | None = None

    def went_down(self) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()

    def came_up(self) -> None:
        if self.down_since is not None:
            self.disconnected += time.monotonic() - self.down_since
            self.down_since = None

    def disconnected_seconds(self) -> float:
        """Time spent disconnected so far, the current spell included."""
        now = self.down_since
        return self.disconnected + (0.0 if now is None else time.monotonic() - now)


def encode_jsonl(events: Sequence[Event]) -> bytes:
    """Events as JSON Lines (one ``\\n``-terminated object each): ``tail``'s and ``listen``'s
    output, encoded in one call per batch."""
    return _encoder.encode_lines(events)


_encoder = msgspec.json.Encoder()


def now_iso() -> str:
    """UTC now as ``2026-11-23T09:00:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CaptureWriter:
    """Appends deliveries to a capture file (created 0600), one flushed line each."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file: IO[bytes] = os.fdopen(fd, "ab", buffering=0)
        self._encode = msgspec.json.Encoder().encode
        self.count = 0

    def write(self, delivery: Delivery) -> None:
        self._file.write(self._encode(delivery) + b"\n")
        self.count += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CaptureError(UsageError):
    """A capture line that is not a delivery; the message is ``FILE:LINE: what is wrong``."""


_delivery_decoder = msgspec.json.Decoder(Delivery)


def parse_capture_line(line: bytes, where: str) -> Delivery:
    try:
        delivery = _delivery_decoder.decode(line)
    except msgspec.ValidationError as exc:
        raise CaptureError(f"{where}: not a capture line: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise CaptureError(f"{where}: malformed JSON: {exc}") from exc
    if delivery.v != CAPTURE_VERSION:
        raise CaptureError(f"{where}: capture version {delivery.v} is not supported")
    if delivery.body is not None and delivery.body_b64 is not None:
        raise CaptureError(f"{where}: has both body and body_b64")
    if delivery.body_b64 is not None:
        try:
            base64.b64decode(delivery.body_b64, validate=True)
        except ValueError as exc:
            raise CaptureError(f"{where}: body_b64 is not base64") from exc
    return delivery


def max_capture_line(env: Mapping[str, str] = os.environ) -> int:
    """The longest capture line read, in bytes: ``NOTIFYCTL_MAX_CAPTURE_LINE`` or the default."""
    from notifyctl.limits import byte_limit

    return byte_limit(MAX_LINE_ENV, MAX_CAPTURE_LINE, env)


def capture_lines(handle: IO[bytes], name: str, limit: int | None = None
                  ) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of a capture file, refusing a line longer than ``limit`` bytes
    (newline excluded) before reading more of it: a hostile or corrupt file cannot make the
    reader hold an unbounded line in memory."""
    limit = max_capture_line() if limit is None else limit
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            raise CaptureError(
                f"{name}:{number}: line longer than {limit:,} bytes",
                hint=f"set {MAX_LINE_ENV} to a larger number of bytes if the file is trusted")
        yield number, line


def read_capture(path: str | os.PathLike[str]) -> Iterator[tuple[int, Delivery]]:
    """Stream ``(line number, delivery)`` pairs; blank lines are skipped."""
    name = os.fspath(path)
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise UsageError(f"{name}: cannot open capture: {exc.strerror}") from exc
    with handle:
        for number, line in capture_lines(handle, name):
            if line.strip():
                yield number, parse_capture_line(line, f"{name}:{number}")
