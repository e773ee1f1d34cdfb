"""The Iottly WebSocket stream (seed 002): telemetry subscriptions for ``tail`` and remote
commands for ``iottly exec``, over ``wss://.../v1/stream?api_key=KEY``.

``IottlyStream`` is a ``notifyctl.tail.Source``: ``frames()`` subscribes to every (device,
streams) pair on each connection and yields the raw telemetry frames (malformed ones too, for
``tail`` to report). It answers JSON pings (WebSocket pings are answered by websockets itself).
When the server closes (1001 on restart) or the connection drops, it reconnects after
``reconnect_delays`` (default ``doubling``: 1 s doubling to 30 s, restarted once a socket
opens) and subscribes again. Leaving the iteration (``aclose``, cancellation) unsubscribes and
closes normally. Handshake 401/403 or close 1008 end it with ``AuthError``; ``max_failures``
consecutive failed attempts with ``NetworkError``. The URL carries the key: it appears in
messages only through ``redact``.

``run_command`` sends one command and yields its ``command-output`` events, then the
``command-done`` one. A command is never re-sent: a drop before ``command_done`` is an error.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Unpack

from websockets.asyncio.client import ClientConnection, connect  # noqa: TID253
from websockets.exceptions import ConnectionClosed, InvalidHandshake  # noqa: TID253

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
from notifyctl.providers.streaming import (
    Delays,
    Reconnecting,
    ReconnectingStream,
    doubling,
    drop_error,
    endpoint,
    quiet_logger,
    translate,
)
from notifyctl.redaction import redact
from notifyctl.tail import DEVICE, KIND, TIME, column

Subscription = tuple[str, Sequence[str]]  # (device id, stream names; empty = all)
_LOGGER = "notifyctl.iottly.ws"
DATA_TYPES = frozenset({"telemetry", "command_output", "command_done"})


def _connect(url: str, open_timeout: float) -> Any:
    # Server pings every 30 s (10 s pong deadline) and websockets answers them; no client pings.
    return connect(url, open_timeout=open_timeout, ping_interval=None,
                   logger=quiet_logger(_LOGGER))


def _request_error(message: wire.Message, what: str) -> Exception:
    text = f"{what}: {wire.error_text(message)}"
    code = message.payload.get("code")
    if code in (404, "not_found"):
        return NotFoundError(text)
    if code in (401, 403, "unauthorized", "forbidden"):
        return AuthError(text)
    return InvalidRequest(text)


class IottlyStream(ReconnectingStream):
    """A ``notifyctl.tail.Source``: telemetry of the subscribed device streams."""

    provider = wire.PROVIDER
    capture_path = wire.STREAM_PATH
    # A value means nothing without its stream; there are no resource paths.
    columns = (TIME, KIND, DEVICE, column("stream", fit=True, keep=70),
               column("value", "content", width=8, keep=80))

    def __init__(
        self,
        url: str,
        subscriptions: Sequence[Subscription],
        **reconnecting: Unpack[Reconnecting],
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

    async def frames(self) -> AsyncGenerator[bytes, None]:
        self._reset()
        self._state("connecting", f"connecting to {redact(self.url)}")
        while True:
            try:
                async with _connect(self.url, self.open_timeout) as ws:
                    self._connected("connected; subscribing")
                    try:
                        async for frame in self._session(ws):
                            yield frame
                    finally:
                        await self._unsubscribe(ws)
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
                last = drop_error(exc, "iottly stream")
                cause: BaseException | None = exc
            else:
                last, cause = NetworkError("iottly stream: closed by the server"), None
            await self._back_off(last, "reconnecting", endpoint(self.url), cause)

    async def _session(self, ws: ClientConnection) -> AsyncIterator[bytes]:
        self.subscription_ids = []
        pending: dict[str, str] = {}
        for device, streams in self.subscriptions:
            request_id = f"sub-{next(self._ids)}"
            pending[request_id] = device
            await ws.send(wire.subscribe(device, streams, request_id))
        async for data in ws:
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
                await ws.send(wire.pong(message.request_id))
            elif message.type == "error" and message.request_id in pending:
                device = pending[message.request_id or ""]
                raise _request_error(message, f"subscribe to {device}")
            elif message.type in DATA_TYPES:
                yield raw

    async def _unsubscribe(self, ws: ClientConnection) -> None:
        """Unsubscribe and close normally; best effort, the socket may already be gone."""
        try:
            async with asyncio.timeout(1.0):
                for sub in self.subscription_ids:
                    await ws.send(wire.unsubscribe(sub))
            await ws.close()  # 1000: leaving is normal, not the 1011 of an exception exit
        except (ConnectionClosed, OSError, TimeoutError):
            pass
        self.subscription_ids = []


async def run_command(
    url: str,
    device: str,
    command: str,
    *,
    reconnect_delays: Delays = doubling,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_failures: int = 3,
    open_timeout: float = 10.0,
    request_id: str = "cmd-1",
) -> AsyncIterator[Event]:
    """Run ``command`` on ``device``: yields command-output events, then command-done."""
    delays = reconnect_delays()
    failures = 0
    while True:  # only connecting is retried: the command is sent once
        try:
            ws = await _connect(url, open_timeout)
            break
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            error = translate(exc, "iottly exec")
            failures += 1
            if isinstance(error, AuthError) or failures >= max_failures:
                raise error from None
            await sleep(next(delays))
    async with ws:
        try:
            await ws.send(wire.command(device, command, request_id))
            async for data in ws:
                message = wire.decode_message(data)
                if message.type == "ping":
                    await ws.send(wire.pong(message.request_id))
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
            drop_error(exc, "iottly exec")
            raise NetworkError(f"iottly exec: the connection closed before the command finished "
                               f"({exc.rcvd.code if exc.rcvd else 'no close frame'})",
                               hint="the command may still be running on the device") from None
        raise NetworkError("iottly exec: the connection closed before command_done",
                           hint="the command may still be running on the device")
