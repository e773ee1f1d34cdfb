"""What the Sigfox/Circle/Iottly WebSocket streams share: the seed's reconnect delays, JSON
Lines encoding of events, a websockets logger that never writes a credential, ``redact`` for
URLs carrying a key, and the translation of websockets failures into notifyctl's errors.

The streams are ``notifyctl.tail.Source``s: ``frames()`` yields the raw bytes of each data frame
(control frames such as acks and pings are handled inside), ``decode`` is the provider's pure
decoder, and ``tail`` captures, decodes, filters and reports malformed frames. Circle's and
Iottly's share ``ReconnectingStream``: the status line and the failure/back-off bookkeeping
between connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TypedDict

import msgspec  # noqa: TID253 - imported only by stream modules
from websockets.exceptions import (  # noqa: TID253 - imported only by stream modules
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from notifyctl import output
from notifyctl.errors import AuthError, NetworkError, NotifyctlError
from notifyctl.events import Event
from notifyctl.redaction import redact
from notifyctl.tail import StreamStats


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


def drop_error(exc: BaseException, what: str) -> NotifyctlError:
    """A dropped or refused connection as notifyctl's error, to reconnect after; refused
    credentials are raised instead (a reconnect cannot help)."""
    error = translate(exc, what)
    if isinstance(error, AuthError):
        raise error from None
    return error


def retryable(exc: BaseException) -> bool:
    """Whether a reconnect may help (not for refused credentials)."""
    return not isinstance(translate(exc, ""), AuthError)


class Reconnecting(TypedDict, total=False):
    """The keyword arguments of ``ReconnectingStream`` (the subclasses pass them on)."""

    reconnect_delays: Delays
    sleep: Callable[[float], Awaitable[None]]
    max_failures: int
    open_timeout: float
    on_state: Callable[[str], None] | None


class ReconnectingStream:
    """The part of a reconnecting ``Source`` that is the same for Circle and Iottly: ``stats``
    and the status line, and what happens between connections. ``frames()`` calls
    ``_reset()`` first, ``_connected()`` once a socket opens and ``await _back_off(error, ...)``
    after each drop."""

    def __init__(
        self,
        *,
        reconnect_delays: Delays = doubling,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_failures: int = 10,
        open_timeout: float = 10.0,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.reconnect_delays = reconnect_delays
        self.sleep = sleep
        self.max_failures = max_failures
        self.open_timeout = open_timeout
        self.stats = StreamStats()
        self.waits: list[float] = []  # every reconnect delay slept, in order
        self._on_state = on_state or (lambda message: output.current().info(message))
        self._failures = 0
        self._delays: Iterator[float] = iter(())

    @staticmethod
    def encode_jsonl(events: Sequence[Event]) -> bytes:
        return encode_jsonl(events)

    def _state(self, state: str, detail: str) -> None:
        self.stats.state, self.stats.detail = state, detail
        self._on_state(detail)

    def _reset(self) -> None:
        """The failure count and the back-off start again."""
        self._failures = 0
        self._delays = self.reconnect_delays()

    def _connected(self, detail: str) -> None:
        self.stats.connections += 1
        self._reset()
        self._state("connected", detail)

    async def _back_off(self, last: NotifyctlError, again: str) -> None:
        """After a drop: give up after ``max_failures`` in a row, else wait the next delay
        (``again`` says what follows, e.g. "reconnecting")."""
        self._failures += 1
        if self._failures >= self.max_failures:
            raise NetworkError(f"{last.message} (gave up after {self._failures} attempts)")
        delay = next(self._delays)
        self.waits.append(delay)
        self.stats.reconnects += 1
        self._state("reconnecting", f"{last.message}; {again} in {delay:g} s")
        await self.sleep(delay)
