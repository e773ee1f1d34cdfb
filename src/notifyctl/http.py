"""The HTTP clients of every networked management call, and how HTTP outcomes become notifyctl
errors.

``NetOptions`` holds the network flags every networked command takes (``--request-timeout``,
``--insecure``, ``--ca-bundle``); proxies come from ``HTTPS_PROXY``/``NO_PROXY`` through httpx's
own environment support. ``base_url`` refuses an API URL that is not http(s) with a host (exit 2).

``Answers`` is what one platform declares its answers look like (media types); ``Answers.check``
is the one place an answer that is not the platform's (an HTML portal or proxy page, a wrong
``--api-url``) becomes ``UnexpectedAnswer`` (exit 2) naming the status, content type, URL and a
short inert snippet, whatever client sent the request. ``next_step`` is the one retry policy: it
retries what is worth retrying (429 after its ``Retry-After``, 5xx with exponential back-off,
each a bounded number of times; a connection that was never made only once, with a short
connect timeout, so an unreachable host costs seconds) and maps the final outcome onto the
error tree with ``errors.for_status``. Every transport error names scheme, host and port
(``transport_error``). ``Http`` (synchronous, Pelion) and ``AsyncHttp`` (asyncio, Sigfox and
Circle) only send and wait; redirects are never followed (a 3xx is returned when listed in
``ok``). ``AsyncHttpClient`` gives a client over ``AsyncHttp`` its ``async with`` and
``aclose``.
"""

from __future__ import annotations

import asyncio
import errno
import fnmatch
import json
import random
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx  # noqa: TID253 - only networked commands import this module, inside the command

from notifyctl import output
from notifyctl.errors import (
    AuthError,
    NetworkError,
    NotifyctlError,
    UnexpectedAnswer,
    UsageError,
    for_status,
)
from notifyctl.retry import parse_retry_after
from notifyctl.tls import client_context

DEFAULT_TIMEOUT = 30.0
# Nothing has answered yet: waiting longer than this to connect rarely helps (--timeout still
# bounds the whole request when it is lower).
CONNECT_TIMEOUT = 10.0
_MESSAGE_LIMIT = 300
_SNIPPET_LIMIT = 80
JSON_TYPES = ("application/json", "application/*+json")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>|<!--.*?-->", re.DOTALL)
_API_URL_HINT = "check --api-url, NOTIFYCTL_API_URL or the profile's api_url"


@dataclass(frozen=True)
class NetOptions:
    """Network settings shared by REST and WebSocket clients."""

    timeout: float = DEFAULT_TIMEOUT
    insecure: bool = False
    ca_bundle: str | None = None
    # Bounded retries: 429 waits for Retry-After (capped), 5xx and transport errors back off;
    # a connection never made is retried at most ``connect_retries`` times.
    retries: int = 3
    connect_retries: int = 1
    retry_base: float = 0.5
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings as one context, usable by httpx and websockets alike."""
        return client_context(self.insecure, self.ca_bundle)


def net_options(
    timeout: float | None = None, insecure: bool = False, ca_bundle: str | None = None
) -> NetOptions:
    """NetOptions from the command-line flags; warns once about ``--insecure``."""
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--request-timeout {timeout:g}: must be greater than 0")
    if insecure:
        output.current().warn(
            "--insecure: TLS certificates are not verified; anyone on the path can read and"
            " change this traffic"
        )
    options = NetOptions(
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        insecure=insecure,
        ca_bundle=ca_bundle,
    )
    if ca_bundle:
        options.ssl_context()  # a bad bundle is a usage error now, before any secret is read
    return options


def platform_message(response: httpx.Response) -> str:
    """The platform's own explanation: a JSON ``message``/``error`` field, a JSON string, or
    the text body; shortened and made inert (it is shown to people)."""
    text = response.text.strip()
    try:
        data: Any = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "error", "detail", "reason", "code"):
            if isinstance(data.get(key), str | int) and data[key] != "":
                text = str(data[key])
                break
    elif isinstance(data, str):
        text = data
    text = " ".join(text.split())
    if len(text) > _MESSAGE_LIMIT:
        text = text[: _MESSAGE_LIMIT - 1] + "…"
    return output.inert_str(text) or response.reason_phrase or f"HTTP {response.status_code}"


def base_url(url: str) -> str:
    """The API base URL, refused (exit 2) unless it is http(s) with a host."""
    parts = httpx.URL(url) if "://" in url else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.host:
        raise UsageError(f"API URL {output.inert_str(url)!r} is not an http(s) URL with a host",
                         hint=_API_URL_HINT)
    return url.rstrip("/")


def origin(url: httpx.URL | str) -> str:
    """``scheme://host:port`` of a URL (the port spelled out even when it is the default)."""
    parsed = httpx.URL(str(url))
    port: int = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme, 0)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}:{port}"


