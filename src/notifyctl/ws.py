"""Shared WebSocket infrastructure for the platforms' live streams: ONE reconnecting loop
(``Reconnecting``) that each platform's stream subclasses with its policy, ONE translation of
websockets and OS failures into notifyctl's errors (``opened``), the endpoint naming of every
network message (``endpoint``: ``scheme://host:port``, never a path or query, which may hold a
key or a one-time URL) and the websockets logger that never writes a credential.

The loop (``Reconnecting.frames``): ``_open()`` a connection (the platform's way: ensure a
channel, fetch a one-time URL, offer a key in a subprotocol ...), yield the data frames of
``_session(ws)`` (subscribe, answer JSON pings ...), ``_leave(ws)`` with a normal close (1000)
however the session ends, then ask ``_closed(code, reason)`` what the close means: an error to
stop with, or a message to reconnect after. A failed attempt raises ``Retry`` (the server's
``Retry-After`` wins over the back-off) or a ``NotifyctlError`` that ends the stream.

The policy, as data on the subclass or instance: ``reconnect_delays`` (``retry.backoff``: the
seed's plain doubling, or jittered), and when to give up: after ``FIRST_CONTACT_ATTEMPTS`` while
nothing has ever answered in this run (a wrong --api-url, a service not running: retrying for
minutes helps nobody), else after ``max_failures`` consecutive failures or ``retry_for`` seconds
of them, whichever is set (a ``retry_for`` given to the constructor replaces the class's count,
unless a count is given with it: ``tail --retry-for`` bounds every stream). ``healthy_after``
restarts the back-off only after a frame or that many seconds connected (a server that accepts
and drops at once keeps backing off); None restarts it as soon as a socket opens.
``StreamStats.max_reconnects`` (tail's ``--max-reconnects``) bounds the reconnects in a row
without a healthy connection (one that gave a frame or stayed up ``healthy_after``, else
``HEALTHY_SECONDS``): past it, NetworkError. The stats also keep the time spent disconnected
once a connection was up.

Why not websockets' own ``async for ws in connect(...)``: docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect  # noqa: TID253 - streams only
from websockets.exceptions import (  # noqa: TID253
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from notifyctl import output
from notifyctl.errors import (
    AuthError,
    InvalidRequest,
    NetworkError,
    NotFoundError,
    NotifyctlError,
    UsageError,
)
from notifyctl.events import StreamStats
from notifyctl.redaction import redact
from notifyctl.retry import backoff, parse_retry_after

FIRST_CONTACT_ATTEMPTS = 3
HEALTHY_SECONDS = 10.0  # up this long without a frame still counts as healthy (max_reconnects)
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
KEY_HINT = "check the API key ('notifyctl auth status')"

Delays = Callable[[], Iterator[float]]


# -- naming and the one error translation --------------------------------------------------
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


def naming(message: str, where: str) -> str:
    """``message`` with the endpoint in front unless it already names it."""
    return message if where in message else f"{where}: {message}"


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


def unreachable(where: str, attempts: int, message: str) -> NetworkError:
    """The error that ends a run in which nothing ever answered at ``where``."""
    return NetworkError(
        f"cannot reach {where}: gave up after {attempts} attempts, nothing answered (last: "
        f"{message.removeprefix(where + ': ')})",
        hint="check --api-url and that the service is running")


class Retry(Exception):
    """A failed attempt worth another; ``wait`` is the server's ``Retry-After``, if any."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.wait = wait


def close_code(exc: ConnectionClosed) -> int | None:
    frame = exc.rcvd or exc.sent
    return frame.code if frame is not None else None


def translate(exc: BaseException, url: str, what: str, max_retry_after: float = 60.0,
              missing_is_final: bool = False) -> NotifyctlError | Retry:
    """A websockets/OS failure opening or using ``what`` at ``url`` as the error that ends the
    stream (credentials refused, a bad URL or certificate, any other 4xx; a 404 too with
    ``missing_is_final``, the platform's choice) or a ``Retry`` (the network, a 429/5xx, a
    dropped connection). Messages name ``scheme://host:port`` and have keys redacted."""
    where = endpoint(url)
    if isinstance(exc, NotifyctlError | Retry):
        return exc
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 403):
            return AuthError(f"{where}: {what}: handshake refused with HTTP {status}",
                             hint=KEY_HINT)
        if status == 429 or status >= 500:
            wait = parse_retry_after(exc.response.headers.get("Retry-After"), max_retry_after)
            return Retry(f"{where}: {what}: handshake answered HTTP {status}", wait)
        if status == 404 and missing_is_final:
            return NotFoundError(f"{where}: {what}: HTTP 404 (no WebSocket endpoint here)")
        if status == 404:
            return Retry(f"{where}: {what}: handshake answered HTTP 404")
        return InvalidRequest(f"{where}: {what}: handshake refused with HTTP {status}")
    if isinstance(exc, ConnectionClosed):
        code = close_code(exc)
        if code == 1008:
            return AuthError(f"{where}: {what}: closed by the server for a policy violation "
                             "(1008)", hint=KEY_HINT)
        return Retry(f"{where}: {what}: connection closed ({code})")
    if isinstance(exc, InvalidURI):
        return UsageError(f"{redact(exc.uri)!r}: not a WebSocket URL")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NetworkError(f"{where}: TLS certificate not trusted: {exc.verify_message}",
                            hint="pass --ca-bundle FILE for a private CA")
    if isinstance(exc, OSError | TimeoutError | InvalidHandshake | EOFError):
        return Retry(f"{where}: cannot open {what}: {redact(str(exc)) or type(exc).__name__}")
    return NetworkError(f"{where}: {what}: {type(exc).__name__}")


