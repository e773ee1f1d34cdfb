"""The HTTP clients of every networked management call, and how HTTP outcomes become notifyctl
errors.

``NetOptions`` holds the network flags every networked command takes (``--request-timeout``,
``--insecure``, ``--ca-bundle``); proxies come from ``HTTPS_PROXY``/``NO_PROXY`` through httpx's
own environment support. ``next_step`` is the one retry policy: it retries what is worth
retrying (429 after its ``Retry-After``, 5xx and transport failures with exponential back-off,
each a bounded number of times) and maps the final outcome onto the error tree: 400/409/422
``InvalidRequest`` with the platform's message, 401/403 ``AuthError``, 404 ``NotFoundError``,
anything else that failed ``NetworkError``. ``Http`` (synchronous, Pelion) and ``AsyncHttp``
(asyncio, Sigfox and Circle) only send and wait; redirects are never followed (a 3xx is
returned when listed in ``ok``). ``AsyncHttpClient`` gives a client over ``AsyncHttp`` its
``async with`` and ``aclose``.
"""

from __future__ import annotations

import asyncio
import json
import random
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
    InvalidRequest,
    NetworkError,
    NotFoundError,
    NotifyctlError,
    UsageError,
)
from notifyctl.retry import parse_retry_after

DEFAULT_TIMEOUT = 30.0
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class NetOptions:
    """Network settings shared by REST and WebSocket clients."""

    timeout: float = DEFAULT_TIMEOUT
    insecure: bool = False
    ca_bundle: str | None = None
    # Bounded retries: 429 waits for Retry-After (capped), 5xx and transport errors back off.
    retries: int = 3
    retry_base: float = 0.5
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings as one context, usable by httpx and websockets alike."""
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        if self.ca_bundle:
            try:
                return ssl.create_default_context(cafile=self.ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"--ca-bundle {self.ca_bundle}: cannot load: {exc}") from exc
        return ssl.create_default_context()


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


def error_for(response: httpx.Response, what: str) -> NotifyctlError:
    """The notifyctl error for a final non-2xx response to ``what`` (e.g. ``PUT /v2/...``)."""
    status = response.status_code
    message = f"{what}: HTTP {status}: {platform_message(response)}"
    if status in (400, 409, 415, 422):
        return InvalidRequest(message)
    if status in (401, 403):
        return AuthError(message, hint="check the API key (notifyctl auth status)")
    if status == 404:
        return NotFoundError(message)
    return NetworkError(message)


def retry_after(response: httpx.Response, cap: float) -> float | None:
    """Seconds to wait from a response's ``Retry-After`` header, capped."""
    return parse_retry_after(response.headers.get("retry-after"), cap)


def _transport_message(exc: httpx.HTTPError) -> tuple[str, str | None]:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (f"TLS certificate not trusted: {cause.verify_message}",
                    "pass --ca-bundle FILE for a private CA (or --insecure to test)")
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})", "raise --request-timeout or check the network"
    if isinstance(exc, httpx.ProxyError):
        return f"proxy failed: {exc}", "check HTTPS_PROXY / NO_PROXY"
    return str(exc) or type(exc).__name__, None


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
) -> httpx.Response | Retry:
    """The retry policy shared by ``Http`` and ``AsyncHttp``: given the outcome of attempt
    ``attempt`` (0-based) of ``what`` (e.g. ``PUT /v2/...``), the response to return, a
    ``Retry``, or (raised) the final notifyctl error. It sends and sleeps nothing."""
    last = attempt >= net.retries
    backoff = net.retry_base * 2**attempt * (0.5 + random.random() / 2)
    if isinstance(outcome, httpx.HTTPError):
        message, hint = _transport_message(outcome)
        if last or (hint is not None and "TLS" in message):  # a distrusted certificate stays so
            raise NetworkError(f"{what}: {message}", hint=hint) from outcome
        return Retry(backoff, f"{what}: {message}; retrying in {backoff:.1f} s")
    status = outcome.status_code
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


def _client_options(net: NetOptions) -> dict[str, Any]:
    """What ``httpx.Client`` and ``httpx.AsyncClient`` are both built with."""
    return {
        "timeout": net.timeout,
        "verify": net.ssl_context(),
        "follow_redirects": False,
        "trust_env": True,  # HTTPS_PROXY / NO_PROXY
    }


class Http:
    """A thin synchronous client around ``httpx.Client`` with notifyctl's retry/error rules;
    waits with ``net.sleep``."""

    def __init__(
        self,
        base_url: str,
        net: NetOptions,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.net = net
        self.client = httpx.Client(
            base_url=base_url, headers=dict(headers or {}), transport=transport,
            **_client_options(net),
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
            step = next_step(what, self.net, attempt, outcome, ok)
            if isinstance(step, httpx.Response):
                return step
            step.announce()
            self.net.sleep(step.wait)
        raise AssertionError("unreachable")  # the last attempt always returns or raises


class AsyncHttp:
    """The asyncio twin of ``Http`` (same policy); waits with ``asyncio.sleep``."""

    def __init__(
        self,
        base_url: str,
        net: NetOptions | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.net = net or NetOptions()
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=dict(headers or {}), auth=auth,
            **_client_options(self.net),
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
            step = next_step(what, self.net, attempt, outcome, ok)
            if isinstance(step, httpx.Response):
                return step
            step.announce()
            await asyncio.sleep(step.wait)
        raise AssertionError("unreachable")  # the last attempt always returns or raises


def json_body(response: httpx.Response, what: str) -> Any:
    """The response's JSON; an empty body is ``None``; anything else is a ``NetworkError``."""
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise NetworkError(f"{what}: the platform answered with something not JSON") from exc


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
