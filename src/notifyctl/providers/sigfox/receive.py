"""Sigfox's receiver for ``listen``: custom callbacks, one message per request built from the
callback's template (GET query, form, JSON or text body), or BATCH_URL lines. Variables keep
their template names (``device``, ``time``, ``data``, ``seqNumber``, ``ack``...). With
``--downlink-data`` (a ``listen`` option Sigfox declares) a BIDIR request is answered
``{"<device>": {"downlinkData": "<16 hex>"}}``; otherwise 204, which Sigfox reads as "no
downlink". Sigfox does not sign; the only check is a custom Authorization header.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

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
from notifyctl.errors import UsageError, WireError
from notifyctl.events import Event

_DEVICE_KEYS = ("device", "deviceId", "device_id")
_HEX_ID = re.compile(r"[0-9A-Fa-f]{1,16}")
_FALSE = frozenset({"false", "0", ""})
_HEX16 = re.compile(r"[0-9A-Fa-f]{16}")


class SigfoxHandler(HeaderKeyed):
    provider = "sigfox"

    def __init__(self, secret: str | None, downlink_data: str | None) -> None:
        self.secret = secret
        self.downlink_data = downlink_data

    def accept(self, request: Request, verified: bool | None) -> Outcome:
        try:
            messages = parse_messages(request)
        except WireError as exc:
            return invalid(exc.message, verified=verified)
        if not messages:
            return Outcome(kind="request", status=204, verified=verified)
        events = [to_event(message, request.at) for message in messages]
        outcome = Outcome(events=events, status=204, verified=verified)
        if self.downlink_data is not None:
            answer = {
                str(event.device): {"downlinkData": self.downlink_data}
                for event, message in zip(events, messages, strict=True)
                if event.device and str(message.get("ack", "true")).lower() not in _FALSE
            }
            if answer:
                outcome.status, outcome.content_type = 200, "application/json"
                outcome.body = json.dumps(answer, separators=(",", ":")).encode()
        return outcome


def parse_messages(request: Request) -> list[dict[str, Any]]:
    """The messages of one request, each a dict of template variables."""
    query = dict(parse_qsl(request.query, keep_blank_values=True))
    body, ctype = request.body, request.content_type
    if not body.strip():
        return [query] if query else []
    if "json" in ctype or (not ctype and body.lstrip()[:1] in (b"{", b"[")):
        obj = json_body(body)
        items = obj if isinstance(obj, list) else [obj]
        if not all(isinstance(item, dict) for item in items):
            raise WireError("a Sigfox JSON body must be an object or an array of objects")
        return [{**query, **item} for item in items]
    if "xml" in ctype:
        from notifyctl import xmlsafe

        root = xmlsafe.parse(body)
        return [{**query, **{xmlsafe.local(c.tag): (c.text or "") for c in root}}]
    text = _text(body)
    if "x-www-form-urlencoded" in ctype or (not ctype and "=" in text and "\n" not in text):
        return [{**query, **dict(parse_qsl(text, keep_blank_values=True))}]
    return [_line(line) for line in text.splitlines() if line.strip()]


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(f"Sigfox body is not UTF-8 text (byte {exc.start})") from exc


def _line(line: str) -> dict[str, Any]:
    """A text or BATCH_URL line; ``device;time;data;`` (the documented line pattern) is split,
    anything else is kept as ``line``."""
    parts = line.strip().split(";")
    if len(parts) >= 3 and _HEX_ID.fullmatch(parts[0]) and parts[1].isdigit():
        return {"device": parts[0], "time": parts[1], "data": parts[2]}
    return {"line": line}


def to_event(message: dict[str, Any], received_at: str) -> Event:
    device = next((message[k] for k in _DEVICE_KEYS if message.get(k) not in (None, "")), None)
    if "infoCode" in message:
        kind = "acknowledge"
    elif "temp" in message or "batt" in message:
        kind = "status"
    elif "data" in message:
        kind = "uplink"
    else:
        kind = "message"
    seq = message.get("seqNumber")
    return Event(
        provider="sigfox",
        kind=kind,
        device=as_text(device),
        time=iso_time(message.get("time")) or received_at,
        id=f"{device}:{seq}" if device is not None and seq is not None else None,
        payload=message.get("data", message.get("line")),
        raw=message,
    )


def make(settings: ReceiverSettings) -> SigfoxHandler:
    downlink: str | None = settings.options.get("downlink_data")
    if downlink is not None and not _HEX16.fullmatch(downlink):
        raise UsageError(f"--downlink-data {downlink!r} must be exactly 16 hex characters "
                         "(8 bytes, Sigfox's downlink size)")
    return SigfoxHandler(settings.verify_key, downlink)
