"""The receiver: an aiohttp app that answers every path (or only ``--path``), reads at most
``--max-body`` bytes, asks the provider's handler what the request is, captures it, shows it,
and answers: the handler's answer, 401 under ``--strict``, an error on purpose
(``--respond``/``--fail-ratio``), or whatever ``--forward-to`` answered.

The capture line is written (and flushed) before the answer leaves, so a request answered 2xx is
always in the capture, whatever stops the process afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Protocol, cast

from aiohttp import web  # noqa: TID253 - listen runs only inside its command
from multidict import CIMultiDict

from notifyctl import output
from notifyctl.contract.receive import Handler, Outcome, Request, header_text
from notifyctl.events import CaptureWriter, Delivery, now_iso
from notifyctl.listen.view import Seen, Sink

if TYPE_CHECKING:
    import aiohttp

    from notifyctl.accounting import Accounting
    from notifyctl.listen.settings import Settings

# Not passed on by --forward-to, either way: they describe this hop, not the message.
HOP_HEADERS = frozenset({
    "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
    "proxy-connection", "proxy-authenticate", "proxy-authorization",
})
# Also not passed on: the request's Host and Expect are this hop's, and a Content-Length is
# recomputed from the same bytes.
REQUEST_ONLY = frozenset({"host", "expect", "content-length"})
FORWARD_TIMEOUT_S = 30.0


class Timing(Protocol):
    """Where a request's handling time goes (``--metrics``: a Prometheus histogram)."""

    def observe(self, amount: float) -> None: ...


class ListenDelivery(Delivery, omit_defaults=True):
    """A capture line plus how the request fared. ``read_capture`` ignores the extra fields, so
    these lines replay like any other."""

    verified: bool | None = None
    error: str | None = None
    invalid: str | None = None


