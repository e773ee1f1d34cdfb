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
from urllib.parse import urlsplit

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

# Before anything has answered in this run (a wrong --api-url, a service that is not running),
# retrying for minutes helps nobody: give up after this many attempts and name the endpoint.
# Once something has answered, the long reconnect policy applies (drops are worth riding out).
FIRST_CONTACT_ATTEMPTS = 3
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def endpoint(url: str) -> str:
    """``scheme://host:port`` of ``url``, the port made explicit; never a path or query (a
    one-time URL or a key must not reach a message)."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return "(an invalid URL)"
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}" if port else f"{parts.scheme}://{host}"


def nothing_answered(exc: BaseException | None) -> bool:
    """Whether a failed attempt never reached a server: connection refused, DNS, a timeout
    (an OS or timeout error anywhere in its chain). An HTTP status or a close frame is an
    answer."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError | TimeoutError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def naming(message: str, where: str) -> str:
    """``message`` with the endpoint in front unless it already names it."""
    return message if where in message else f"{where}: {message}"


def unreachable(where: str, attempts: int, message: str) -> NetworkError:
    """The error that ends a run in which nothing ever answered at ``where``."""
    return NetworkError(
        f"cannot reach {where}: gave up after {attempts} attempts, nothing answered (last: "
        f"{message.removeprefix(where + ': ')})",
        hint="check --api-url and that the service is running")


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
        self.answered = False  # whether anything has answered in this run (see _back_off)

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
        self.answered = True
        self._reset()
        self._state("connected", detail)

    async def _back_off(self, last: NotifyctlError, again: str, where: str,
                        cause: BaseException | None = None) -> None:
        """After a drop or a failed attempt at ``where`` (``scheme://host:port``): give up after
        ``max_failures`` in a row, or after ``FIRST_CONTACT_ATTEMPTS`` while nothing has
        answered in this run; else say so and wait the next delay (``again`` says what
        follows, e.g. "reconnecting")."""
        self._failures += 1
        message = naming(last.message, where)
        self.answered = self.answered or not nothing_answered(cause)
        if not self.answered and self._failures >= min(FIRST_CONTACT_ATTEMPTS,
                                                       self.max_failures):
            raise unreachable(where, self._failures, message)
        if self._failures >= self.max_failures:
            raise NetworkError(f"{message} (gave up after {self._failures} attempts)")
        delay = next(self._delays)
        self.waits.append(delay)
        self.stats.reconnects += 1
        self._state("reconnecting", f"{message}; {again} in {delay:g} s "
                    f"(attempt {self._failures + 1})")
        await self.sleep(delay)
