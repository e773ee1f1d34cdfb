"""Acme's live stream: ``GET /stream`` upgraded to a WebSocket, key in ``X-Acme-Key``; every
text frame is a JSON reading or array of readings. The stream ends when the server closes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from notifyctl.contract.stream import Opener, Source, StreamContext, StreamStats
from notifyctl.errors import NetworkError
from notifyctl.events import Event
from notifyctl_acme import wire


class AcmeStream:
    provider = "acme"
    capture_path = "/stream"

    def __init__(self, url: str, key: str) -> None:
        self.url, self._key = url, key
        self.stats = StreamStats()

    def decode(self, body: bytes, *, received_at: str | None = None) -> list[Event]:
        return wire.decode(body, received_at=received_at)

    def encode_jsonl(self, events: Sequence[Event]) -> bytes:
        return wire.encode_jsonl(events)

    async def frames(self) -> AsyncGenerator[bytes, None]:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        try:
            async with connect(self.url, additional_headers={"X-Acme-Key": self._key}) as ws:
                self.stats.state, self.stats.connections = "connected", 1
                async for message in ws:
                    yield message.encode() if isinstance(message, str) else message
        except (OSError, WebSocketException) as exc:
            raise NetworkError(f"acme stream {self.url}: {exc}") from exc


def opener(context: StreamContext) -> Opener:
    url = context.connection.api_url.replace("http", "ws", 1) + "/stream"
    key = context.secret("api_key")

    @contextlib.asynccontextmanager
    async def open_stream() -> AsyncIterator[Source]:
        yield AcmeStream(url, key)

    return open_stream