class Receiver:
    """Per-run state and the one request handler."""

    def __init__(self, settings: Settings, handler: Handler, sink: Sink,
                 writer: CaptureWriter | None, accounting: Accounting | None = None) -> None:
        self.settings = settings
        self.handler = handler
        self.sink = sink
        self.writer = writer
        self.accounting = accounting
        self.received = 0
        self.failed = 0
        self.stopping = False
        self.stopped = asyncio.Event()
        self.in_flight = 0
        self.drained = asyncio.Event()
        self.session: aiohttp.ClientSession | None = None
        self.timing: Timing | None = None
        self._fail_credit = 0.0

    def stop(self) -> None:
        """Refuse new requests (503) and let the run end."""
        self.stopping = True
        self.stopped.set()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        settings = self.settings
        # The raw target, split by hand: exact as sent, and cheaper than building a URL object.
        path, _, query = request.raw_path.partition("?")
        if settings.path is not None and path != settings.path:
            return web.Response(status=404, text="not the listening path\n")
        if self.stopping:
            refused = web.Response(status=503, text="shutting down\n")
            refused.force_close()  # lets keep-alive clients go, so shutdown ends at once
            return refused
        self.received += 1
        last = settings.count is not None and self.received >= settings.count
        if last:
            self.stopping = True
        self.in_flight += 1
        started = time.perf_counter()
        try:
            response = await self._respond(request, path, query)
            if self.timing is not None:
                self.timing.observe(time.perf_counter() - started)
            if last:
                # The request that reaches --count is answered in full before the run ends.
                await response.prepare(request)
                await response.write_eof()
                self.stopped.set()
        finally:
            self.in_flight -= 1
            if self.stopping and not self.in_flight:
                self.drained.set()
        return response

    async def drain(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for requests being handled to be answered."""
        if self.in_flight:
            self.drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drained.wait(), grace)

    async def _respond(self, request: web.BaseRequest, path: str,
                       query: str) -> web.StreamResponse:
        settings = self.settings
        if request.content_length is not None and request.content_length > settings.max_body:
            return self._too_large(request, path)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._too_large(request, path)
        except web.RequestPayloadError as exc:  # e.g. a body its Content-Encoding cannot decode
            reason = str(exc.args[0]) if exc.args else "cut short"
            return self._refuse(request, path, 400, "unreadable",
                                "body cannot be read: " + " ".join(reason.split()))
        at = now_iso()
        req = Request(request.method, path, query, request.headers, body, at)
        try:
            outcome = self.handler.handle(req)
        except Exception as exc:  # a handler bug must not take the receiver down
            output.current().warn(f"{self.handler.provider} handler failed on a request: {exc!r}")
            outcome = Outcome(status=500, kind="error", error=f"handler failed: {exc!r}")
        status, answer, ctype, error = self._answer(outcome)
        headers: CIMultiDict[str] = CIMultiDict({"Content-Type": ctype} if ctype else {})
        if self.writer is not None:
            try:
                self._capture(request, body, at, outcome)
            except (OSError, ValueError) as exc:  # disk full, file closed: never answer 2xx
                message = f"capture to {self.settings.save} failed: {exc}"
                output.current().warn(message)
                status, answer, error = 503, b"capture failed\n", message
                headers = CIMultiDict({"Content-Type": "text/plain"})
        if settings.sinks is not None and (status == 0 or 200 <= status < 300):
            refused = await self._publish(outcome)
            if refused is not None:
                status, answer, error, headers = refused
        if status == 0:  # forward: after the capture, so the capture never misses it
            status, answer, headers, error = await self._forward(request, query, body)
        if self.accounting is not None:
            self.accounting.add(outcome.events)
            self.accounting.answer(status)
        self.sink.show(Seen(self.handler.provider, outcome.kind, request.method, path,
                            status, at, outcome.verified, error or outcome.error,
                            outcome.events))
        # Bytes as given: aiohttp compresses only when asked to, so a relayed body leaves as
        # the target sent it, under the target's Content-Encoding.
        return web.Response(status=status, body=answer, headers=headers)

    async def _publish(self, outcome: Outcome
                       ) -> tuple[int, bytes, str, CIMultiDict[str]] | None:
        """--sink: 2xx only once every sink acknowledged every event of the request; when one
        is down, the 503 (with Retry-After) to answer instead, so the platform sends again."""
        from notifyctl.sinks import RETRY_AFTER_S

        sinks, where = self.settings.sinks, self.settings.where
        assert sinks is not None
        events = outcome.events if where is None else [e for e in outcome.events if where(e)]
        if not events or await sinks.deliver(events):
            return None
        headers = CIMultiDict({"Content-Type": "text/plain", "Retry-After": str(RETRY_AFTER_S)})
        return 503, b"a --sink is down: send again later\n", "a --sink is down", headers

    def _answer(self, outcome: Outcome) -> tuple[int, bytes, str | None, str | None]:
        """(status, body, content type, error); status 0 means "forward it"."""
        settings = self.settings
        if outcome.invalid is not None:
            return outcome.status, outcome.body, outcome.content_type, outcome.invalid
        if outcome.verified is False:
            self.failed += 1
            if settings.strict:
                return 401, b"verification failed\n", "text/plain", outcome.error
        if outcome.kind == "error":
            return outcome.status, b"", None, outcome.error
        if settings.respond is not None or settings.fail_ratio:
            code = settings.respond if settings.respond is not None else 500
            if not settings.fail_ratio:
                return code, b"", None, None
            # Deterministic spread: exactly R of the requests fail, evenly spaced.
            self._fail_credit += settings.fail_ratio
            if self._fail_credit >= 1.0 - 1e-9:
                self._fail_credit -= 1.0
                return code, b"", None, None
        if settings.forward_to is not None:
            return 0, b"", None, None
        return outcome.status, outcome.body, outcome.content_type, None

    def _capture(self, request: web.BaseRequest, body: bytes, at: str,
                 outcome: Outcome) -> None:
        # capture() builds ``cls``, so this is a ListenDelivery with the extra fields unset.
        if outcome.capture_body is not None:
            body = outcome.capture_body  # secrets in the body masked by the handler
        headers = [(name, header_text(value)) for name, value in request.headers.items()]
        delivery = cast(ListenDelivery, ListenDelivery.capture(
            self.handler.provider, "callback", body, method=request.method,
            path=request.raw_path, headers=CIMultiDict(headers), at=at,
        ))
        delivery.verified = outcome.verified
        delivery.error = outcome.error
        delivery.invalid = outcome.invalid
        assert self.writer is not None
        self.writer.write(delivery)

    def _too_large(self, request: web.BaseRequest, path: str) -> web.Response:
        return self._refuse(request, path, 413, "too-large",
                            f"body over --max-body ({self.settings.max_body} bytes)")

    def _refuse(self, request: web.BaseRequest, path: str, status: int, kind: str,
                message: str) -> web.Response:
        """A request whose body is not read (too large, or not decodable): shown, counted, and
        answered ``status`` with the reason."""
        if self.accounting is not None:
            self.accounting.answer(status)
        self.sink.show(Seen(self.handler.provider, kind, request.method, path,
                            status, now_iso(), None, message, []))
        # Closing the connection: an unread body must not be parsed as the next request.
        return web.Response(status=status, text=message + "\n", headers={"Connection": "close"})

    async def _forward(self, request: web.BaseRequest, query: str,
                       body: bytes) -> tuple[int, bytes, CIMultiDict[str], str | None]:
        """Relay the exact request and return the target's exact answer: status, body bytes
        (never decompressed) and its end-to-end headers."""
        import aiohttp

        target = self.settings.forward_to
        assert target is not None
        if query:
            target += ("&" if "?" in target else "?") + query
        if self.session is None:
            self.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S), auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        headers = end_to_end(request.headers, REQUEST_ONLY)
        try:
            async with self.session.request(request.method, target, headers=headers, data=body,
                                            allow_redirects=False) as answer:
                content = await answer.read()
                return answer.status, content, end_to_end(answer.headers, {"content-length"}), None
        except (aiohttp.ClientError, TimeoutError) as exc:
            message = f"forward to {self.settings.forward_to} failed: {exc or type(exc).__name__}"
            output.current().warn(message)
            plain: CIMultiDict[str] = CIMultiDict({"Content-Type": "text/plain"})
            return 502, (message + "\n").encode(), plain, message

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


def end_to_end(headers: Mapping[str, str], also: Collection[str]) -> CIMultiDict[str]:
    """The headers a relay passes on: all but the hop-by-hop ones (standard, and any the
    Connection header names) and ``also``. Repeated headers (Set-Cookie, Link) stay repeated.
    Kept on the way back are those describing the body (Content-Type, Content-Encoding,
    Content-Language) and those telling the sender what next (Location, Retry-After,
    WWW-Authenticate)."""
    named = {token.strip().lower() for name, value in headers.items()
             if name.lower() == "connection" for token in value.split(",")}
    return CIMultiDict((name, value) for name, value in headers.items()
                       if name.lower() not in HOP_HEADERS and name.lower() not in also
                       and name.lower() not in named)


def build_app(receiver: Receiver) -> web.Application:
    app = web.Application(client_max_size=receiver.settings.max_body)
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    return app
