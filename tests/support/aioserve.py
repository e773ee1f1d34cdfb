"""Test helper: an aiohttp app on 127.0.0.1 port 0, either in the test's own event loop
(``async with serve(setup) as url``) or in a background thread for in-process CLI runs
(``with ServeThread(setup) as server: server.url; server.call(coro_fn)``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
Setup = Callable[[web.Application], None]


@asynccontextmanager
async def serve(setup: Setup) -> AsyncIterator[str]:
    app = web.Application()
    setup(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class ServeThread:
    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.url = ""
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            async with serve(self.setup) as url:
                self.url = url
                self._ready.set()
                await self._stop.wait()

        self.loop.run_until_complete(main())

    def call(self, job: Callable[[], Awaitable[T]], timeout: float = 10) -> T:
        async def run() -> T:
            return await job()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def __enter__(self) -> ServeThread:
        self._thread.start()
        assert self._ready.wait(10), "server did not start"
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
