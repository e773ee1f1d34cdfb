"""The delivery engine: pacing, concurrency, attempts and timeouts for any provider's
``Rules``; the CLI, the bench and the sandbox all deliver through it.

A replay sends straight to its target through ``http1``, its own lean HTTP/1.1 client, because
one-request-per-event replay must come near a native load generator (docs/decisions.md has the
measurements); through a proxy, to a URL ``http1`` does not take, and in the sandbox it sends
through an aiohttp session (aiohttp is imported only then). Workers pull from one shared
iterator of requests (no queue: the loop is single-threaded), so order is kept as far as
concurrency allows and memory stays constant. Sequential rules (Pelion) get one worker and a
lock: one delivery in flight, even when the sandbox calls ``Deliverer.deliver`` from several
tasks.

The sandbox delivers every platform's callbacks through ``Deliverer`` too (Pelion with the
rules' ``max_attempts=0``: retried until accepted, as the platform does; Sigfox, Circle and
ThingSpace with their own rules), so attempts, back-off, timeouts and redirects have one
implementation. A cancelled attempt (Ctrl-C, a channel removed)
is counted as ``interrupted``: the receiver may have seen it.

Answers are read raw, except where the rules read them (``answered``): those are asked for and
decoded in the codings ``answers`` knows, and one that cannot be read fails the delivery.
A replay (not the sandbox) gives up within seconds on a target that has never answered
(``reach``).
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from notifyctl.contract.deliver import (
    INTERRUPTED,
    Decision,
    InputStats,
    Item,
    Refused,
    Request,
    RuleOptions,
    Rules,
    Verdict,
)
from notifyctl.errors import UsageError
from notifyctl.replay import http1
from notifyctl.replay.answers import ACCEPT_ENCODING, decoded
from notifyctl.replay.reach import Reach
from notifyctl.replay.report import Report
from notifyctl.retry import parse_retry_after
from notifyctl.tls import client_context

if TYPE_CHECKING:
    import aiohttp  # imported where a session is made: ~100 ms a direct replay does not spend

DEFAULT_CONCURRENCY = 16
MAX_RETRY_AFTER = 120.0  # seconds: the longest Retry-After a replay waits for
CONNECT_TIMEOUT = 10.0  # seconds: a connection not made by then is not coming


@runtime_checkable
class Handshaking(Protocol):
    """Rules whose verification request (``Rules.handshake``) is judged by its own rule."""

    def decide_handshake(self, status: int | None, attempt: int) -> Decision: ...


@dataclass(slots=True)
class Outcome:
    """What one attempt got."""

    status: int | None  # None: no answer (timeout, network error)
    name: str  # the status code, or why there was none ("timeout", "connect-error" ...)
    ms: float = 0.0
    asked_wait: float | None = None  # Retry-After seconds the receiver asked for
    unreadable: str | None = None  # why an answer the rules read could not be read


@dataclass
class Options:
    """How to pace a replay; ``None`` everywhere means as fast as the rules allow."""

    concurrency: int | None = None
    rate: float | None = None  # events per second
    speed: float | None = None  # keep the captured gaps, divided by this (1.0 = --realtime)
    duplicates: float = 0.0  # share of deliveries sent twice
    shuffle: int = 0  # window size; 0 keeps the captured order
    seed: int | None = None
    insecure: bool = False
    ca_bundle: str | None = None
    progress: Callable[[Report], None] | None = None
    progress_interval: float = 0.25


def concurrency_for(rules: Rules, options: Options) -> int:
    if rules.sequential:
        if options.concurrency not in (None, 1):
            raise UsageError(
                f"{rules.name} delivers strictly one batch at a time (the next only after a 2xx); "
                "--concurrency is not allowed",
                hint="use --batch-size or --rate to shape the load",
            )
        return 1
    concurrency = options.concurrency or DEFAULT_CONCURRENCY
    if concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    return concurrency


def ssl_setting(insecure: bool, ca_bundle: str | None) -> ssl.SSLContext | bool:
    """aiohttp's ``ssl``: False verifies nothing (``--insecure``), else the one context."""
    return False if insecure else client_context(ca_bundle=ca_bundle)


