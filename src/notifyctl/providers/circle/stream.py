"""Circle client notifications as a live stream (a ``notifyctl.tail.Source``).

Each connection starts by asking the main API for a one-time URL (``CircleClient.
client_notification_url``); the socket is opened WITHOUT the API headers, and the URL is never
used twice: after any drop (close, error, refused handshake) the stream asks again, after the
seed-style back-off (``doubling``), restarted once a socket has opened. The client pings
every ``ping_interval`` seconds (default 10 minutes, well within the hour Circle requires).
The URL is a capability and is never logged. Credentials refused by the main API end the
stream (``AuthError``);
``max_failures`` consecutive failed attempts end it with ``NetworkError``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import Unpack

from websockets.asyncio.client import connect  # noqa: TID253 - only tail imports streams
from websockets.exceptions import ConnectionClosed, InvalidHandshake  # noqa: TID253

from notifyctl.errors import AuthError, NetworkError, NotifyctlError
from notifyctl.events import Event
from notifyctl.providers.circle import wire
from notifyctl.providers.circle.api import CLIENT_NOTIFICATIONS_PATH, CircleClient
from notifyctl.providers.streaming import (
    Reconnecting,
    ReconnectingStream,
    drop_error,
    endpoint,
    quiet_logger,
)
from notifyctl.tail import KIND, TIME, column

PING_INTERVAL = 600.0


class CircleStream(ReconnectingStream):
    """A ``notifyctl.tail.Source`` over Circle client notifications."""

    provider = wire.PROVIDER
    capture_path = CLIENT_NOTIFICATIONS_PATH
    # No resource paths; accessory ids are UUIDs, event types up to 26 characters.
    columns = (TIME, KIND, column("accessory", "device", width=12, most=36, keep=60),
               column("eventData", "content", width=8, keep=80))

    def __init__(
        self,
        client: CircleClient,
        *,
        api_url: str = "",
        accessories: Iterable[str] | None = None,
        event_types: Iterable[str] | None = None,
        ping_interval: float = PING_INTERVAL,
        ping_timeout: float = 30.0,
        **reconnecting: Unpack[Reconnecting],
    ) -> None:
        super().__init__(**reconnecting)
        self.client = client
        self.api_endpoint = endpoint(api_url) if api_url else "the Circle API"
        self.accessories = list(accessories or [])
        self.event_types = list(event_types or [])
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout

    def decode(self, body: bytes, *, received_at: str | None = None) -> list[Event]:
        return wire.decode(body)

    async def frames(self) -> AsyncGenerator[bytes, None]:
        self._reset()
        while True:
            self._state("connecting", "asking Circle for a client-notification URL")
            where = self.api_endpoint
            cause: BaseException | None = None
            try:
                url = await self.client.client_notification_url(self.accessories,
                                                                self.event_types)
                where = endpoint(url)  # the socket's host (the one-time URL stays unshown)
                async with connect(
                    url,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_timeout,
                    open_timeout=self.open_timeout,
                    logger=quiet_logger("notifyctl.circle.ws"),
                ) as ws:
                    self._connected("connected to Circle client notifications")
                    async for message in ws:
                        yield message.encode("utf-8") if isinstance(message, str) else message
                    # A clean close from the server: ask for a new URL like any drop.
            except AuthError:
                raise
            except NetworkError as exc:
                last: NotifyctlError = exc
                cause = exc
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
                last = drop_error(exc, "circle client notifications")
                cause = exc
            else:
                last = NetworkError("circle client notifications: closed by the server")
            await self._back_off(last, "asking again", where, cause)
