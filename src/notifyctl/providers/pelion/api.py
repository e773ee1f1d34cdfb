"""Pelion channel management over REST: the callback channel, the WebSocket channel, and which of
the two (if any) an API key has.

One API key has at most one channel, of one type. Registering a second type is refused with a
400; ``PelionApi`` then looks at the existing channel so the error can say how to remove it.
Input is validated before anything is sent (the platform's own limits: URL plus header names
and values at most 400 characters, ``max_chunk_size`` 100..10000).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from notifyctl.errors import InvalidRequest, NotFoundError, UsageError
from notifyctl.http import Answers, Http, NetOptions

CALLBACK = "/v2/notification/callback"
WEBSOCKET = "/v2/notification/websocket"
CHANNEL = "/v2/notification/channel"
WEBSOCKET_CONNECT = "/v2/notification/websocket-connect"

WEBHOOK_LIMIT = 400
CHUNK_MIN, CHUNK_MAX = 100, 10_000
# Pelion answers JSON (errors may be plain text); anything else came from somewhere else.
ANSWERS = Answers("Pelion's JSON")

# delivery_mechanism -> the name people use, and the command that removes it.
CHANNEL_TYPES = {"CALLBACK": "callback", "WEB_SOCKET": "websocket", "LONG_POLLING": "pull"}
REMOVE_HINT = {
    "CALLBACK": "remove it first with 'notifyctl unregister'",
    "WEB_SOCKET": "remove it first with 'notifyctl unregister --websocket'",
    "LONG_POLLING": "the deprecated pull channel must be removed first"
    " (DELETE /v2/notification/pull)",
}


@dataclass(frozen=True)
class Serialization:
    """The channel's serialization options (SerializationConfigData, type v2)."""

    max_chunk_size: int | None = None
    include_uid: bool = False
    include_timestamp: bool = False
    include_original_ep: bool = False
    deregistrations_as_object: bool = False

    def validate(self) -> None:
        size = self.max_chunk_size
        if size is not None and not CHUNK_MIN <= size <= CHUNK_MAX:
            raise UsageError(f"--max-chunk-size {size}: must be {CHUNK_MIN}..{CHUNK_MAX}")

    def body(self) -> dict[str, Any] | None:
        """The JSON to send, or None when every option is at its default (server default)."""
        cfg = {
            "include_uid": self.include_uid,
            "include_timestamp": self.include_timestamp,
            "include_original_ep": self.include_original_ep,
            "deregistrations_as_object": self.deregistrations_as_object,
        }
        if self.max_chunk_size is None and not any(cfg.values()):
            return None
        data: dict[str, Any] = {"type": "v2", "cfg": cfg}
        if self.max_chunk_size is not None:
            data["max_chunk_size"] = self.max_chunk_size
        return data