def new_session(concurrency: int, options: Options) -> aiohttp.ClientSession:
    import aiohttp

    connector = aiohttp.TCPConnector(
        limit=concurrency, ssl=ssl_setting(options.insecure, options.ca_bundle)
    )
    # No cookie jar: every delivery stands alone, as the platform's would. trust_env is off
    # because aiohttp then looks proxies up in a thread per request (3x slower); proxy_for
    # reads HTTPS_PROXY/NO_PROXY once per host instead.
    # The same User-Agent as ``http1``'s: where a delivery goes does not change who sent it.
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                 trust_env=False, auto_decompress=False,
                                 headers={"User-Agent": http1.USER_AGENT})


@functools.cache
def _proxy_for_origin(scheme: str, host: str) -> str | None:
    proxies = urllib.request.getproxies()
    if not proxies or urllib.request.proxy_bypass(host):
        return None
    return proxies.get(scheme) or proxies.get("all")


@functools.lru_cache(maxsize=1024)
def proxy_for(url: str) -> str | None:
    """The proxy from HTTPS_PROXY/HTTP_PROXY/NO_PROXY for ``url``'s origin (cached: a replay
    asks once per delivery, mostly for one URL)."""
    parts = urllib.parse.urlsplit(url)
    return _proxy_for_origin(parts.scheme, parts.hostname or "")


