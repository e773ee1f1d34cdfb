"""Pelion's ``channels`` capability: the callback channel (and the WebSocket channel) of an API
key, registered, listed and removed through ``api.PelionApi``; returns data, prints nothing.

``register`` sends the serialization options (``--max-chunk-size``, ``--include-*``) and the
user's headers; ``unregister --websocket`` removes the WebSocket channel instead; ``list``
shows both channels with header values masked (they are often the receiver's credentials).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from notifyctl.contract.manage import Change, Listing, ManageContext

if TYPE_CHECKING:
    from notifyctl.providers.pelion.api import PelionApi

COLUMNS = ("type", "url", "headers", "status", "queue", "serialization")


class PelionChannels:
    def __init__(self, context: ManageContext) -> None:
        self.context = context

    def _api(self) -> PelionApi:
        from notifyctl.providers.pelion.api import PelionApi

        conn = self.context.connection
        return PelionApi(conn.api_url, self.context.secret("api_key"), self.context.net)

    def register(self, url: str, headers: Mapping[str, str]) -> Change:
        from notifyctl.output import inert_str
        from notifyctl.providers.pelion.api import Serialization, validate_webhook
        from notifyctl.redaction import mask_headers, mask_query

        options = self.context.options
        serialization = Serialization(
            options["max_chunk_size"], options["include_uid"], options["include_timestamp"],
            options["include_original_ep"], options["deregistrations_as_object"])
        serialization.validate()
        warnings = validate_webhook(url, headers)
        with self._api() as api:
            for warning in warnings:
                self.context.warn(warning)
            api.put_callback(url, dict(headers), serialization)
        # -o json: header values masked, query tokens too.
        return Change(f"registered callback {inert_str(url)}",
                      {"provider": "pelion", "type": "callback", "url": mask_query(url),
                       "headers": mask_headers(dict(headers)),
                       "serialization": serialization.body()})

    def unregister(self, target: str | None) -> Change:
        websocket = bool(self.context.options.get("websocket"))
        with self._api() as api:
            if websocket:
                api.delete_websocket_channel()
            else:
                api.delete_callback()
        return Change(f"deleted the {'WebSocket' if websocket else 'callback'} channel",
                      {"provider": "pelion", "type": "websocket" if websocket else "callback",
                       "removed": True})

    def list(self) -> Listing:
        from notifyctl.redaction import mask_headers

        with self._api() as api:
            records = api.describe()
        for record in records:
            # Header values are often credentials for the receiver: never show them in full.
            if isinstance(record.get("headers"), dict):
                record["headers"] = mask_headers(record["headers"])
        rows = [[r.get("type"), r.get("url"), _compact(r.get("headers")), r.get("status"),
                 r.get("queue_size"), _summary(r.get("serialization"))] for r in records]
        return Listing(records, COLUMNS, rows)


def make(context: ManageContext) -> PelionChannels:
    return PelionChannels(context)


def _summary(serialization: Any) -> str:
    """``chunk 500, include_uid`` rather than the whole JSON: the options that are on."""
    if not isinstance(serialization, dict):
        return ""
    parts = []
    if serialization.get("max_chunk_size") is not None:
        parts.append(f"chunk {serialization['max_chunk_size']}")
    cfg = serialization.get("cfg")
    if isinstance(cfg, dict):
        parts.extend(str(k) for k, v in cfg.items() if v is True or str(v).lower() == "true")
    return ", ".join(parts)


def _compact(value: Any) -> str:
    if value in (None, {}, []):
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