def _media_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).split(";")[0].strip().lower()


def _snippet(response: httpx.Response) -> str:
    """The start of a body, on one line and inert: enough to recognise a portal page (an HTML
    page by its title, else its text without tags)."""
    text = response.content[:4000].decode("utf-8", "replace")
    if _looks_html(response):
        title = _TITLE.search(text)
        text = title.group(1) if title else _TAG.sub(" ", _SCRIPT.sub(" ", text))
    text = " ".join(text.split())
    if len(text) > _SNIPPET_LIMIT:
        text = text[: _SNIPPET_LIMIT - 1] + "…"
    return output.inert_str(text)


def _url_of(response: httpx.Response) -> str:
    try:
        return str(response.request.url)
    except RuntimeError:  # a response built without a request (tests, transports)
        return "the API"


def _looks_html(response: httpx.Response) -> bool:
    head = response.content[:200].lstrip().lower()
    return _media_type(response) in ("text/html", "application/xhtml+xml") or head.startswith(
        (b"<!doctype html", b"<html"))


@dataclass(frozen=True)
class Answers:
    """What one platform's answers look like: ``kind`` for messages (``Pelion's JSON``) and the
    media types (globs) of its bodies. Errors may come as plain text, but never as HTML."""

    kind: str
    media_types: tuple[str, ...] = JSON_TYPES

    def theirs(self, response: httpx.Response, *, success: bool) -> bool:
        """Whether ``response`` can be the platform's: an empty body always can; HTML never
        is; a success body must be of one of the declared media types."""
        if not response.content.strip():
            return True
        if _looks_html(response):
            return False
        media = _media_type(response)
        return not success or any(fnmatch.fnmatchcase(media, t) for t in self.media_types)

    def unexpected(self, response: httpx.Response, what: str, detail: str = "") -> UnexpectedAnswer:
        """The error for an answer that is not the platform's, saying what came from where."""
        media = _media_type(response) or "no content type"
        snippet = _snippet(response)
        return UnexpectedAnswer(
            f"{what}: {_url_of(response)} answered HTTP {response.status_code} ({media})"
            f"{': ' + detail if detail else ''}, not {self.kind}"
            + (f": {snippet!r}" if snippet else ""),
            hint=_API_URL_HINT,
        )

    def check(self, response: httpx.Response, what: str) -> httpx.Response:
        """``response`` when it can be the platform's answer, else ``UnexpectedAnswer``."""
        if not self.theirs(response, success=response.is_success):
            raise self.unexpected(response, what)
        return response

    def json(self, response: httpx.Response, what: str) -> Any:
        """The body as JSON (None when empty); a body that does not parse is not theirs."""
        self.check(response, what)
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise self.unexpected(response, what, "a body that does not parse") from None


def error_for(response: httpx.Response, what: str) -> NotifyctlError:
    """The notifyctl error for a final non-2xx response to ``what`` (e.g. ``PUT /v2/...``)."""
    kind = for_status(response.status_code)
    message = f"{what}: HTTP {response.status_code}: {platform_message(response)}"
    if kind is AuthError:
        return AuthError(message, hint="check the API key (notifyctl auth status)")
    return kind(message)


