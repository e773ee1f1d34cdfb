"""Values inside Pelion items: payload rendering by content type, and timestamps as ISO-8601.

Split from ``wire`` (which owns the message structure); the rules are in ``wire``'s docstring.
``FieldError`` is what these raise for a bad value; ``wire`` adds the array and index.
"""

from __future__ import annotations

import binascii
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from notifyctl.providers.pelion import tlv

Stamp = int | float | str | None  # timestamp and max-age come as numbers or strings


class FieldError(Exception):
    """A field that typed decoding accepted but whose content is wrong; located by the caller."""

    def __init__(self, field: str, what: str) -> None:
        super().__init__(f"{field}: {what}")
        self.field = field
        self.what = what


# ---- payloads ------------------------------------------------------------------------------

TEXT, _TLV, _BINARY = 0, 1, 2
MODES: dict[str | None, int] = {}


def _mode(ct: str | None) -> int:
    """How to render a payload of content type ``ct`` (cached: a stream has few types)."""
    mode = MODES.get(ct)
    if mode is None:
        mode = _classify(ct)
        if len(MODES) > 1024:  # bounded whatever devices send
            MODES.clear()
        MODES[ct] = mode
    return mode


def _classify(ct: str | None) -> int:
    if not ct:
        return _BINARY
    media = ct.split(";", 1)[0].strip().lower()
    if "tlv" in media:
        return _TLV
    if media.startswith("text/") or "json" in media or media.endswith(("/xml", "+xml")):
        return TEXT
    if media == "application/link-format":
        return TEXT
    return _BINARY


def payload(b64: str | None, ct: str | None) -> tuple[Any, str | None]:
    """``(payload, payload_b64)`` for a base64 wire payload, by the rules in ``wire``."""
    if b64 is None:
        return None, None
    try:
        data = binascii.a2b_base64(b64, strict_mode=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        raise FieldError("payload", "not base64") from None
    mode = _mode(ct)
    if mode == TEXT:
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            return None, b64
    if mode == _TLV:
        try:
            return tlv.parse(data), b64
        except tlv.TlvError:
            return None, b64
    return None, b64


# ---- times ---------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_MS = re.compile(r"-?[0-9]{1,20}")  # bounded: int() of a huge digit string is slow


def item_time(stamp: Stamp, received_at: str | None) -> str | None:
    """An item's timestamp as ``2021-02-24T15:29:26.644Z``; ``received_at`` when it has none."""
    if stamp is None:
        return received_at
    if type(stamp) is int:  # the common case: epoch milliseconds
        return _from_ms(stamp)
    if isinstance(stamp, float):
        if not math.isfinite(stamp):
            raise FieldError("timestamp", "not a finite number")
        return _from_ms(int(stamp))
    assert isinstance(stamp, str)
    text = stamp.strip()
    if _EPOCH_MS.fullmatch(text):
        return _from_ms(int(text))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(
            "timestamp", "not a time (expected epoch milliseconds or ISO-8601)"
        ) from None
    if when.tzinfo is None:  # a zone-less time on this wire is UTC
        when = when.replace(tzinfo=UTC)
    try:
        when = when.astimezone(UTC)
    except (OverflowError, ValueError):
        raise FieldError("timestamp", "out of range") from None
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _from_ms(ms: int) -> str:
    try:
        return (SECONDS.get(ms // 1000) or second(ms // 1000)) + MILLIS[ms % 1000]
    except (OverflowError, ValueError):
        raise FieldError("timestamp", "out of range") from None


# Items of one frame share a few seconds: each second is formatted once (a bounded cache), and
# the milliseconds come from a table, which is about 4x faster than formatting every time.
SECONDS: dict[int, str] = {}
MILLIS = tuple(f".{millis:03d}Z" for millis in range(1000))


def second(seconds: int) -> str:
    text = (_EPOCH + timedelta(seconds=seconds)).isoformat()[:19]
    if len(SECONDS) >= 4096:
        SECONDS.clear()
    SECONDS[seconds] = text
    return text
