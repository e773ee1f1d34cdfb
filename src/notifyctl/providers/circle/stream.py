"""Circle client notifications as a live stream (the ``stream`` capability: ``opener``).

Each connection starts by asking the main API for a one-time URL (``CircleClient.
client_notification_url``); the socket is opened WITHOUT the API headers, and the URL is never
used twice: after any drop (close, error, refused handshake) the stream asks again, after the
seed-style back-off (plain doubling), restarted once a socket has opened. The client pings
every ``ping_interval`` seconds (default 10 minutes, well within the hour Circle requires).
The URL is a capability and is never logged: messages name only its ``scheme://host:port``.
Credentials refused by the main API end the stream (``AuthError``); ``--retry-for`` seconds of
consecutive failure (``StreamContext.retry_for``) end it with ``NetworkError``. The loop is
``notifyctl.ws``'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection  # noqa: TID253 - only tail imports streams

from notifyctl import ws
from notifyctl.errors import NetworkError, UsageError
from notifyctl.events import Event
from notifyctl.providers.circle import wire
from notifyctl.providers.circle.api import (
    CLIENT_NOTIFICATIONS_PATH,
    CircleClient,
    ServerNotificationsRoute,
)

if TYPE_CHECKING:
    from notifyctl.contract.stream import Opener, Source, StreamContext

PING_INTERVAL = 600.0


class CircleStream(ws.Reconnecting):
    """A ``Source`` over Circle client notifications."""

    provider = wire.PROVIDER
    capture_path = CLIENT_NOTIFICATIONS_PATH
    what = "client notifications"

    def __init__(
        self,
        client: CircleClient,
        *,
        api_url: str = "",
        accessories: Iterable[str] | None = None,
        event_types: Iterable[str] | None = None,
        ping_interval: float = PING_INTERVAL,
        ping_timeout: float = 30.0,
        **reconnecting: Any,
    ) -> None:
        super().__init__(**reconnecting)
        self.client = client
        self.api_endpoint = ws.endpoint(api_url) if api_url else "the Circle API"
        self._where = self.api_endpoint
        self.accessories = list(accessories or [])
        self.event_types = list(event_types or [])
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout

    def decode(self, body: bytes, *, received_at: str | None = None) -> list[Event]:
        return wire.decode(body)

    @property
    def where(self) -> str:
        return self._where

    def connecting(self) -> str:
        return "asking Circle for a client-notification URL"

    def hello(self) -> str | None:
        return "connected to Circle client notifications"

    async def _open(self) -> ClientConnection:
        self._where = self.api_endpoint
        try:
            url = await self.client.client_notification_url(self.accessories, self.event_types)
        except NetworkError as exc:  # refused credentials (AuthError) end the stream
            raise ws.Retry(exc.message) from exc
        self._where = ws.endpoint(url)  # the socket's host (the one-time URL stays unshown)
        return await ws.opened(url, self.what, ping_interval=self.ping_interval,
                               ping_timeout=self.ping_timeout, open_timeout=self.open_timeout,
                               logger=ws.quiet_logger("notifyctl.circle.ws"))


def opener(context: StreamContext) -> Opener:
    """The ``stream`` capability: options checked now (exit 2 before connecting)."""
    if any(set(device) & set("*?[") for device in context.devices):
        raise UsageError("circle --device takes ids, not globs (the platform is asked for "
                         "exactly those)")
    conn = context.connection
    # One retry per HTTP request: the stream's reconnect loop owns retrying (and gives up
    # fast when nothing answers at all).
    net = dataclasses.replace(context.net, retries=1)
    key, token = context.secret("api_key"), context.secret("access_token")
    route = ServerNotificationsRoute.from_settings(conn.settings)

    @contextlib.asynccontextmanager
    async def open_stream() -> AsyncIterator[Source]:
        async with CircleClient(conn.api_url, key, token, route=route, net=net) as client:
            # A stream that was up rides out --retry-for seconds of failure, as every tail does.
            yield CircleStream(client, api_url=conn.api_url, event_types=context.kinds,
                               accessories=context.devices, on_state=context.on_state,
                               retry_for=context.retry_for)

    return open_stream
