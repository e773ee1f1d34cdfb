"""The ThingSpace emulator on a real aiohttp server (127.0.0.1, port 0) and client helpers,
shared by the ThingSpace test files."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from aiohttp import web

from notifyctl.providers.thingspace import api, emulator, soap

ACCOUNT = "0000123456-00001"
CB = soap.contract_ns(soap.CALLBACK_SERVICE)
SESSION = soap.contract_ns(soap.SESSION_SERVICE)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def new_state(clock: Clock | None = None) -> emulator.ThingSpaceState:
    return emulator.ThingSpaceState(users={"alice": "s3cret"}, oauth_clients={"cid": "csecret"},
                                    clock=clock or Clock())


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def platform(state: emulator.ThingSpaceState,
                   seen: list[tuple[str, dict[str, str], bytes]] | None = None
                   ) -> AsyncIterator[str]:
    """The emulator under /ts; ``seen`` collects (path, headers, body) of every request."""

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        if seen is not None:
            seen.append((request.path, dict(request.headers), await request.read()))
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[record])
    emulator.add_routes(app, state, prefix="/ts")
    async with serve(app) as url:
        yield url + "/ts"


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), 20))


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=5, trust_env=False)


def soap_api(base: str, password: str = "s3cret", http: httpx.AsyncClient | None = None
             ) -> api.SoapApi:
    return api.SoapApi(base + "/api/v2", ACCOUNT, "alice", password, client=http or client())


def rest_api(base: str, password: str = "s3cret", clock: Clock | None = None,
             client_secret: str = "csecret") -> api.RestApi:
    return api.RestApi(base + "/api", ACCOUNT, "alice", password, client_id="cid",
                       client_secret=client_secret, client=client(),
                       clock=clock or time.monotonic)
