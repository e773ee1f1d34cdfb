"""The Pelion WebSocket channel as a ``tail`` source (the ``stream`` capability: ``opener``):
create the channel, connect, and Pelion's policy for ``notifyctl.ws.Reconnecting``'s loop.

Connection facts (docs/platforms/pelion.md): the channel is created with
``PUT /v2/notification/websocket`` (asking for ``include_uid``, so every event has an id;
never deleted to reconnect: deleting drops the server's queue), then
``/v2/notification/websocket-connect`` is opened offering the subprotocols ``wss`` and
``pelion_<key>``. A 10,000-item message can be several MB, so the size limit is raised
(64 MiB; ``NOTIFYCTL_MAX_FRAME`` sets another).

The close-code policy:

- 1006 (also a missed keep-alive pong) and 1012, and any code not listed here: reconnect after
  an exponential, jittered back-off (first retry within 1 s, capped at 30 s, reset after a
  healthy connection);
- 1011 (no channel): PUT the channel again and reconnect; a second 1011 in a row is NotFound;
- 1008: AuthError; 1001 (another socket took the channel) and 1000 (channel deleted): stop,
  NotFound, with a message saying which;
- connection refused, DNS, TLS, handshake timeouts: retry with back-off for up to
  ``retry_for`` seconds of consecutive failure, then NetworkError (after 3 attempts when nothing
  has ever answered in this run).

Leaving (``--count``, ``--timeout``, SIGINT/SIGTERM) closes the socket normally (1000), which on
the platform closes the channel too (docs/platforms/pelion.md: "Closing the socket from client
closes the channel,
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
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from websockets.asyncio.client import ClientConnection  # noqa: TID253 - tail only
from websockets.typing import Subprotocol  # noqa: TID253

from notifyctl import output, ws
from notifyctl.errors import AuthError, NetworkError, NotFoundError, NotifyctlError, UsageError
from notifyctl.http import NetOptions
from notifyctl.providers.pelion import wire
from notifyctl.providers.pelion.api import (
    WEBSOCKET_CONNECT,
    PelionApi,
    Serialization,
    websocket_url,
)

if TYPE_CHECKING:
    from notifyctl.contract.stream import Opener, Source, StreamContext

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


def max_frame(env: Mapping[str, str] = os.environ) -> int:
    """The largest frame accepted, in bytes: ``NOTIFYCTL_MAX_FRAME`` or ``MAX_MESSAGE``."""
    from notifyctl.limits import byte_limit

    return byte_limit(MAX_FRAME_ENV, MAX_MESSAGE, env)


def check_paths(patterns: Iterable[str]) -> None:
    """``--path`` globs must be able to match a resource path, and those start with '/'
    (``3303/*`` would match nothing, silently): a UsageError suggests the fix."""
    for pattern in patterns:
        if not pattern.startswith(("/", "*", "?", "[")):
            raise UsageError(f"--path {pattern!r}: Pelion resource paths start with '/'",
                             hint=f"did you mean --path '/{pattern}'?")


class PelionStream(ws.Reconnecting):
    """A ``Source`` for one API key's WebSocket channel."""

    provider = wire.PROVIDER
    capture_path = WEBSOCKET_CONNECT
    what = WEBSOCKET_CONNECT
    jitter = True  # many clients of one platform must not reconnect in lockstep
    max_failures = None  # time bounds it instead: retry_for
    healthy_after = HEALTHY_AFTER
    say_connecting = False

    def __init__(
        self,
        api_url: str,
        api_key: str,
        net: NetOptions | None = None,
        *,
        retry_for: float = 60.0,
        reconnect_delays: ws.Delays | None = None,
        ping_interval: float | None = PING_INTERVAL,
        ping_timeout: float | None = PING_TIMEOUT,
        healthy_after: float = HEALTHY_AFTER,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(reconnect_delays=reconnect_delays, retry_for=retry_for,
                         on_state=on_state)
        self.net = net or NetOptions()
        # One HTTP attempt per transport failure: the reconnect loop owns retrying (--retry-for).
        self.api = PelionApi(api_url, api_key, dataclasses.replace(self.net, retries=1))
        self.url = websocket_url(api_url)
        self.api_url = api_url
        self._key = api_key
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.healthy_after = healthy_after
        self.max_frame = max_frame()
        self._need_channel = True
        self._closes_1011 = 0
        self._where = ws.endpoint(self.url)  # the API's while ensuring the channel

    decode = staticmethod(wire.decode)

    def close(self) -> None:
        self.api.close()

    @property
    def where(self) -> str:
        return self._where

    def connecting(self) -> str:
        return f"connecting to {self.url}"

    def hello(self) -> str | None:
        return "connected" if self.stats.connections == 1 else None

    async def _open(self) -> ClientConnection:
        if self._need_channel:
            self._where = ws.endpoint(self.api_url)
            try:
                # include_uid: every event line gets the platform's own id, so duplicates are
                # recognised and a --sink de-duplicates by it (as register --include-uid does).
                created = await asyncio.to_thread(self.api.ensure_websocket_channel,
                                                  Serialization(include_uid=True))
            except NetworkError as exc:
                raise ws.Retry(exc.message) from exc
            self._need_channel = False
            self.answered = True
            if created:
                self._state(self.stats.state, "created the WebSocket channel")
        self._where = ws.endpoint(self.url)
        options = {"ssl": self.net.ssl_context()} if self.url.startswith("wss://") else {}
        return await ws.opened(
            self.url, WEBSOCKET_CONNECT, max_retry_after=self.net.max_retry_after,
            missing_is_final=True,  # no WebSocket endpoint at this --api-url
            subprotocols=[Subprotocol("wss"), Subprotocol(f"pelion_{self._key}")],
            max_size=self.max_frame, max_queue=MAX_QUEUE, open_timeout=self.net.timeout,
            ping_interval=self.ping_interval, ping_timeout=self.ping_timeout, close_timeout=2,
            logger=ws.quiet_logger("notifyctl.pelion.ws"), **options)

    async def _session(self, conn: ClientConnection) -> AsyncIterator[bytes]:
        recv = conn.recv  # raises ConnectionClosed with the code, whatever it is
        while True:
            yield await recv(decode=False)

    def _healthy(self) -> None:
        self._closes_1011 = 0

    def _closed(self, code: int | None, reason: str, sent: int | None) -> NotifyctlError | str:
        if sent == 1009:  # this client refused a frame
            return (f"a frame over the {self.max_frame:,}-byte limit was refused (close 1009);"
                    f" its events were not received (raise {MAX_FRAME_ENV})")
        code = 1006 if code is None else code
        message = CLOSE_REASONS.get(code, f"closed with code {code}")
        if reason:
            message += f": {output.inert_str(reason[:200])}"
        if code == 1008:
            return AuthError(message, hint=ws.KEY_HINT)
        if code in (1000, 1001):
            hint = ("only one client can tail an API key at a time" if code == 1001
                    else "run 'notifyctl tail' again to re-create it")
            return NotFoundError(message, hint=hint)
        if code == 1011:
            self._closes_1011 += 1
            if self._closes_1011 >= 2:
                return NotFoundError(f"{message}, again after re-creating it")
            self._need_channel = True
        return message


def opener(context: StreamContext) -> Opener:
    """The ``stream`` capability: options checked now (exit 2 before connecting)."""
    check_paths(context.options.get("path") or ())
    key = context.secret("api_key")
    net = context.net

    @contextlib.asynccontextmanager
    async def open_stream() -> AsyncIterator[Source]:
        stream = PelionStream(context.connection.api_url, key, net,
                              retry_for=context.retry_for, on_state=context.on_state)
        try:
            yield stream
        finally:
            stream.close()

    return open_stream