def validate_webhook(url: str, headers: Mapping[str, str]) -> list[str]:
    """Check a callback URL and headers against the platform's rules; return warnings."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url!r}: not an http(s) URL with a host")
    if any(c.isspace() for c in url):
        raise UsageError(f"{url!r}: URL may not contain spaces")
    size = len(url) + sum(len(k) + len(v) for k, v in headers.items())
    if size > WEBHOOK_LIMIT:
        raise UsageError(
            f"URL plus header names and values are {size} characters;"
            f" the platform allows at most {WEBHOOK_LIMIT}"
        )
    warnings = []
    if parts.scheme != "https":
        warnings.append(
            f"{url} is not HTTPS: events (and any auth header) travel in clear text;"
            " the platform may refuse it"
        )
    return warnings


class PelionApi:
    """The notification-channel endpoints of one API key."""

    def __init__(self, api_url: str, api_key: str, net: NetOptions | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.net = net or NetOptions()
        self.http = Http(self.api_url, self.net, ANSWERS, {"Authorization": f"Bearer {api_key}"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PelionApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- which channel --------------------------------------------------------------------
    def get_channel(self) -> str | None:
        """``CALLBACK`` / ``WEB_SOCKET`` / ``LONG_POLLING``, or None when there is none."""
        try:
            response = self.http.request("GET", CHANNEL, ok=(200,))
        except NotFoundError:
            return None
        data = self._object(response, f"GET {CHANNEL}")
        mechanism = data.get("delivery_mechanism")
        return str(mechanism) if mechanism else None

    @staticmethod
    def _object(response: Any, what: str) -> dict[str, Any]:
        """A JSON object answer; anything else (even ``[]``) is not Pelion's."""
        data = ANSWERS.json(response, what)
        if not isinstance(data, dict):
            raise ANSWERS.unexpected(response, what, "not a JSON object")
        return data

    def _explain_conflict(self, exc: InvalidRequest, wanted: str) -> InvalidRequest:
        """A 400 on PUT usually means another channel type exists: say how to remove it."""
        try:
            existing = self.get_channel()
        except Exception:  # the original error matters more than this probe
            return exc
        if existing is None or existing == wanted:
            return exc
        kind = CHANNEL_TYPES.get(existing, existing)
        return InvalidRequest(
            f"{exc.message} (this API key already has a {kind} channel)",
            hint=REMOVE_HINT.get(existing),
        )

    # -- callback channel -----------------------------------------------------------------
    def put_callback(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        serialization: Serialization | None = None,
    ) -> None:
        """Register (or replace) the callback URL; the platform verifies it with a PUT."""
        body: dict[str, Any] = {"url": url}
        if headers:
            body["headers"] = dict(headers)
        config = serialization.body() if serialization else None
        if config is not None:
            body["serialization"] = config
        try:
            self.http.request("PUT", CALLBACK, json_body=body, ok=(200, 201, 204))
        except InvalidRequest as exc:
            raise self._explain_conflict(exc, "CALLBACK") from exc

    def get_callback(self) -> dict[str, Any]:
        response = self.http.request("GET", CALLBACK, ok=(200,))
        return self._object(response, f"GET {CALLBACK}")

    def delete_callback(self) -> None:
        try:
            self.http.request("DELETE", CALLBACK, ok=(200, 202, 204))
        except NotFoundError as exc:
            raise self._missing("callback", "WEB_SOCKET", exc) from exc

    # -- WebSocket channel ----------------------------------------------------------------
    def ensure_websocket_channel(self, serialization: Serialization | None = None) -> bool:
        """Create the WebSocket channel; True when created (201), False when it existed (200).

        Re-putting an existing channel has no effect on it and keeps its queued events.
        """
        config = serialization.body() if serialization else None
        body = {"serialization": config} if config is not None else None
        try:
            response = self.http.request("PUT", WEBSOCKET, json_body=body, ok=(200, 201, 204))
        except InvalidRequest as exc:
            raise self._explain_conflict(exc, "WEB_SOCKET") from exc
        return response.status_code == 201

    def get_websocket_channel(self) -> dict[str, Any]:
        response = self.http.request("GET", WEBSOCKET, ok=(200,))
        return self._object(response, f"GET {WEBSOCKET}")

    def delete_websocket_channel(self) -> None:
        """Delete the WebSocket channel (its queue is lost; an open socket is closed)."""
        try:
            self.http.request("DELETE", WEBSOCKET, ok=(200, 202, 204))
        except NotFoundError as exc:
            raise self._missing("WebSocket", "CALLBACK", exc) from exc

    def _missing(self, kind: str, other: str, exc: NotFoundError) -> NotFoundError:
        try:
            existing = self.get_channel()
        except Exception:
            existing = None
        hint = None
        if existing == other:
            flag = " --websocket" if other == "WEB_SOCKET" else ""
            hint = (f"this API key has a {CHANNEL_TYPES[other]} channel;"
                    f" remove it with 'notifyctl unregister{flag}'")
        return NotFoundError(f"no {kind} channel is registered for this API key", hint=hint)

    # -- everything about the key's channel, for `list` -----------------------------------
    def describe(self) -> list[dict[str, Any]]:
        """The key's channel as a list of at most one record (empty when there is none)."""
        mechanism = self.get_channel()
        if mechanism is None:
            return []
        record: dict[str, Any] = {"type": CHANNEL_TYPES.get(mechanism, mechanism.lower())}
        try:
            if mechanism == "CALLBACK":
                details = self.get_callback()
                record["url"] = details.get("url")
                record["headers"] = details.get("headers") or {}
                record["serialization"] = details.get("serialization")
            elif mechanism == "WEB_SOCKET":
                details = self.get_websocket_channel()
                record["status"] = details.get("status")
                record["queue_size"] = details.get("queue_size", details.get("queueSize"))
                record["serialization"] = details.get("serialization")
        except NotFoundError:
            pass  # deleted between the two requests: the type is all there is to show
        return [record]

    def websocket_url(self) -> str:
        """``wss://host/v2/notification/websocket-connect`` for this API URL."""
        return websocket_url(self.api_url)


def websocket_url(api_url: str) -> str:
    base = api_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://"):]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://"):]
    return base + WEBSOCKET_CONNECT

