"""``tail`` sources for Logitech Circle (client notifications) and Iottly (the stream API): what
``cli/tail.py`` opens once the resolved provider is one of them. Sigfox has no live stream.

Iottly's API key travels in the stream URL's query string: the URL is built here and handed to
``IottlyStream``, which shows it only through ``providers.streaming.redact``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from notifyctl.providers.iottly.kinds import KINDS

if TYPE_CHECKING:
    from notifyctl.config import Connection
    from notifyctl.http import NetOptions
    from notifyctl.tail import Source

STREAMING = ("circle", "iottly")
IOTTLY_KINDS = KINDS


def opener(conn: Connection, net: NetOptions, *, devices: Sequence[str],
           streams: Sequence[str], kinds: Sequence[str], on_state: Callable[[str], None] | None
           ) -> Callable[[], AbstractAsyncContextManager[Source]]:
    """A factory of the live source, checked now (bad options exit 2 before connecting)."""
    from notifyctl import secrets
    from notifyctl.errors import UsageError

    options: dict[str, Any] = {"on_state": on_state} if on_state is not None else {}
    if conn.provider not in STREAMING:
        raise UsageError(f"{conn.provider} has no live stream to tail",
                         hint="receive its callbacks with 'notifyctl listen --provider "
                         f"{conn.provider}'")
    if any(set(device) & set("*?[") for device in devices):
        raise UsageError(f"{conn.provider} --device takes ids, not globs (the platform is asked "
                         "for exactly those)")
    if conn.provider == "circle":
        if streams:
            raise UsageError("--stream is an iottly option")
        from notifyctl.providers.circle import manage as circle

        circle_source = circle.stream(conn, net, event_types=kinds, accessories=devices,
                                      **options)

        @contextlib.asynccontextmanager
        async def open_circle() -> AsyncIterator[Source]:
            try:
                yield circle_source
            finally:
                await circle_source.client.aclose()

        return open_circle
    from notifyctl.providers.iottly.stream import IottlyStream
    from notifyctl.providers.iottly.wire import stream_url

    if not devices:
        raise UsageError("iottly tail needs --device ID (repeatable) to subscribe to",
                         hint="add --stream NAME to narrow each device to some streams")
    for kind in kinds:
        if kind not in IOTTLY_KINDS:
            raise UsageError(f"--kind {kind!r} is not an iottly event kind",
                             hint=f"kinds: {', '.join(IOTTLY_KINDS)}")
    override = conn.settings.get("stream_url")
    url = stream_url(conn.api_url, secrets.require(conn.profile, "api_key"),
                     str(override) if override else None)
    iottly_source = IottlyStream(url, [(device, list(streams)) for device in devices], **options)

    @contextlib.asynccontextmanager
    async def open_iottly() -> AsyncIterator[Source]:
        yield iottly_source

    return open_iottly