def failure(exc: BaseException, url: str, what: str) -> NotifyctlError:
    """``translate`` for a caller that does not retry: a ``Retry`` becomes a NetworkError."""
    error = translate(exc, url, what)
    return NetworkError(error.message) if isinstance(error, Retry) else error


async def opened(url: str, what: str, *, max_retry_after: float = 60.0,
                 missing_is_final: bool = False, **options: Any) -> ClientConnection:
    """``websockets.connect(url, **options)`` with the redacting logger; a failure is raised as
    ``translate`` says (the cause chained, for ``nothing_answered``)."""
    options.setdefault("logger", quiet_logger("notifyctl.ws"))
    options.setdefault("user_agent_header", "notifyctl")
    try:
        return await connect(url, **options)
    except Exception as exc:
        raise translate(exc, url, what, max_retry_after, missing_is_final) from exc


class _Redacting(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def quiet_logger(name: str) -> logging.Logger:
    """A logger for websockets whose records have credentials redacted (it logs handshakes,
    a key-bearing subprotocol or query included, at DEBUG)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, _Redacting) for f in logger.filters):
        logger.addFilter(_Redacting())
    return logger


async def close_normally(ws: ClientConnection) -> None:
    """Close with 1000 unless already closed; never raises (the peer may be gone). websockets'
    own context exit would send 1011 when leaving on an exception or a cancellation. Frames
    still arriving are read and dropped meanwhile: with its receive queue full websockets reads
    no further, so from a busy stream it would never see the peer's close frame and would wait
    out its close_timeout (2 s at every exit of tail --sandbox at a high --rate)."""
    drain = asyncio.get_running_loop().create_task(_discard(ws))
    try:
        with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
            await ws.close(1000)
    finally:
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain


async def _discard(ws: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed, OSError):
        async for _message in ws:
            pass


def _seconds(delay: float) -> str:
    return f"{delay:.1f}".removesuffix(".0")


# -- the one reconnecting loop ---------------------------------------------------------------
class Reconnecting:
    """The reconnecting part of a ``Source``; a platform's stream subclasses it with its hooks
    and policy (see the module docstring)."""

    what = "the stream"  # what is opened, for messages
    jitter = False  # the back-off: the seed's plain doubling, or jittered
    max_failures: int | None = 10
    retry_for: float | None = None
    healthy_after: float | None = None
    say_connecting = True

    def __init__(
        self,
        *,
        reconnect_delays: Delays | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_failures: int | None = None,
        retry_for: float | None = None,
        open_timeout: float = 10.0,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.reconnect_delays: Delays = reconnect_delays or (lambda: backoff(jitter=self.jitter))
        if retry_for is not None:  # a time bound given replaces the class's count of attempts
            self.retry_for = retry_for
            self.max_failures = max_failures
        elif max_failures is not None:
            self.max_failures = max_failures
        self.sleep = sleep
        self.open_timeout = open_timeout
        self.stats = StreamStats()
        self.waits: list[float] = []  # every delay slept, in order
        self.answered = False  # whether anything has answered in this run
        self._unproven = 0  # reconnects since the last healthy connection
        self._on_state = on_state or self._say_state

    def _say_state(self, message: str) -> None:
        output.current().info(message, event="state", state=self.stats.state)

    # -- the platform's hooks ---------------------------------------------------------------
    @property
    def where(self) -> str:
        """``scheme://host:port`` of what is being reached now."""
        raise NotImplementedError

    def connecting(self) -> str:
        return f"connecting to {self.where}"

    def hello(self) -> str | None:
        """What to say once a socket opens (None: nothing)."""
        return "connected"

    async def _open(self) -> ClientConnection:
        raise NotImplementedError

    def _session(self, ws: ClientConnection) -> AsyncIterator[bytes]:
        return _messages(ws)

    async def _leave(self, ws: ClientConnection) -> None:
        await close_normally(ws)

    def _healthy(self) -> None:
        """A connection proved healthy (see ``healthy_after``): the back-off restarts."""

    def _closed(self, code: int | None, reason: str, sent: int | None) -> NotifyctlError | str:
        """What a close means: an error to stop with, or the message to reconnect after.
        ``code`` is the server's (None: no close frame), ``sent`` the code this client sent."""
        if code == 1008:
            return AuthError(f"{self.what}: closed by the server for a policy violation (1008)",
                             hint=KEY_HINT)
        return "closed by the server" if code is None else f"connection closed ({code})"

    # -- the loop ------------------------------------------------------------------------
    def _state(self, state: str, detail: str, say: bool = True) -> None:
        self.stats.state, self.stats.detail = state, detail
        if say:
            self._on_state(detail)

    async def frames(self) -> AsyncGenerator[bytes, None]:
        delays = self.reconnect_delays()
        failures, failing_since = 0, 0.0
        self._state("connecting", self.connecting(), say=self.say_connecting)
        while True:
            try:
                ws = await self._open()
            except Retry as exc:
                failures += 1
                failing_since = failing_since or time.monotonic()
                self.answered = self.answered or not nothing_answered(exc.__cause__)
                wait = exc.wait if exc.wait is not None else next(delays)
                self._give_up(exc.message, failures, failing_since, wait)
                await self._wait(wait, f"{naming(exc.message, self.where)}; retrying in "
                                 f"{_seconds(wait)} s (attempt {failures + 1})")
                continue
            self.answered = True
            self.stats.connections += 1
            self.stats.came_up()
            failures, failing_since = 0, 0.0
            hello = self.hello()
            self._state("connected", hello or "connected", say=hello is not None)
            opened_at, got_frame = time.monotonic(), False
            code: int | None = None
            reason, sent = "", None
            try:
                async for frame in self._session(ws):
                    got_frame = True
                    yield frame
                # The server closed normally (1000/1001 end websockets' iteration quietly).
                code, reason = ws.close_code, ws.close_reason or ""
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                reason = exc.rcvd.reason if exc.rcvd is not None else ""
                sent = exc.sent.code if exc.sent is not None else None
            except (OSError, TimeoutError):
                code = 1006
            finally:
                # Leaving for any reason of our own (--count, --timeout, a signal) is a normal
                # close, 1000: on Pelion it also closes the channel (docs/platforms/pelion.md),
                # nothing left behind.
                await self._leave(ws)
            self.stats.went_down()
            up = time.monotonic() - opened_at
            if got_frame or up >= (self.healthy_after or HEALTHY_SECONDS):
                self._unproven = 0
            if self.healthy_after is None or got_frame or up >= self.healthy_after:
                delays = self.reconnect_delays()
                self._healthy()
            meaning = self._closed(code, reason, sent)
            if isinstance(meaning, NotifyctlError):
                raise meaning
            failures += 1  # the clock of retry_for starts at the first failed attempt
            wait = next(delays)
            message = naming(meaning, self.where)
            self._give_up(message, failures, failing_since, wait)
            await self._wait(wait, f"{message}; reconnecting in {_seconds(wait)} s")

    def _give_up(self, message: str, failures: int, failing_since: float, wait: float) -> None:
        """NetworkError when retrying is pointless (see the module docstring)."""
        message = naming(message, self.where)
        failing = time.monotonic() - failing_since if failing_since else 0.0
        if not self.answered and failures >= min(FIRST_CONTACT_ATTEMPTS,
                                                 self.max_failures or FIRST_CONTACT_ATTEMPTS):
            raise unreachable(self.where, failures, message)
        limit = self.stats.max_reconnects
        if limit is not None and self._unproven >= limit:
            raise NetworkError(
                f"{message}; gave up after {limit} reconnects in a row without a healthy "
                f"connection (--max-reconnects {limit})",
                hint="a supervisor restarting notifyctl takes over from here")
        if self.max_failures is not None and failures >= self.max_failures:
            raise NetworkError(f"{message} (gave up after {failures} attempts)")
        if self.retry_for is not None and failing_since and failing + wait > self.retry_for:
            raise NetworkError(f"{message}; gave up after {failing:.0f} s",
                               hint="check the URL and network, or raise --retry-for")

    async def _wait(self, delay: float, message: str) -> None:
        self._unproven += 1
        self.waits.append(delay)
        self.stats.reconnects += 1
        self._state("reconnecting", message)
        await self.sleep(delay)


async def _messages(ws: ClientConnection) -> AsyncIterator[bytes]:
    async for message in ws:
        yield message.encode("utf-8") if isinstance(message, str) else message
