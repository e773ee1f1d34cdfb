"""The Iottly WebSocket stream (docs/platforms/iottly.md): telemetry subscriptions for ``tail`` and
remote
commands for ``iottly exec``, over ``wss://.../v1/stream?api_key=KEY``.

``IottlyStream`` is a ``notifyctl.tail.Source``: ``frames()`` subscribes to every (device,
streams) pair on each connection and yields the raw telemetry frames (malformed ones too, for
``tail`` to report). It answers JSON pings (WebSocket pings are answered by websockets itself).
When the server closes (1001 on restart) or the connection drops, it reconnects after
``reconnect_delays`` (default plain doubling: 1 s doubling to 30 s, restarted once a socket
opens) and subscribes again: the loop is ``notifyctl.ws.Reconnecting``'s, this is its policy.
``opener`` is the ``stream`` capability. Leaving the iteration (``aclose``, cancellation)
unsubscribes and closes normally. Handshake 401/403 or close 1008 end it with ``AuthError``;
``--retry-for`` seconds of consecutive failure (``StreamContext.retry_for``) with
``NetworkError``. The URL carries the key: it appears in messages only through ``redact``.

``run_command`` sends one command and yields its ``command-output`` events, then the
``command-done`` one. A command is never re-sent: a drop before ``command_done`` is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection  # noqa: TID253
from websockets.exceptions import ConnectionClosed  # noqa: TID253

from notifyctl import ws
from notifyctl.errors import (
    AuthError,
    InvalidRequest,
    NetworkError,
    NotFoundError,
    UsageError,
    WireError,
)
from notifyctl.events import Event
from notifyctl.providers.iottly import wire
from notifyctl.redaction import redact
from notifyctl.retry import backoff

if TYPE_CHECKING:
    from notifyctl.contract.stream import Opener, Source, StreamContext

Subscription = tuple[str, Sequence[str]]  # (device id, stream names; empty = all)
_LOGGER = "notifyctl.iottly.ws"
DATA_TYPES = frozenset({"telemetry", "command_output", "command_done"})


async def _connect(url: str, what: str, open_timeout: float) -> ClientConnection:
    # Server pings every 30 s (10 s pong deadline) and websockets answers them; no client pings.
    return await ws.opened(url, what, open_timeout=open_timeout, ping_interval=None,
                           logger=ws.quiet_logger(_LOGGER))


def _request_error(message: wire.Message, what: str) -> Exception:
    text = f"{what}: {wire.error_text(message)}"
    code = message.payload.get("code")
    if code in (404, "not_found"):
        return NotFoundError(text)
    if code in (401, 403, "unauthorized", "forbidden"):
        return AuthError(text)
    return InvalidRequest(text)


class IottlyStream(ws.Reconnecting):
    """A ``Source``: telemetry of the subscribed device streams."""

    provider = wire.PROVIDER
    capture_path = wire.STREAM_PATH
    what = "the iottly stream"

    def __init__(
        self,
        url: str,
        subscriptions: Sequence[Subscription],
        **reconnecting: Any,
    ) -> None:
        if not subscriptions:
            raise UsageError("iottly tail needs at least one --device")
        super().__init__(**reconnecting)
        self.url = url
        self.subscriptions = [(device, list(streams)) for device, streams in subscriptions]
        self.subscription_ids: list[str] = []
        self._ids = itertools.count(1)

    def decode(self, body: bytes, *, received_at: str | None = None) -> list[Event]:
        return wire.decode(body)

    @property
    def where(self) -> str:
        return ws.endpoint(self.url)

    def connecting(self) -> str:
        return f"connecting to {redact(self.url)}"

    def hello(self) -> str | None:
        return "connected; subscribing"

    async def _open(self) -> ClientConnection:
        return await _connect(self.url, self.what, self.open_timeout)

    async def _session(self, conn: ClientConnection) -> AsyncIterator[bytes]:
        self.subscription_ids = []
        pending: dict[str, str] = {}
        for device, streams in self.subscriptions:
            request_id = f"sub-{next(self._ids)}"
            pending[request_id] = device
            await conn.send(wire.subscribe(device, streams, request_id))
        async for data in conn:
            raw = data.encode("utf-8") if isinstance(data, str) else data
            try:
                message = wire.decode_message(raw)
            except WireError:
                yield raw  # tail reports it with the capture line
                continue
            if message.type == "subscribed":
                sub = message.payload.get("subscription_id")
                if isinstance(sub, str):
                    self.subscription_ids.append(sub)
                if pending.pop(message.request_id or "", None) is not None and not pending:
                    self._state("connected", f"subscribed to {len(self.subscription_ids)} "
                                "device stream set(s)")
            elif message.type == "ping":
                await conn.send(wire.pong(message.request_id))
            elif message.type == "error" and message.request_id in pending:
                device = pending[message.request_id or ""]
                raise _request_error(message, f"subscribe to {device}")
            elif message.type in DATA_TYPES:
                yield raw

    async def _leave(self, conn: ClientConnection) -> None:
        """Unsubscribe and close normally; best effort, the socket may already be gone."""
        with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                for sub in self.subscription_ids:
                    await conn.send(wire.unsubscribe(sub))
        self.subscription_ids = []
        await ws.close_normally(conn)


def opener(context: StreamContext) -> Opener:
    """The ``stream`` capability: options checked now (exit 2 before connecting)."""
    if not context.devices:
        raise UsageError("iottly tail needs --device ID (repeatable) to subscribe to",
                         hint="add --stream NAME to narrow each device to some streams")
    if any(set(device) & set("*?[") for device in context.devices):
        raise UsageError("iottly --device takes ids, not globs (the platform is asked for "
                         "exactly those)")
    streams = list(context.options.get("stream") or [])
    override = context.connection.settings.get("stream_url")
    url = wire.stream_url(context.connection.api_url, context.secret("api_key"),
                          str(override) if override else None)
    subscriptions = [(device, streams) for device in context.devices]

    @contextlib.asynccontextmanager
    async def open_stream() -> AsyncIterator[Source]:
        # A stream that was up rides out --retry-for seconds of failure, as every tail does.
        yield IottlyStream(url, subscriptions, on_state=context.on_state,
                           retry_for=context.retry_for)

    return open_stream


async def run_command(
    url: str,
    device: str,
    command: str,
    *,
    reconnect_delays: ws.Delays = backoff,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_failures: int = 3,
    open_timeout: float = 10.0,
    request_id: str = "cmd-1",
) -> AsyncIterator[Event]:
    """Run ``command`` on ``device``: yields command-output events, then command-done."""
    delays = reconnect_delays()
    failures = 0
    what = "iottly exec"
    while True:  # only connecting is retried: the command is sent once
        try:
            conn = await _connect(url, what, open_timeout)
            break
        except ws.Retry as exc:
            failures += 1
            if failures >= max_failures:
                raise NetworkError(exc.message) from None
            await sleep(next(delays))
    async with conn:
        try:
            await conn.send(wire.command(device, command, request_id))
            async for data in conn:
                message = wire.decode_message(data)
                if message.type == "ping":
                    await conn.send(wire.pong(message.request_id))
                    continue
                if message.request_id != request_id:
                    continue
                if message.type == "error":
                    raise _request_error(message, f"command on {device}")
                for event in wire.events(message):
                    yield event
                    if event.kind == "command-done":
                        return
        except ConnectionClosed as exc:
            error = ws.failure(exc, url, what)
            if isinstance(error, AuthError):
                raise error from None
            raise NetworkError(f"iottly exec: the connection closed before the command finished "
                               f"({exc.rcvd.code if exc.rcvd else 'no close frame'})",
                               hint="the command may still be running on the device") from None
        raise NetworkError("iottly exec: the connection closed before command_done",
                           hint="the command may still be running on the device")
