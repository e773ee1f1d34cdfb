"""What the Sigfox/Circle/Iottly WebSocket streams share: the seed's reconnect delays, JSON
Lines encoding of events, a websockets logger that never writes a credential, ``redact`` for
URLs carrying a key, and the translation of websockets failures into notifyctl's errors.

The streams are ``notifyctl.tail.Source``s: ``frames()`` yields the raw bytes of each data frame
(control frames such as acks and pings are handled inside), ``decode`` is the provider's pure
decoder, and ``tail`` captures, decodes, filters and reports malformed frames.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence

import msgspec  # noqa: TID253 - imported only by stream modules
from websockets.exceptions import (  # noqa: TID253 - imported only by stream modules
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from notifyctl.errors import AuthError, NetworkError, NotifyctlError
from notifyctl.events import SECRET_HEADERS, Event

_QUERY_SECRET = re.compile(r"((?:api_key|apikey|token|access_token|key)=)[^&\s\"']+",
                           re.IGNORECASE)


# websockets' debug log shows the handshake's headers one per line ("> Authorization: ...") and
# Pelion's key travels in the subprotocol list ("wss, pelion_ak_...").
_HEADER_SECRET = re.compile(
    r"^([<>] (?:" + "|".join(sorted(SECRET_HEADERS)) + r"):[ \t]*).+$",
    re.IGNORECASE | re.MULTILINE)
_SUBPROTOCOL_SECRET = re.compile(r"\b(pelion_)[^\s,\"']+")


def redact(text: str) -> str:
    """``...?api_key=SECRET&x=1`` -> ``...?api_key=***&x=1`` (any credential-named query value),
    and likewise secret header lines and the Pelion key subprotocol of a logged handshake."""
    text = _QUERY_SECRET.sub(r"\1***", text)
    text = _HEADER_SECRET.sub(r"\1***", text)
    return _SUBPROTOCOL_SECRET.sub(r"\1***", text)


def doubling(base: float = 1.0, cap: float = 30.0) -> Iterator[float]:
    """The seed's reconnect delays, exactly: ``base`` doubling up to ``cap`` (1, 2, 4 ... 30)."""
    delay = base
    while True:
        yield delay
        delay = min(cap, delay * 2)


Delays = Callable[[], Iterator[float]]


def encode_jsonl(events: Sequence[Event]) -> bytes:
    """Events as JSON Lines for ``tail``/``listen`` (one ``\\n``-terminated object each)."""
    return _encoder.encode_lines(events)


_encoder = msgspec.json.Encoder()


class _Redacting(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def quiet_logger(name: str) -> logging.Logger:
    """A logger for websockets whose records have credentials redacted."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, _Redacting) for f in logger.filters):
        logger.addFilter(_Redacting())
    return logger


def close_code(exc: ConnectionClosed) -> int | None:
    frame = exc.rcvd or exc.sent
    return frame.code if frame is not None else None


def translate(exc: BaseException, what: str) -> NotifyctlError:
    """A websockets/OS failure as notifyctl's error; messages are redacted."""
    if isinstance(exc, NotifyctlError):
        return exc
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 403):
            return AuthError(f"{what}: the server refused the connection: HTTP {status}",
                             hint="check the API key ('notifyctl auth status')")
        return NetworkError(f"{what}: the server refused the connection: HTTP {status}")
    if isinstance(exc, ConnectionClosed):
        code = close_code(exc)
        if code == 1008:
            return AuthError(f"{what}: closed by the server for a policy violation (1008)")
        return NetworkError(f"{what}: connection closed ({code})")
    if isinstance(exc, InvalidURI):
        return NetworkError(f"{what}: invalid stream URL {redact(exc.uri)!r}")
    if isinstance(exc, (InvalidHandshake, OSError, TimeoutError)):
        return NetworkError(f"{what}: {type(exc).__name__}: {redact(str(exc))}")
    return NetworkError(f"{what}: {type(exc).__name__}")


def retryable(exc: BaseException) -> bool:
    """Whether a reconnect may help (not for refused credentials)."""
    return not isinstance(translate(exc, ""), AuthError)
