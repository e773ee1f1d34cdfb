"""One connected Pelion WebSocket in the sandbox: pushing a channel's queue as text frames,
server pings, and the ways it ends (a close code, a takeover, a dropped TCP connection, a
stalled peer, or the client's own close: a normal 1000 from the client removes the channel).

Frames are pushed with no application-level ack (docs/platforms/pelion.md): a frame counts
as delivered once the write succeeded. A batch whose write failed goes back to the front of the
queue so the next connection receives it; closing from the server side always waits for the
frame being written to finish, so a close code never cuts a frame in half.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import aiohttp  # noqa: TID253 - runs only inside `notifyctl sandbox`
from aiohttp import web  # noqa: TID253

from notifyctl.providers.pelion.emulator_delivery import build_message

if TYPE_CHECKING:
    from notifyctl.contract.emulate import SandboxContext
    from notifyctl.providers.pelion.emulator import KeyState

PING_PAYLOAD = b"sbx!"  # the service pings with four bytes (docs/platforms/pelion.md)
PONG_TIMEOUT = 10.0
PUMP_STOP_TIMEOUT = 5.0
_SEND_ERRORS = (ConnectionError, RuntimeError, aiohttp.ClientError, OSError)


def key_from_upgrade(request: web.Request) -> str | None:
    """The API key of an upgrade request: ``Authorization: Bearer`` wins, else the
    ``pelion_<key>`` subprotocol (offered next to ``wss``)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    for header in request.headers.getall("Sec-WebSocket-Protocol", []):
        for offered in header.split(","):
            proto = offered.strip()
            if proto.startswith("pelion_") and len(proto) > len("pelion_"):
                return proto[len("pelion_"):]
    return None


class ChannelSocket:
    """A WebSocket bound to one key's channel while it is that key's current connection."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, context: SandboxContext
    ) -> None:
        self.ws = ws
        self.request = request
        self.context = context
        self.ping_interval = context.config.ping_interval
        self.stalled = False
        self.retiring = False
        # The close code the client sent first (None: the server closed, or no close frame).
        self.client_close: int | None = None
        self._state: KeyState | None = None
        self._pump: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_pong = 0.0

    async def serve(self, state: KeyState) -> None:
        """Push the queue and answer the peer until the connection ends."""
        self._state = state
        loop = asyncio.get_running_loop()
        self._last_pong = loop.time()
        self._pump = asyncio.create_task(self._push(state))
        pinger = asyncio.create_task(self._ping())
        try:
            while True:
                msg = await self.ws.receive()
                if msg.type is aiohttp.WSMsgType.PING:
                    if not self.stalled:
                        await self.ws.pong(msg.data)
                elif msg.type is aiohttp.WSMsgType.PONG:
                    self._last_pong = loop.time()
                elif msg.type is aiohttp.WSMsgType.CLOSE:
                    if not self.retiring:
                        self.client_close = int(msg.data)
                    break
                elif msg.type in (
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    break
        except _SEND_ERRORS:
            pass  # the peer vanished mid-conversation: nothing to answer any more
        finally:
            pinger.cancel()
            if self.retiring:
                # retire() is closing with its code from another task: let it finish.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), PUMP_STOP_TIMEOUT * 2)
            self.retiring = True
            state.queue.wake()
            await self._stop_pump()

    @property
    def closed_normally_by_client(self) -> bool:
        """The client ended with 1000: on the platform that closes the channel too
        (docs/platforms/pelion.md:
        "Closing the socket from client closes the channel, too")."""
        return self.client_close == 1000

    async def retire(self, code: int, reason: str) -> None:
        """Close with ``code`` once the frame being written (if any) is complete."""
        if self.retiring:
            return
        self.retiring = True
        try:
            if self._state is not None:
                self._state.queue.wake()
            await self._stop_pump()
            with contextlib.suppress(*_SEND_ERRORS):
                await self.ws.close(code=code, message=reason.encode()[:120])
        finally:
            self._closed.set()

    def drop(self) -> None:
        """Abort the TCP connection without a close frame (the client sees 1006)."""
        self.retiring = True
        self._closed.set()
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    def stall(self) -> None:
        """Go silent: no more frames, no pings, no pongs (a dead NAT mapping, a frozen node)."""
        self.stalled = True
        if self._state is not None:
            self._state.queue.wake()

    async def _stop_pump(self) -> None:
        if self._pump is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._pump), PUMP_STOP_TIMEOUT)
        except TimeoutError:
            # The peer stopped reading and the write buffer is full: give up on it.
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    async def _push(self, state: KeyState) -> None:
        queue = state.queue
        while not (self.retiring or self.stalled or self.ws.closed):
            if not queue:
                await queue.wait()
                continue
            batch = queue.take(state.serialization.max_chunk_size)
            body = build_message(batch, state.serialization)
            try:
                await self.ws.send_frame(body, aiohttp.WSMsgType.TEXT)
            except _SEND_ERRORS:
                queue.push_front(batch)
                return
            state.frames += 1
            state.delivered += len(batch)

    async def _ping(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.ping_interval)
            if self.stalled or self.retiring:
                return
            sent = loop.time()
            try:
                await self.ws.ping(PING_PAYLOAD)
            except _SEND_ERRORS:
                return
            await asyncio.sleep(min(PONG_TIMEOUT, self.ping_interval))
            if self._last_pong < sent and not (self.stalled or self.retiring):
                # As the service does: an unanswered ping ends the connection with 1001.
                self.context.spawn(self._tasks, self.retire(1001, "ping timeout"))
                return
