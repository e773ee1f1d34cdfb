"""The Pelion WebSocket channel as a ``tail`` source: create the channel, connect, reconnect.

Connection facts (protocols/pelion.md, section 5): the channel is created with
``PUT /v2/notification/websocket`` (never deleted to reconnect: deleting drops the server's
queue), then ``/v2/notification/websocket-connect`` is opened offering the subprotocols ``wss``
and ``pelion_<key>``. A 10,000-item message can be several MB, so the size limit is raised
(64 MiB; ``NOTIFYCTL_MAX_FRAME`` sets another).

The close-code policy:

- 1006 (also a missed keep-alive pong) and 1012, and any code not listed here: reconnect after
  an exponential, jittered back-off (first retry within 1 s, capped at 30 s, reset after a
  healthy connection);
- 1011 (no channel): PUT the channel again and reconnect; a second 1011 in a row is NotFound;
- 1008: AuthError; 1001 (another socket took the channel) and 1000 (channel deleted): stop,
  NotFound, with a message saying which;
- connection refused, DNS, TLS, handshake timeouts: retry with back-off for up to
  ``retry_for`` seconds of consecutive failure, then NetworkError.

Leaving (``--count``, ``--timeout``, SIGINT/SIGTERM) closes the socket normally (1000), which on
the platform closes the channel too (seed: "Closing the socket from client closes the channel,
too"): nothing is left behind for the next ``register``. A drop (1006) keeps the channel and
its queue.

Keep-alive pings every ``ping_interval`` s with ``ping_timeout`` s to answer notice a dead
connection (sleep, NAT drop) in under 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import ssl
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect  # noqa: TID253 - tail only
from websockets.exceptions import (  # noqa: TID253
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.typing import Subprotocol  # noqa: TID253

from notifyctl import output
from notifyctl.errors import AuthError, InvalidRequest, NetworkError, NotFoundError, UsageError
from notifyctl.events import Event
from notifyctl.http import NetOptions
from notifyctl.providers.pelion import wire
from notifyctl.providers.pelion.api import WEBSOCKET_CONNECT, PelionApi, websocket_url
from notifyctl.providers.streaming import (
    FIRST_CONTACT_ATTEMPTS,
    endpoint,
    naming,
    nothing_answered,
    quiet_logger,
    unreachable,
)
from notifyctl.retry import parse_retry_after
from notifyctl.tail import (
    CONTENT,
    DEVICE,
    KIND,
    TIME,
    StreamStats,
    backoff_delays,
    column,
)

MAX_MESSAGE = 64 * 1024 * 1024  # 10,000 items with large payloads; the 1 MiB default is too small
# Frames buffered ahead of the consumer: at ~1.5 MB a frame, websockets' default of 16 would
# hold ~25 MB while tail catches up; TCP buffers keep the pipe full anyway.
MAX_QUEUE = 1
PING_INTERVAL = 12.0
PING_TIMEOUT = 12.0
HEALTHY_AFTER = 10.0  # seconds connected after which a connection counts as healthy

CLOSE_REASONS = {
    1000: "the server closed the stream (1000): the WebSocket channel was deleted",
    1001: "another connection took this channel over (close 1001)",
    1006: "connection lost (1006)",
    1008: "the server refused the API key (close 1008)",
    1011: "the server has no WebSocket channel for this key (close 1011)",
    1012: "service restart (1012)",
}
MAX_FRAME_ENV = "NOTIFYCTL_MAX_FRAME"
TOO_BIG = -1009  # not a wire code: this client closed with 1009 because a frame was too large


def max_frame(env: Mapping[str, str] = os.environ) -> int:
    """The largest frame accepted, in bytes: ``NOTIFYCTL_MAX_FRAME`` or ``MAX_MESSAGE``."""
    from notifyctl.config import byte_limit

    return byte_limit(MAX_FRAME_ENV, MAX_MESSAGE, env)


def check_paths(patterns: Iterable[str]) -> None:
    """``--path`` globs must be able to match a resource path, and those start with '/'
    (``3303/*`` would match nothing, silently): a UsageError suggests the fix."""
    for pattern in patterns:
        if not pattern.startswith(("/", "*", "?", "[")):
            raise UsageError(f"--path {pattern!r}: Pelion resource paths start with '/'",
                             hint=f"did you mean --path '/{pattern}'?")


class _Retry(Exception):
    """A connection attempt that failed in a way worth retrying."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.wait = wait


class PelionStream:
    """A ``notifyctl.tail.Source`` for one API key's WebSocket channel."""

    provider = wire.PROVIDER
    capture_path = WEBSOCKET_CONNECT
    # Endpoint ids are 32 hex digits; the resource path says what the payload is.
    columns = (TIME, KIND, DEVICE, column("path", width=10, most=16, keep=50), CONTENT)

    def __init__(
        self,
        api_url: str,
        api_key: str,
        net: NetOptions | None = None,
        *,
        retry_for: float = 60.0,
        reconnect_delays: Callable[[], Iterator[float]] = backoff_delays,
        ping_interval: float | None = PING_INTERVAL,
        ping_timeout: float | None = PING_TIMEOUT,
        healthy_after: float = HEALTHY_AFTER,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.net = net or NetOptions()
        # One HTTP attempt per transport failure: the reconnect loop owns retrying (--retry-for).
        self.api = PelionApi(api_url, api_key, dataclasses.replace(self.net, retries=1))
        self.url = websocket_url(api_url)
        self.api_url = api_url
        self._key = api_key
        self.retry_for = retry_for
        self.reconnect_delays = reconnect_delays
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.healthy_after = healthy_after
        self.max_frame = max_frame()
        self.stats = StreamStats()
        self.answered = False  # whether anything has answered in this run
        self._on_state = on_state or (lambda message: output.current().info(message))

    decode = staticmethod(wire.decode)

    @staticmethod
    def encode_jsonl(events: Sequence[Event]) -> bytes:
        return wire.encode_jsonl(events)

    def close(self) -> None:
        self.api.close()

    def _state(self, state: str, detail: str, say: bool = True) -> None:
        self.stats.state, self.stats.detail = state, detail
        if say:
            self._on_state(detail)

    # -- one connection attempt -----------------------------------------------------------
    async def _ensure_channel(self) -> None:
        try:
            created = await asyncio.to_thread(self.api.ensure_websocket_channel)
        except NetworkError as exc:
            raise _Retry(naming(exc.message, endpoint(self.api_url))) from exc
        self.answered = True
        if created:
            self._state(self.stats.state, "created the WebSocket channel")

    async def _connect(self) -> ClientConnection:
        secure = self.url.startswith("wss://")
        options: dict[str, Any] = {}
        if secure:
            options["ssl"] = self.net.ssl_context()
        try:
            return await connect(
                self.url,
                subprotocols=[Subprotocol("wss"), Subprotocol(f"pelion_{self._key}")],
                max_size=self.max_frame,
                max_queue=MAX_QUEUE,
                open_timeout=self.net.timeout,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                close_timeout=2,
                user_agent_header="notifyctl",
                # websockets logs the handshake at DEBUG, the key-bearing subprotocol included.
                logger=quiet_logger("notifyctl.pelion.ws"),
                **options,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise AuthError(f"{self.url}: handshake refused with HTTP {status}",
                                hint="check the API key (notifyctl auth status)") from exc
            if status == 429 or status >= 500:
                wait = parse_retry_after(exc.response.headers.get("Retry-After"),
                                         self.net.max_retry_after)
                raise _Retry(f"handshake answered HTTP {status}", wait) from exc
            if status == 404:
                raise NotFoundError(f"{self.url}: HTTP 404 (no WebSocket endpoint here)") from exc
            raise InvalidRequest(f"{self.url}: handshake refused with HTTP {status}") from exc
        except InvalidURI as exc:
            raise UsageError(f"{self.url}: not a WebSocket URL") from exc
        except ssl.SSLCertVerificationError as exc:
            raise NetworkError(f"{self.url}: TLS certificate not trusted: {exc.verify_message}",
                               hint="pass --ca-bundle FILE for a private CA") from exc
        except (OSError, TimeoutError, InvalidHandshake, EOFError) as exc:
            raise _Retry(f"{endpoint(self.url)}: cannot open {WEBSOCKET_CONNECT}: "
                         f"{exc or type(exc).__name__}") from exc

    def _give_up_if_hopeless(self, exc: _Retry, failures: int, failing: float,
                             wait: float) -> None:
        """NetworkError when retrying is pointless: after ``FIRST_CONTACT_ATTEMPTS`` while
        nothing has ever answered in this run (a wrong --api-url, a service not running), or
        once ``retry_for`` seconds of consecutive failure would be exceeded."""
        self.answered = self.answered or not nothing_answered(exc.__cause__)
        if not self.answered and failures >= FIRST_CONTACT_ATTEMPTS:
            raise unreachable(endpoint(self.api_url), failures, exc.message)
        if failing + wait > self.retry_for:
            raise NetworkError(f"{exc.message}; gave up after {failing:.0f} s",
                               hint="check the URL and network, or raise --retry-for")

    # -- the reconnecting frame stream ----------------------------------------------------
    async def frames(self) -> AsyncGenerator[bytes, None]:
        delays = self.reconnect_delays()
        failing_since: float | None = None
        failures = 0
        need_channel = True
        closes_1011 = 0
        self._state("connecting", f"connecting to {self.url}", say=False)
        while True:
            try:
                if need_channel:
                    await self._ensure_channel()
                    need_channel = False
                ws = await self._connect()
            except _Retry as exc:
                now = time.monotonic()
                failing_since = failing_since or now
                failures += 1
                wait = exc.wait if exc.wait is not None else next(delays)
                self._give_up_if_hopeless(exc, failures, now - failing_since, wait)
                self._state("reconnecting", f"{exc.message}; retrying in {wait:.1f} s "
                            f"(attempt {failures + 1})")
                await asyncio.sleep(wait)
                continue
            failing_since, failures = None, 0
            self.answered = True
            self.stats.connections += 1
            self._state("connected", "connected", say=self.stats.connections == 1)
            opened, got_frame = time.monotonic(), False
            code, reason = 1006, ""
            try:
                recv = ws.recv
                while True:
                    frame = await recv(decode=False)
                    got_frame = True
                    yield frame
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                reason = exc.rcvd.reason if exc.rcvd is not None else ""
                if exc.sent is not None and exc.sent.code == 1009:  # we refused a frame
                    code, reason = TOO_BIG, ""
            finally:
                # Leaving for any reason of our own (--count, --timeout, a signal) is a normal
                # close, 1000, which also closes the channel on the platform (seed), so the next
                # `register` finds none. websockets' own exit would send 1011 on cancellation.
                await _close_normally(ws)
            if got_frame or time.monotonic() - opened >= self.healthy_after:
                delays = self.reconnect_delays()
                closes_1011 = 0
            message = CLOSE_REASONS.get(code, f"closed with code {code}")
            if code == TOO_BIG:
                message = (f"a frame over the {self.max_frame:,}-byte limit was refused (close"
                           f" 1009); its events were not received (raise {MAX_FRAME_ENV})")
            if reason:
                message += f": {output.inert_str(reason[:200])}"
            if code == 1008:
                raise AuthError(message, hint="check the API key (notifyctl auth status)")
            if code in (1000, 1001):
                hint = ("only one client can tail an API key at a time" if code == 1001
                        else "run 'notifyctl tail' again to re-create it")
                raise NotFoundError(message, hint=hint)
            if code == 1011:
                closes_1011 += 1
                if closes_1011 >= 2:
                    raise NotFoundError(f"{message}, again after re-creating it")
                need_channel = True
            wait = next(delays)
            self.stats.reconnects += 1
            self._state("reconnecting", f"{endpoint(self.url)}: {message}; reconnecting in "
                        f"{wait:.1f} s")
            await asyncio.sleep(wait)


async def _close_normally(ws: ClientConnection) -> None:
    """Close with 1000 unless already closed; never raises (the peer may be gone)."""
    with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
        await ws.close(1000)


@asynccontextmanager
async def open_stream(
    api_url: str, api_key: str, net: NetOptions | None = None, **options: Any
) -> AsyncIterator[PelionStream]:
    """The stream for an API key; its HTTP client is closed on exit."""
    stream = PelionStream(api_url, api_key, net, **options)
    try:
        yield stream
    finally:
        stream.close()


@asynccontextmanager
async def open_sandbox_stream(
    rate: float, devices: int, **options: Any
) -> AsyncIterator[PelionStream]:
    """Start an embedded sandbox on 127.0.0.1 in this event loop and tail it."""
    from notifyctl.sandbox import Sandbox

    sandbox = Sandbox(host="127.0.0.1", port=0, rate=rate, devices=devices)
    url = await sandbox.start()
    output.current().info(f"sandbox at {url} ({devices} devices, {rate:g} events/s)")
    try:
        async with open_stream(url, sandbox.api_key, **options) as stream:
            yield stream
    finally:
        await asyncio.wait_for(asyncio.shield(sandbox.stop()), 5)
