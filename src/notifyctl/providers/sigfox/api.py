"""The Sigfox backend API v2 callback client (HTTP Basic with the API login and password).

Paths (docs/platforms/sigfox.md), relative to the API base (``https://api.sigfox.com/v2``):
``/device-types/{id}/callbacks`` (GET list, POST create), ``.../callbacks/{cb}`` (PUT partial
update, DELETE), ``.../callbacks/{cb}/enable?enabled=true|false`` (PUT),
``.../callbacks/{cb}/downlink`` (PUT, selects the BIDIR callback that answers downlinks),
``/device-types/{id}/callbacks-not-delivered`` (GET, undelivered callback errors).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from notifyctl.http import Answers, AsyncHttp, AsyncHttpClient, NetOptions
from notifyctl.providers.sigfox.spec import CallbackSpec, describe

if TYPE_CHECKING:
    import httpx

# Sigfox answers JSON (``{"message": ...}`` on errors); anything else is not the backend API.
ANSWERS = Answers("the Sigfox API's JSON")


class SigfoxClient(AsyncHttpClient):
    """Async client; use as ``async with SigfoxClient(...) as client``."""

    def __init__(
        self,
        api_url: str,
        username: str,
        password: str,
        net: NetOptions | None = None,
    ) -> None:
        self._http = AsyncHttp(api_url, net, answers=ANSWERS, auth=(username, password),
                               headers={"Accept": "application/json"})

    @staticmethod
    def _base(device_type: str) -> str:
        return f"/device-types/{quote(device_type, safe='')}/callbacks"

    def _one(self, device_type: str, callback_id: str) -> str:
        return f"{self._base(device_type)}/{quote(callback_id, safe='')}"

    async def create(self, device_type: str, spec: CallbackSpec | dict[str, Any]) -> str:
        """Create a callback (the spec is checked first); return its id."""
        body = spec.body() if isinstance(spec, CallbackSpec) else spec
        response = await self._http.request("POST", self._base(device_type), json_body=body)
        doc = ANSWERS.json(response, "create callback")
        callback_id = doc.get("id") if isinstance(doc, dict) else None
        if not isinstance(callback_id, str):
            raise ANSWERS.unexpected(response, "create callback", "no callback id")
        return callback_id

    async def list_callbacks(self, device_type: str) -> list[dict[str, Any]]:
        """Every callback of the device type as ``describe`` rows (id, type, channel, target,
        method, enabled, dead, downlink)."""
        return [describe(item) for item in await self.raw_callbacks(device_type)]

    async def raw_callbacks(self, device_type: str) -> list[dict[str, Any]]:
        response = await self._http.request("GET", self._base(device_type))
        return _items(response, "list callbacks")

    async def update(self, device_type: str, callback_id: str, changes: dict[str, Any]) -> None:
        await self._http.request("PUT", self._one(device_type, callback_id), json_body=changes)

    async def delete(self, device_type: str, callback_id: str) -> None:
        await self._http.request("DELETE", self._one(device_type, callback_id))

    async def enable(self, device_type: str, callback_id: str, enabled: bool = True) -> None:
        await self._http.request("PUT", self._one(device_type, callback_id) + "/enable",
                                 params={"enabled": "true" if enabled else "false"})

    async def disable(self, device_type: str, callback_id: str) -> None:
        await self.enable(device_type, callback_id, False)

    async def select_downlink(self, device_type: str, callback_id: str) -> None:
        """Make this BIDIR callback the one whose answer carries downlinks."""
        await self._http.request("PUT", self._one(device_type, callback_id) + "/downlink")

    async def not_delivered(
        self,
        device_type: str,
        *,
        since: int | None = None,
        before: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[dict[str, Any]]:
        """Callback deliveries that failed (``since``/``before`` in epoch ms)."""
        params = {k: str(v) for k, v in
                  {"since": since, "before": before, "limit": limit, "offset": offset}.items()
                  if v is not None}
        path = f"/device-types/{quote(device_type, safe='')}/callbacks-not-delivered"
        response = await self._http.request("GET", path, params=params)
        return _items(response, "list undelivered callbacks")


def _items(response: httpx.Response, what: str) -> list[dict[str, Any]]:
    """The ``data`` objects of a ``{"data": [...]}`` answer; any other shape is not Sigfox's."""
    doc = ANSWERS.json(response, what)
    items = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ANSWERS.unexpected(response, what, 'not {"data": [...]}')
    return items