class Deliverer:
    """Delivers one request with the rules' attempts, back-off and timeout; records the outcome.

    Reusable from any running loop (the sandbox keeps one per registered callback).
    ``proxies=False`` sends straight to the URL whatever HTTPS_PROXY says (the sandbox: a
    callback goes exactly where it was registered). ``last`` is the latest attempt's outcome.
    With ``reach``, an origin that never answered is given up within seconds (``Reach``).
    With ``direct``, requests that need no proxy go through that ``http1.Pool``; the others
    through ``session``, made by ``new_session`` when first needed if it is None.
    """

    def __init__(self, session: aiohttp.ClientSession | None, rules: Rules, report: Report, *,
                 proxies: bool = True, reach: Reach | None = None,
                 direct: http1.Pool | None = None,
                 new_session: Callable[[], aiohttp.ClientSession] | None = None) -> None:
        self.session = session
        self.rules = rules
        self.report = report
        self.connect_timeout = min(rules.timeout, CONNECT_TIMEOUT)
        self.direct = direct
        self._new_session = new_session
        self.proxies = proxies
        self.reach = reach
        self.last: str | None = None
        self.unreadable: str | None = None  # why the last answer the rules read was unusable
        # Rules that read answers (Sigfox BIDIR downlinks) define answered(request, status,
        # content_type, body) -> None, or why the answer is unusable; the others pay nothing.
        self._answered = getattr(rules, "answered", None)
        self._lock = asyncio.Lock() if rules.sequential else None

    async def deliver(self, request: Request) -> Verdict:
        if self._lock is None:
            return await self._deliver(request, self.rules.decide)
        async with self._lock:
            return await self._deliver(request, self.rules.decide)

    async def handshake(self) -> Verdict | None:
        """Send the rules' verification request, if they have one; its answer is judged by
        ``decide_handshake`` where the rules define it. None: there is no handshake."""
        request = self.rules.handshake()
        if request is None:
            return None
        rules = self.rules
        decide = rules.decide_handshake if isinstance(rules, Handshaking) else rules.decide
        if self._lock is None:
            return await self._deliver(request, decide)
        async with self._lock:
            return await self._deliver(request, decide)

    async def _deliver(self, request: Request,
                       decide: Callable[[int | None, int], Decision]) -> Verdict:
        report, rules = self.report, self.rules
        attempt = 1
        while True:
            try:
                outcome = await self._attempt(request, rules.attempt_headers(request, attempt),
                                              rules.attempt_body(request, attempt))
            except asyncio.CancelledError:
                self._count(INTERRUPTED)  # sent, maybe received: the count must say so
                raise
            self._count(outcome.name)
            self.unreadable = outcome.unreadable
            decision = self._judge(request, outcome, decide(outcome.status, attempt))
            if decision.verdict is Verdict.RETRY and attempt == request.max_attempts:
                decision = Decision(Verdict.FAILED)  # the delivery's own bound
            if decision.verdict is Verdict.RETRY:
                report.retried += 1
                # A receiver's Retry-After (429/503) is honoured when it asks for longer.
                delay = max(decision.delay, outcome.asked_wait or 0.0)
                if delay > 0:
                    await asyncio.sleep(delay)
                attempt += 1
                continue
            self._settle(request, decision.verdict, attempt, outcome)
            return decision.verdict

    def _judge(self, request: Request, outcome: Outcome, decision: Decision) -> Decision:
        """The rules' decision, failed when the answer they read is unusable, shortened
        when nothing has ever answered at the target (``reach``)."""
        if outcome.status is not None:
            self.report.latency.add(outcome.ms)
            if self.reach is not None:
                self.reach.answered(request.url)
            if outcome.unreadable and decision.verdict is Verdict.ACCEPTED:
                return Decision(Verdict.FAILED)  # accepted, but what it answered is lost
            return decision
        if self.reach is not None:
            return self.reach.judge(request.url, outcome.name, decision)
        return decision

    def _settle(self, request: Request, verdict: Verdict, attempt: int, outcome: Outcome
                ) -> None:
        report = self.report
        report.deliveries += 1
        report.events += request.events
        if verdict is Verdict.ACCEPTED:
            report.accepted += 1
            report.events_accepted += request.events
        elif verdict is Verdict.GONE:
            report.gone += 1
            report.note(f"{request.where}: the target answered 410 Gone: nothing more is sent")
        else:
            report.failed += 1
            if outcome.unreadable:
                report.note(f"{request.where}: answered {outcome.name}, but {outcome.unreadable}")
            else:
                report.note(f"{request.where}: not accepted after {attempt} attempt(s) "
                            f"(last: {outcome.name})")

    def _count(self, outcome: str) -> None:
        self.last = outcome
        self.report.attempts += 1
        self.report.statuses[outcome] += 1

    async def _attempt(self, request: Request, headers: dict[str, str], body: bytes
                       ) -> Outcome:
        """One request, and what it got."""
        start = time.perf_counter()
        if self._answered is not None:
            headers = {**headers, "Accept-Encoding": ACCEPT_ENCODING}  # what decoded() reads
        try:
            answer = await self._send(request, headers, body)
        except http1.Failed as exc:
            return Outcome(None, exc.outcome)
        except TimeoutError:
            return Outcome(None, "timeout")
        except (OSError, ValueError) as exc:
            # OSError: a socket error, or the receiver closing early; ValueError: a header
            # value that cannot be sent (a newline) or an answer that is not HTTP. Either is
            # this delivery failing, not the run.
            return Outcome(None, f"error:{type(exc).__name__}")
        got = Outcome(answer.status, str(answer.status))
        if got.status in (429, 503):
            got.asked_wait = parse_retry_after(answer.headers.get("retry-after"),
                                               MAX_RETRY_AFTER)
        if self._answered is not None:
            got.unreadable = self._read_answer(request, answer)
        got.ms = (time.perf_counter() - start) * 1000
        return got

    async def _send(self, request: Request, headers: dict[str, str], body: bytes
                    ) -> http1.Answer:
        """The answer to one request: through ``direct`` where it can take it, else aiohttp.
        The body is read whole either way; it is kept only where the rules read it."""
        url = request.url
        proxy = proxy_for(url) if self.proxies else None
        if self.direct is not None and proxy is None and (to := http1.target(url)) is not None:
            return await self.direct.send(
                request.method, to, headers, body, timeout=self.rules.timeout,
                connect_timeout=self.connect_timeout, keep_body=self._answered is not None)
        return await self._via_session(request, url, headers, body, proxy)

    async def _via_session(self, request: Request, url: str, headers: dict[str, str],
                           body: bytes, proxy: str | None) -> http1.Answer:
        """Through aiohttp, its failures named as ``http1``'s are."""
        import aiohttp

        if self.session is None:
            assert self._new_session is not None, "a Deliverer needs a session or new_session"
            self.session = self._new_session()
        timeout = aiohttp.ClientTimeout(total=self.rules.timeout,
                                        sock_connect=self.connect_timeout)
        try:
            async with self.session.request(
                request.method, url, data=body, headers=headers, allow_redirects=False,
                timeout=timeout, auto_decompress=False, proxy=proxy,
            ) as response:
                return http1.Answer(response.status, response.headers, await response.read())
        except aiohttp.ConnectionTimeoutError:
            raise http1.ConnectFailed("connect-timeout") from None  # before TimeoutError
        except TimeoutError:
            raise
        except aiohttp.ClientConnectorCertificateError:
            raise http1.ConnectFailed("tls-untrusted") from None  # a subclass of the next
        except aiohttp.ClientConnectorError:
            raise http1.ConnectFailed("connect-error") from None
        except aiohttp.ClientError as exc:
            raise http1.Failed(f"error:{type(exc).__name__}") from None

    def _read_answer(self, request: Request, answer: http1.Answer) -> str | None:
        """Hand the decoded answer to the rules; why it is unusable, or None."""
        assert self._answered is not None
        try:
            body = decoded(answer.body, answer.headers.get("content-encoding"))
        except ValueError as exc:
            return f"the answer cannot be read: {exc}"
        problem: str | None = self._answered(request, answer.status,
                                             answer.headers.get("content-type"), body)
        return problem


