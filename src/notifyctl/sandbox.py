"""The sandbox: one aiohttp app on one port that composes the emulator of every platform that
declares one (``registry.names("emulator")``), runs the synthetic event generator, and serves
the control and fault endpoints.

A platform adds itself by declaring ``emulator="module:factory"``: the factory takes the
``EmulatorContext`` below (the contract's ``SandboxContext``: settings, a task spawner, and
delivery through the replay engine's ``Deliverer`` on the one HTTP session the sandbox owns)
and returns an ``Emulator`` (its routes, its state, how it takes injected events and socket
faults). Control endpoints, shared by all:

- ``POST /_sandbox/{provider}/events``: inject a body in the provider's own delivery format;
  ``Authorization: Bearer KEY`` targets one key, without it every channel gets the events.
- ``POST /_sandbox/faults``: ``{"action": "http_status", "path": "/v2/...", "status": 429,
  "retry_after": 1, "times": 2, "method": "PUT"}`` answers matching requests with that status
  (``times`` -1 = until cleared, ``path`` may be a glob; a ``body`` starting with ``{``/``[`` is
  served as JSON, any other as text); ``{"action": "clear"}`` removes them.
  Any other action (``close`` with ``code``, ``drop``, ``stall``) goes to the provider named by
  ``"provider"`` (or every provider), optionally narrowed by ``"api_key"``.
- ``POST /_sandbox/generator``: ``{"rate": R}`` changes the synthetic event rate: a ceiling.
  The generator works in slices and lets each emulator take only what its live readers have
  room for (``Emulator.generate``), so at a rate the machine or the reader cannot reach the
  sandbox delivers as fast as they go, in full frames, and never stalls its own sockets.
- ``GET /_sandbox/state``: ``{"sandbox": {...}, "<provider>": {...}}``; ``sandbox`` has the
  ``rate`` asked for and the ``achieved_rate`` (events per second over the last 2 s).
"""

from __future__ import annotations

import asyncio
import fnmatch
import secrets
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp  # noqa: TID253 - runs only inside `notifyctl sandbox` and tests
from aiohttp import web  # noqa: TID253

from notifyctl import registry, servers, signals
from notifyctl.contract.deliver import DeliveryLog, Rules, Sender
from notifyctl.contract.emulate import Emulator, SandboxConfig, SandboxContext
from notifyctl.errors import UsageError
from notifyctl.replay.engine import Deliverer
from notifyctl.replay.report import Report

GENERATOR_TICK = 0.05  # seconds between generator bursts at high rates
GENERATOR_SLICE = 2_000  # events per emulator call: a few ms of the loop at most
GENERATOR_CATCH_UP = 0.1  # seconds' worth of events a late tick may make up (two ticks)
RATE_WINDOW = 2.0  # seconds the achieved rate is averaged over
# Connections the emulators' deliveries share: ThingSpace alone runs 64 at once, and a wait for
# a pooled connection would eat into a delivery's own timeout.
DELIVERY_CONNECTIONS = 256
T = TypeVar("T")

if TYPE_CHECKING:
    from notifyctl.metrics import Family, Metrics


class EmulatorContext:
    """What the sandbox hands every emulator (``contract.emulate.SandboxContext``).

    Deliveries go through the replay engine's ``Deliverer`` (attempts, back-off, timeouts and
    redirects as the platform's rules say) on one HTTP session for all emulators, opened on
    first use in the running loop and closed by ``close``. It sends straight to the URL (a
    callback goes exactly where it was registered, whatever HTTPS_PROXY says) and keeps no
    cookies (every delivery stands alone, as the platform's would).
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    def spawn(self, tasks: set[asyncio.Task[T]], job: Coroutine[Any, Any, T]) -> None:
        """Run ``job`` in the background, held in ``tasks`` until it ends: the event loop keeps
        only weak references, so an unheld task could vanish mid-send."""
        task = asyncio.get_running_loop().create_task(job)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def log(self, what: str) -> DeliveryLog:
        return Report("sandbox", what)

    def sender(self, rules: Rules, log: DeliveryLog) -> Sender:
        if not isinstance(log, Report):
            raise TypeError("a sandbox delivery log comes from EmulatorContext.log")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=DELIVERY_CONNECTIONS),
                cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)
        return Deliverer(self._session, rules, log, proxies=False)

    async def close(self) -> None:
        """Close the delivery session (after the emulators stopped sending)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass
