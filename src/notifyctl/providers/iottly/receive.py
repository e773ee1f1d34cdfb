"""Iottly's receiver for ``listen``: webhooks, ``{"msg": {...}}`` (``from`` is the device,
``payload`` the data) or, with "payload only", the bare payload. Iottly does not sign; the only
check is a custom header set in the dashboard (``--verify-key-env``: Authorization)."""

from __future__ import annotations

from typing import Any

from notifyctl.contract.receive import (
    HeaderKeyed,
    Outcome,
    ReceiverSettings,
    Request,
    as_text,
    invalid,
    iso_time,
    json_body,
)
from notifyctl.errors import WireError
from notifyctl.events import Event


class IottlyHandler(HeaderKeyed):
    provider = "iottly"

    def __init__(self, secret: str | None) -> None:
        self.secret = secret

    def accept(self, request: Request, verified: bool | None) -> Outcome:
        if not request.body.strip():
            return Outcome(kind="request", verified=verified)
        try:
            obj: Any = json_body(request.body)
        except WireError as exc:
            if "json" in request.content_type or not request.content_type:
                return invalid(exc.message, verified=verified)
            return Outcome(events=[_opaque(request)], verified=verified)
        return Outcome(events=[decode(obj, request.at)], verified=verified)


def decode(obj: Any, received_at: str) -> Event:
    msg = obj.get("msg") if isinstance(obj, dict) else None
    if isinstance(msg, dict):
        return Event(
            provider="iottly",
            kind="message",
            device=as_text(msg.get("from")),
            time=iso_time(msg.get("timestamp")) or received_at,
            payload=msg.get("payload"),
            raw=obj,
        )
    return Event(provider="iottly", kind="message", time=received_at, payload=obj, raw=obj)


def _opaque(request: Request) -> Event:
    """A payload-only body that is not JSON: kept as text, or base64 when not UTF-8."""
    import base64

    try:
        return Event(provider="iottly", kind="message", time=request.at,
                     payload=request.body.decode("utf-8"), content_type=request.content_type)
    except UnicodeDecodeError:
        return Event(provider="iottly", kind="message", time=request.at,
                     payload_b64=base64.b64encode(request.body).decode("ascii"),
                     content_type=request.content_type)


def make(settings: ReceiverSettings) -> IottlyHandler:
    return IottlyHandler(settings.verify_key)