class Pacer:
    """When each request may start: ``--rate`` events/s, or the captured gaps at ``--speed``."""

    def __init__(self, rate: float | None, speed: float | None) -> None:
        if rate is not None and rate <= 0:
            raise UsageError("--rate must be positive")
        if speed is not None and speed <= 0:
            raise UsageError("--speed must be positive")
        self.rate, self.speed = rate, speed
        self.start: float | None = None
        self.events = 0
        self.first_at: float | None = None

    @property
    def active(self) -> bool:
        return self.rate is not None or self.speed is not None

    def delay(self, request: Request) -> float:
        now = time.monotonic()
        if self.start is None:
            self.start = now
        if self.rate is not None:
            slot = self.start + self.events / self.rate
            self.events += max(request.events, 1)
            return slot - now
        at = _epoch(request.at) if self.speed is not None else None
        if at is None or self.speed is None:
            return 0.0
        if self.first_at is None:
            self.first_at = at
        return self.start + (at - self.first_at) / self.speed - now


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def shaped(requests: Iterator[Request | Refused], options: Options, report: Report
           ) -> Iterator[Request | Refused]:
    """Apply --shuffle (a bounded window, so memory stays constant) and --duplicates."""
    rng = random.Random(options.seed)
    if options.shuffle > 1:
        requests = _shuffled(requests, options.shuffle, rng)
    if options.duplicates <= 0:
        yield from requests
        return
    for request in requests:
        yield request
        if isinstance(request, Request) and rng.random() < options.duplicates:
            report.duplicates += 1
            yield request  # the platform re-sends the same delivery (same id)


def _shuffled(items: Iterator[Request | Refused], window: int, rng: random.Random
              ) -> Iterator[Request | Refused]:
    pool: list[Request | Refused] = []
    for item in items:
        if len(pool) < window:
            pool.append(item)
            continue
        index = rng.randrange(window)
        yield pool[index]
        pool[index] = item
    rng.shuffle(pool)
    yield from pool