def retry_after(response: httpx.Response, cap: float) -> float | None:
    """Seconds to wait from a response's ``Retry-After`` header, capped."""
    return parse_retry_after(response.headers.get("retry-after"), cap)


def _reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words (``connection refused``, ``host not found``)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return "host not found"
        if isinstance(cause, ConnectionRefusedError) or (
                isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED):
            return "connection refused"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    text = str(exc).lower()
    if "connection refused" in text or "connect call failed" in text:
        return "connection refused"
    return str(exc) or type(exc).__name__


def never_connected(exc: httpx.HTTPError) -> bool:
    """True when the request never reached anything that could answer."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


def transport_message(exc: httpx.HTTPError, timeout: float | None = None) -> tuple[str, str | None]:
    """(message naming scheme, host and port; hint) for a request that got no answer."""
    try:
        where = origin(exc.request.url)
    except RuntimeError:  # an error raised before any request was built
        where = "the API"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (f"TLS certificate not trusted ({where}): {cause.verify_message}",
                    "pass --ca-bundle FILE for a private CA (or --insecure to test)")
        cause = cause.__cause__ or cause.__context__
    within = f" after {timeout:g} s" if timeout else ""
    if isinstance(exc, httpx.ConnectTimeout):
        within = f" after {min(timeout, CONNECT_TIMEOUT):g} s" if timeout else ""
        return (f"cannot connect to {where} (timed out{within})",
                "check the host and port, or the network")
    if isinstance(exc, httpx.TimeoutException):
        return (f"{where} timed out (no answer{within})",
                "raise --request-timeout or check the network")
    if isinstance(exc, httpx.ProxyError):
        return f"proxy failed on the way to {where}: {exc}", "check HTTPS_PROXY / NO_PROXY"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {where} ({_reason(exc)})", _API_URL_HINT
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"{where}: not an http(s) URL", _API_URL_HINT
    return f"{where}: {_reason(exc)}", None


def transport_error(exc: httpx.HTTPError, what: str, timeout: float | None = None) -> NetworkError:
    message, hint = transport_message(exc, timeout)
    return NetworkError(f"{what}: {message}", hint=hint)


@dataclass(frozen=True)
class Retry:
    """Try again after ``wait`` seconds; ``note`` says why (``loud``: worth telling people)."""

    wait: float
    note: str
    loud: bool = False

    def announce(self) -> None:
        if self.loud:
            output.current().info(self.note)
        else:
            output.current().debug(self.note)


DEFAULT_OK = (200, 201, 202, 204)


def next_step(
    what: str,
    net: NetOptions,
    attempt: int,
    outcome: httpx.Response | httpx.HTTPError,
    ok: tuple[int, ...] = DEFAULT_OK,
    answers: Answers | None = None,
) -> httpx.Response | Retry:
    """The retry policy shared by ``Http`` and ``AsyncHttp``: given the outcome of attempt
    ``attempt`` (0-based) of ``what`` (e.g. ``PUT /v2/...``), the response to return, a
    ``Retry``, or (raised) the final notifyctl error. It sends and sleeps nothing."""
    last = attempt >= net.retries
    backoff = net.retry_base * 2**attempt * (0.5 + random.random() / 2)
    if isinstance(outcome, httpx.HTTPError):
        message, hint = transport_message(outcome, net.timeout)
        # Nothing ever answered: one quick retry, not the full back-off (seconds, not minutes).
        unreachable = never_connected(outcome) and attempt >= net.connect_retries
        if last or unreachable or message.startswith("TLS"):  # a distrusted cert stays so
            raise NetworkError(f"{what}: {message}", hint=hint) from outcome
        return Retry(backoff, f"{what}: {message}; retrying in {backoff:.1f} s")
    status = outcome.status_code
    # A gateway speaking for the platform (429, 502-504) is retried whatever its body, and an
    # expected redirect is read for its headers only (its body may be any page).
    judged = status not in (429, 502, 503, 504) and not (outcome.is_redirect and status in ok)
    if answers is not None and judged and not answers.theirs(outcome, success=status in ok):
        raise answers.unexpected(outcome, what)
    if status in ok:
        return outcome
    if status == 429 and not last:
        wait = retry_after(outcome, net.max_retry_after)
        wait = backoff if wait is None else wait
        return Retry(wait, f"{what}: rate limited (429); retrying in {wait:g} s", loud=True)
    if status >= 500 and not last:
        return Retry(backoff, f"{what}: HTTP {status}; retrying in {backoff:.1f} s")
    if status == 429:
        raise NetworkError(
            f"{what}: still rate limited (HTTP 429) after {net.retries} retries",
            hint="try again later",
        )
    raise error_for(outcome, what)


def client_options(net: NetOptions) -> dict[str, Any]:
    """What ``httpx.Client`` and ``httpx.AsyncClient`` are both built with."""
    return {
        "timeout": httpx.Timeout(net.timeout, connect=min(net.timeout, CONNECT_TIMEOUT)),
        "verify": net.ssl_context(),
        "follow_redirects": False,
        "trust_env": True,  # HTTPS_PROXY / NO_PROXY
    }


class Http:
    """A thin synchronous client around ``httpx.Client`` with notifyctl's retry/error rules;
    waits with ``net.sleep``."""

    def __init__(
        self,
        url: str,
        net: NetOptions,
        answers: Answers,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.net = net
        self.answers = answers
        self.client = httpx.Client(
            base_url=base_url(url), headers=dict(headers or {}), transport=transport,
            **client_options(net),
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        ok: tuple[int, ...] = DEFAULT_OK,
    ) -> httpx.Response:
        """Send one request; return the response when its status is in ``ok``."""
        what = f"{method} {path}"
        for attempt in range(self.net.retries + 1):
            outcome: httpx.Response | httpx.HTTPError
            try:
                outcome = self.client.request(method, path, json=json_body)
            except httpx.HTTPError as exc:
                outcome = exc
            step = next_step(what, self.net, attempt, outcome, ok, self.answers)
            if isinstance(step, httpx.Response):
                return step
            step.announce()
            self.net.sleep(step.wait)
        raise AssertionError("unreachable")  # the last attempt always returns or raises


class AsyncHttp:
    """The asyncio twin of ``Http`` (same policy); waits with ``asyncio.sleep``."""

    def __init__(
        self,
        url: str,
        net: NetOptions | None = None,
        *,
        answers: Answers,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.net = net or NetOptions()
        self.answers = answers
        self.client = httpx.AsyncClient(
            base_url=base_url(url), headers=dict(headers or {}), auth=auth,
            **client_options(self.net),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = DEFAULT_OK,
    ) -> httpx.Response:
        """Send one request; return the response when its status is in ``ok``."""
        what = f"{method} {path}"
        for attempt in range(self.net.retries + 1):
            outcome: httpx.Response | httpx.HTTPError
            try:
                outcome = await self.client.request(
                    method, path, json=json_body, params=params, headers=headers)
            except httpx.HTTPError as exc:
                outcome = exc
            step = next_step(what, self.net, attempt, outcome, ok, self.answers)
            if isinstance(step, httpx.Response):
                return step
            step.announce()
            await asyncio.sleep(step.wait)
        raise AssertionError("unreachable")  # the last attempt always returns or raises


T = TypeVar("T")


class AsyncHttpClient:
    """Mixin for a platform client that talks through ``self._http`` (Sigfox, Circle): use it
    as ``async with Client(...) as client``, or ``client.run(call)`` from synchronous code."""

    _http: AsyncHttp

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def run(self, call: Callable[[Self], Awaitable[T]]) -> T:
        """``call(self)`` in its own event loop, closing the client after (a command's whole
        conversation with the platform)."""

        async def main() -> T:
            async with self:
                return await call(self)

        return asyncio.run(main())
