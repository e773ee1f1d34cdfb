"""The Logitech Circle management client: server notifications (register, unregister) and the
client-notification URL for the live stream. Every request carries ``X-API-Key`` and
``Authorization: Bearer``; the one-time WebSocket URL is then used without them.

ASSUMPTION (the one place it lives): the method and path of Register/Unregister Server
Notifications are not in any public copy of the docs. notifyctl assumes
``POST`` / ``DELETE`` on ``/api/accounts/self/notifications/server`` (beside the documented
client-notification ``POST /api/accounts/self/notifications``). A profile overrides them with
the settings ``server_notifications_path``, ``server_notifications_register_method`` and
``server_notifications_unregister_method`` (``notifyctl profile add ... --set KEY=VALUE``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from notifyctl.errors import ConfigError, UsageError
from notifyctl.http import Answers, AsyncHttp, AsyncHttpClient, NetOptions
from notifyctl.providers.circle.wire import check_event_types

CLIENT_NOTIFICATIONS_PATH = "/api/accounts/self/notifications"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Circle answers JSON (or nothing); anything else is not the Circle API.
ANSWERS = Answers("the Circle API's JSON")


@dataclass(frozen=True)
class ServerNotificationsRoute:
    """Where register/unregister go: an assumption, see the module docstring."""

    path: str = "/api/accounts/self/notifications/server"
    register_method: str = "POST"
    unregister_method: str = "DELETE"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ServerNotificationsRoute:
        default = cls()
        path = str(settings.get("server_notifications_path") or default.path)
        register = str(settings.get("server_notifications_register_method")
                       or default.register_method).upper()
        unregister = str(settings.get("server_notifications_unregister_method")
                         or default.unregister_method).upper()
        if not path.startswith("/"):
            raise ConfigError(f"server_notifications_path {path!r} must start with '/'")
        for key, method in (("register", register), ("unregister", unregister)):
            if method not in ("POST", "PUT", "PATCH", "DELETE"):
                raise ConfigError(f"server_notifications_{key}_method {method!r}: "
                                  "use POST, PUT, PATCH or DELETE")
        return cls(path, register, unregister)


def generate_auth_key() -> str:
    """A strong HMAC key for ``authKey`` (256 random bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def registration_body(
    url: str,
    event_types: Iterable[str],
    auth_key: str,
    *,
    user_data: str | None = None,
    yes_motion: bool = False,
) -> dict[str, Any]:
    """The register body; ``user_data`` is JSON text (``--user-data``), echoed by Circle."""
    parts = urlsplit(url)
    loopback = parts.hostname in _LOOPBACK
    if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise UsageError(f"URL {url!r}: Circle delivers to https URLs "
                         "(http only for a local listener on 127.0.0.1/localhost)")
    if len(auth_key) < 16:
        raise UsageError("the auth key is shorter than 16 characters; let notifyctl generate one")
    body: dict[str, Any] = {
        "url": url,
        "eventTypes": check_event_types(event_types, yes_motion=yes_motion),
        "authKey": auth_key,
    }
    if user_data is not None:
        try:
            body["userData"] = json.loads(user_data)
        except (ValueError, RecursionError) as exc:
            raise UsageError(f"--user-data is not JSON: {exc}") from None
    return body


class CircleClient(AsyncHttpClient):
    """Async client; use as ``async with CircleClient(...) as client``."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        access_token: str,
        *,
        route: ServerNotificationsRoute | None = None,
        net: NetOptions | None = None,
    ) -> None:
        self.route = route or ServerNotificationsRoute()
        self._http = AsyncHttp(
            api_url, net, answers=ANSWERS,
            headers={"X-API-Key": api_key, "Authorization": f"Bearer {access_token}",
                     "Accept": "application/json"},
        )

    async def register(self, body: Mapping[str, Any]) -> Any:
        """Register (or overwrite) this client's server notifications; returns the answer's
        JSON (None when empty). Build ``body`` with ``registration_body``."""
        response = await self._http.request(self.route.register_method, self.route.path,
                                            json_body=dict(body))
        return ANSWERS.json(response, "register server notifications")

    async def unregister(self) -> None:
        await self._http.request(self.route.unregister_method, self.route.path)

    async def client_notification_url(
        self, accessories: Iterable[str] | None = None, event_types: Iterable[str] | None = None
    ) -> str:
        """A fresh one-time WebSocket URL (valid about 30 s; never reuse it)."""
        body: dict[str, Any] = {}
        if accessories:
            body["accessories"] = list(accessories)
        if event_types:
            body["eventTypes"] = list(event_types)
        response = await self._http.request(
            "POST", CLIENT_NOTIFICATIONS_PATH, json_body=body,
            headers={"X-Logi-NoRedirect": "true"}, ok=(200, 201, 204, 301, 302, 303, 307, 308),
        )
        url: str | None = response.headers.get("X-Logi-WebSocket-Url")
        if not url and response.is_redirect:
            url = response.headers.get("Location")  # a server ignoring X-Logi-NoRedirect
        if not url or urlsplit(url).scheme not in ("ws", "wss"):
            raise ANSWERS.unexpected(response, "ask for a client-notification URL",
                                     "no X-Logi-WebSocket-Url with a ws(s) URL")
        return url