async def replay(
    source: Iterable[Item],
    target: str,
    rules: Rules,
    options: Options | None = None,
    *,
    session: aiohttp.ClientSession | None = None,
    stats: InputStats | None = None,
    report: Report | None = None,
) -> Report:
    """Deliver ``source`` to ``target`` by ``rules``; returns the report (never raises for
    deliveries that were not accepted: check ``report.ok``). Input errors raise ``UsageError``.

    Pass ``report`` to keep what was done when the run is cancelled (Ctrl-C): it is complete
    up to the cancellation, including the attempt that was in flight.
    """
    options = options or Options()
    concurrency = concurrency_for(rules, options)
    pacer = Pacer(options.rate, options.speed)
    report = report or Report(rules.name, target)
    own = session is None
    direct = http1.Pool(_tls_once(options, target)) if own else None
    reach = Reach()
    deliverer = Deliverer(session, rules, report, reach=reach, direct=direct,
                          new_session=lambda: new_session(concurrency, options))
    report.settings = rules.settings()
    ticker = asyncio.create_task(_tick(report, options)) if options.progress else None
    try:
        if rules.handshake_first and await deliverer.handshake() not in (
                None, Verdict.ACCEPTED):
            report.stopped = reach.gave_up or _handshake_refused(rules)
            return report
        requests = shaped(rules.requests(iter(source)), options, report)
        failure: list[BaseException] = []

        async def worker() -> None:
            try:
                while report.stopped is None:
                    request = next(requests, None)
                    if request is None:
                        return
                    if isinstance(request, Refused):
                        report.refused += 1
                        report.note(f"{request.where}: not sent: {request.reason}")
                        continue
                    if pacer.active:
                        wait = pacer.delay(request)
                        if wait > 0.0005:
                            await asyncio.sleep(wait)
                    verdict = await deliverer.deliver(request)
                    if reach.gave_up is not None:
                        report.stopped = report.stopped or reach.gave_up
                    elif verdict is Verdict.GONE:
                        report.stopped = "the target answered 410 Gone"
                    elif verdict is Verdict.FAILED and rules.stop_on_failure:
                        report.stopped = (f"{request.where}: a batch was not accepted; "
                                          f"{rules.name} sends nothing after it")
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                failure.append(exc)
                report.stopped = report.stopped or "input error"
                raise

        results = await asyncio.gather(*(worker() for _ in range(concurrency)),
                                       return_exceptions=True)
        if failure:
            raise failure[0]
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return report
    finally:
        report.finished = time.monotonic()
        report.resigned = rules.resigned
        if stats is not None:
            report.invalid = stats.invalid
            for problem in stats.problems:
                report.note(problem)
        if ticker is not None:
            ticker.cancel()
        if direct is not None:
            direct.close()
        if own and deliverer.session is not None:
            await deliverer.session.close()


def _tls_once(options: Options, target: str) -> Callable[[], ssl.SSLContext]:
    """The TLS context for ``http1``, made once when first needed (loading the system's CAs
    takes tens of milliseconds a plain-HTTP replay need not spend); made now, so that a bad
    ``--ca-bundle`` is an error before anything is sent, when one is given or ``target`` is
    HTTPS."""
    made = functools.cache(lambda: client_context(insecure=options.insecure,
                                                  ca_bundle=options.ca_bundle))
    if options.ca_bundle or target.lower().startswith("https:"):
        made()
    return made


def load_rules(name: str, options: RuleOptions) -> Rules:
    """The delivery rules of platform ``name`` (from the registry), configured with
    ``options``, which they validate. A usage error names the platforms that have rules."""
    from notifyctl import registry

    rules: Rules = registry.get(name, "rules").load("rules")(options)
    return rules


def _handshake_refused(rules: Rules) -> str:
    """``the verification handshake (PUT {}) was not accepted``, naming the rules' request."""
    request = rules.handshake()
    sent = "" if request is None else (
        f" ({request.method} {request.body.decode('utf-8', 'replace')})")
    return f"the verification handshake{sent} was not accepted"


async def _tick(report: Report, options: Options) -> None:
    assert options.progress is not None
    while True:
        await asyncio.sleep(options.progress_interval)
        options.progress(report)