class HttpFault:
    path: str
    status: int
    times: int = 1
    method: str | None = None
    retry_after: float | None = None
    body: str | None = None

    def matches(self, request: web.Request) -> bool:
        if self.method is not None and request.method != self.method.upper():
            return False
        return request.path == self.path or fnmatch.fnmatchcase(request.path, self.path)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> HttpFault:
        path, status, times = raw.get("path"), raw.get("status"), raw.get("times", 1)
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError("http_status fault: 'path' must be a path such as /v2/...")
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError("http_status fault: 'status' must be an HTTP status code")
        if not isinstance(times, int) or times == 0 or times < -1:
            raise ValueError("http_status fault: 'times' must be a positive count or -1")
        retry_after = raw.get("retry_after")
        if retry_after is not None and not isinstance(retry_after, int | float):
            raise ValueError("http_status fault: 'retry_after' must be a number of seconds")
        method, body = raw.get("method"), raw.get("body")
        return cls(
            path,
            status,
            times,
            method if isinstance(method, str) else None,
            retry_after,
            body if isinstance(body, str) else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "times": self.times,
                "method": self.method, "retry_after": self.retry_after}


def _load(name: str, context: SandboxContext) -> Emulator:
    factory: Callable[[SandboxContext], Emulator] = registry.get(name).load("emulator")
    return factory(context)


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class Sandbox:
    """Every emulator on one port; ``await start()`` returns the base URL."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate: float = 0.0,
        devices: int = 5,
        api_key: str | None = None,
        retry_base: float = 1.0,
        queue_limit: int = 100_000,
        callback_timeout: float = 20.0,
        ping_interval: float = 20.0,
        seed: int = 0,
        providers: Iterable[str] | None = None,
    ) -> None:
        if rate < 0 or devices < 0 or queue_limit < 1 or not 0 <= port <= 65535:
            raise UsageError("sandbox: rate, devices and port must be >= 0, queue_limit >= 1")
        self.host, self.port, self.rate = host, port, rate
        self.config = SandboxConfig(
            devices, api_key, retry_base, queue_limit, callback_timeout, ping_interval, seed
        )
        self.api_key = api_key or f"ak_sandbox_{secrets.token_hex(16)}"
        self.url = ""
        available = registry.names("emulator")
        if not available:
            raise UsageError("sandbox: no installed platform has an emulator")
        names = list(providers) if providers is not None else available
        unknown = [name for name in names if name not in available]
        if unknown:
            raise UsageError(f"sandbox: no emulator for {', '.join(unknown)}")
        self.context = EmulatorContext(self.config)
        self.emulators: dict[str, Emulator] = {name: _load(name, self.context)
                                               for name in names}
        self.generated = 0
        self._rate_samples: deque[tuple[float, int]] = deque()
        self._faults: list[HttpFault] = []
        self._runner: web.AppRunner | None = None
        self._generator: asyncio.Task[None] | None = None

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._fault_middleware], client_max_size=64 * 2**20)
        app.router.add_post("/_sandbox/faults", self._post_fault)
        app.router.add_get("/_sandbox/state", self._get_state)
        app.router.add_post("/_sandbox/generator", self._post_generator)
        app.router.add_post("/_sandbox/{provider}/events", self._post_events)
        for emulator in self.emulators.values():
            emulator.setup(app)
        return app

    async def start(self) -> str:
        for emulator in self.emulators.values():
            await emulator.start()
        self._runner, self.url = await servers.bind(self.build_app(), self.host, self.port,
                                                    what="sandbox")
        self.port = int(self._runner.addresses[0][1])
        self._restart_generator()
        return self.url

    async def stop(self) -> None:
        if self._generator is not None:
            self._generator.cancel()
            self._generator = None
        for emulator in self.emulators.values():
            await emulator.stop()
        await self.context.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sandbox": {
                "url": self.url,
                "rate": self.rate,  # a ceiling: readers that are behind get fewer
                "achieved_rate": round(self.achieved_rate(), 1),
                "generated": self.generated,
                "http_faults": [fault.to_json() for fault in self._faults],
            }
        }
        for name, emulator in self.emulators.items():
            data[name] = emulator.state()
        return data

    def families(self) -> list[Family]:
        """``sandbox --metrics``: what the sandbox made (``notifyctl.metrics`` figures)."""
        return [
            ("counter", "notifyctl_sandbox_generated_events",
             "Synthetic events generated (the most any emulator's readers took).",
             [({}, self.generated)]),
            ("gauge", "notifyctl_sandbox_achieved_rate",
             "Synthetic events per second over the last 2 s (--rate is a ceiling).",
             [({}, round(self.achieved_rate(), 1))]),
            ("gauge", "notifyctl_sandbox_http_faults", "HTTP status faults in force.",
             [({}, len(self._faults))]),
        ]

    # -- generator ---------------------------------------------------------------------
    def _restart_generator(self) -> None:
        if self._generator is not None:
            self._generator.cancel()
            self._generator = None
        if self.rate > 0:
            self._generator = asyncio.create_task(self._generate(self.rate), name="generator")

    async def _generate(self, rate: float) -> None:
        """Events at ``rate`` per second at most. Time the generator could not have (a busy
        loop, a slow machine, readers that are behind) is not made up later beyond
        ``GENERATOR_CATCH_UP``: the rate is a ceiling, and a catch-up burst would hold the
        event loop that the sockets and, under ``tail --sandbox``, the reader itself need."""
        loop = asyncio.get_running_loop()
        tick = min(GENERATOR_TICK * 2, max(GENERATOR_TICK / 10, 1.0 / rate))
        last, owed = loop.time(), 0.0
        self._rate_samples.clear()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            owed = min(owed + (now - last) * rate, max(1.0, rate * GENERATOR_CATCH_UP))
            last = now
            due = int(owed)
            owed -= due
            while due > 0:
                # Slices, with the loop given back between them: frames get written and
                # pings answered however high the rate.
                ask = min(due, GENERATOR_SLICE)
                made = max((self._produce(emulator, ask) for emulator in self.emulators.values()),
                           default=0)
                self.generated += made
                due -= ask
                if made < ask:
                    break  # every reader has its backlog: the rest of this tick is not owed
                await asyncio.sleep(0)
            self._sample(now)

    @staticmethod
    def _produce(emulator: Emulator, count: int) -> int:
        made = emulator.generate(count)
        return count if made is None else made

    def _sample(self, now: float) -> None:
        samples = self._rate_samples
        samples.append((now, self.generated))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW:
            samples.popleft()

    def achieved_rate(self) -> float:
        """Events per second generated over the last ``RATE_WINDOW`` seconds or so."""
        samples = self._rate_samples
        if len(samples) < 2 or samples[-1][0] <= samples[0][0]:
            return 0.0
        (start, first), (end, last) = samples[0], samples[-1]
        return (last - first) / (end - start)

    # -- control endpoints --------------------------------------------------------------
    @web.middleware
    async def _fault_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if not request.path.startswith("/_sandbox/"):
            for fault in self._faults:
                if fault.matches(request):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = f"{fault.retry_after:g}"
                    text = fault.body if fault.body is not None else "sandbox fault"
                    # A JSON body stands for the platform's own answer: label it as the
                    # platform would (clients refuse a success body of the wrong type).
                    kind = "application/json" if text.lstrip()[:1] in ("{", "[") else "text/plain"
                    return web.Response(status=fault.status, text=text, headers=headers,
                                        content_type=kind)
        response: web.StreamResponse = await handler(request)
        return response

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="expected a JSON body") from None

    async def _post_events(self, request: web.Request) -> web.Response:
        emulator = self.emulators.get(request.match_info["provider"])
        if emulator is None:
            return web.Response(status=404, text="no such provider in this sandbox")
        body = await self._json(request)
        try:
            result = emulator.inject(body, _bearer(request))
        except ValueError as exc:
            return web.Response(status=400, text=str(exc))
        return web.json_response(result)

    async def _post_fault(self, request: web.Request) -> web.Response:
        fault = await self._json(request)
        if not isinstance(fault, dict):
            return web.Response(status=400, text="expected a JSON object")
        action = fault.get("action")
        try:
            if action == "http_status":
                self._faults.append(HttpFault.parse(fault))
                return web.json_response({"affected": 0, "http_faults": len(self._faults)})
            if action == "clear":
                self._faults.clear()
                return web.json_response({"affected": 0, "http_faults": 0})
            provider = fault.get("provider")
            if provider is not None and provider not in self.emulators:
                return web.Response(status=404, text=f"no provider {provider!r} in this sandbox")
            names = [provider] if provider is not None else list(self.emulators)
            affected = 0
            for name in names:
                try:
                    affected += await self.emulators[name].fault(fault)
                except ValueError:
                    # Sent to every provider: one without this kind of fault just skips it.
                    if provider is not None or len(names) == 1:
                        raise
        except ValueError as exc:
            return web.Response(status=400, text=str(exc))
        return web.json_response({"affected": affected})

    async def _post_generator(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        rate = body.get("rate") if isinstance(body, dict) else None
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            return web.Response(status=400, text="expected {\"rate\": events per second >= 0}")
        self.rate = float(rate)
        self._restart_generator()
        return web.json_response({"rate": self.rate})

    async def _get_state(self, request: web.Request) -> web.Response:
        del request
        return web.json_response(self.state())


def serve(sandbox: Sandbox, announce: Callable[[Sandbox], None],
          metrics: Metrics | None = None) -> None:
    """Run ``sandbox`` until SIGINT or SIGTERM, then shut it down cleanly and raise
    ``Interrupted`` (exit 130 / 143). ``announce`` is called once it is listening;
    ``metrics`` (``--metrics``) is served meanwhile."""
    stopped = asyncio.Event()

    async def main() -> None:
        if metrics is not None:
            metrics.watch(sandbox.families)
            await metrics.start()  # first: a taken address is exit 2 before anything runs
        try:
            await sandbox.start()
            announce(sandbox)
            await stopped.wait()
        finally:
            await sandbox.stop()
            if metrics is not None:
                await metrics.stop()

    signals.run(main, on_signal=lambda _signum: stopped.set())
