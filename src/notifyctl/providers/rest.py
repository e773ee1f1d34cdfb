"""An async twin of ``notifyctl.http.Http`` for the provider clients written with asyncio (Sigfox,
Circle): same ``NetOptions`` (timeout, TLS, bounded retries), same status -> error mapping
(``http.error_for``), same transport messages; only the waiting is ``asyncio.sleep``.
Redirects are never followed (a 3xx is returned when listed in ``ok``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

import httpx  # noqa: TID253 - provider clients are imported only by commands that run

from notifyctl import output
from notifyctl.errors import NetworkError
from notifyctl.http import NetOptions, _transport_message, error_for, retry_after


class AsyncHttp:
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
            base_url=base_url.rstrip("/"),
            headers=dict(headers or {}),
            auth=auth,
            timeout=self.net.timeout,
            verify=self.net.ssl_context(),
            follow_redirects=False,
            trust_env=True,
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
        ok: tuple[int, ...] = (200, 201, 202, 204),
    ) -> httpx.Response:
        """Send one request (retrying 429/5xx/transport failures a bounded number of times)."""
        what = f"{method} {path}"
        net = self.net
        for attempt in range(net.retries + 1):
            last = attempt == net.retries
            backoff = net.retry_base * 2**attempt * (0.5 + random.random() / 2)
            try:
                response = await self.client.request(
                    method, path, json=json_body, params=params, headers=headers)
            except httpx.HTTPError as exc:
                message, hint = _transport_message(exc)
                if last or (hint is not None and "TLS" in message):
                    raise NetworkError(f"{what}: {message}", hint=hint) from exc
                output.current().debug(f"{what}: {message}; retrying in {backoff:.1f} s")
                await asyncio.sleep(backoff)
                continue
            status = response.status_code
            if status in ok:
                return response
            if (status == 429 or status >= 500) and not last:
                wait = retry_after(response, net.max_retry_after) if status == 429 else None
                await asyncio.sleep(backoff if wait is None else wait)
                continue
            raise error_for(response, what)
        raise AssertionError("unreachable")


def json_body(response: httpx.Response, what: str) -> Any:
    """The response's JSON; an empty body is ``None``; anything else is a ``NetworkError``."""
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise NetworkError(f"{what}: the platform answered with something not JSON") from exc
