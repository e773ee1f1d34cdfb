"""Reading a receiver's answer when the rules need it (Sigfox BIDIR downlinks): the bytes
without their ``Content-Encoding``.

Requests whose answers are read ask for ``ACCEPT_ENCODING`` only, the codings decoded here; an
answer that still cannot be read (another coding, a corrupt or oversized stream) is reported by
the engine as a failed delivery, never dropped in silence.
"""

from __future__ import annotations

import zlib

ACCEPT_ENCODING = "gzip, deflate"
MAX_DECODED = 1 << 20  # bytes: an answer the rules read is small (a downlink is 8 bytes)
_GZIP = 16 + zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


def decoded(body: bytes, content_encoding: str | None) -> bytes:
    """``body`` with every coding of ``content_encoding`` undone (the last applied first).
    ValueError says what cannot be read."""
    if not body:
        return body  # nothing was coded (an empty 2xx labelled gzip is still "no downlink")
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, _GZIP, coding)
        elif coding == "deflate":
            # RFC 9110 deflate is zlib-wrapped; some servers send it raw.
            try:
                body = _inflate(body, zlib.MAX_WBITS, coding)
            except ValueError:
                body = _inflate(body, _RAW_DEFLATE, coding)
        else:
            raise ValueError(f"Content-Encoding {coding!r} is not one replay reads "
                             f"(it asked for {ACCEPT_ENCODING})")
    return body


def _inflate(body: bytes, wbits: int, coding: str) -> bytes:
    stream = zlib.decompressobj(wbits)
    try:
        out = stream.decompress(body, MAX_DECODED)
    except zlib.error as exc:
        raise ValueError(f"Content-Encoding {coding}: corrupt data ({exc})") from exc
    if stream.unconsumed_tail:
        raise ValueError(f"Content-Encoding {coding}: more than {MAX_DECODED:,} bytes decoded")
    if not stream.eof:
        raise ValueError(f"Content-Encoding {coding}: the data is truncated")
    return out
