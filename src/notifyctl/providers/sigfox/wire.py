"""Sigfox deliveries, pure: a callback request in, events out; a callback and messages in, the
requests Sigfox would send out (replay, sandbox); and the BIDIR downlink answer.

A delivery's shape is whatever its callback's templates made it, so decoding reads the usual
carriers: a JSON object (or array of objects), a form body, the query string of a GET, and
BATCH_URL text lines (read back through their ``linePattern`` when given, else one event per
line, JSON lines decoded). Each message gives one ``Event``:

- ``kind``: the callback type when the caller knows it, else inferred from the variables
  present (``infoCode`` -> service/ack, ``temp``/``batt`` -> service/status, ``lqi`` or
  ``computedLocation`` -> service/data-advanced, ``ack``/``longPolling`` -> data/bidir,
  ``data`` -> data/uplink, ``severity``/``info`` -> error, otherwise ``message``);
- ``device``; ``time`` = ``time`` (epoch seconds) as ISO-8601 UTC; ``id`` = ``device:seqNumber``;
  ``payload`` = ``data`` (hex text) or the line itself; ``raw`` = the variables as received.

Anything else (not UTF-8, malformed JSON or form, a bad ``time``, a line not matching the
pattern) is a ``WireError`` saying where; no other exception escapes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from notifyctl.errors import WireError
from notifyctl.events import Event
from notifyctl.jsonwire import loads
from notifyctl.providers.sigfox.templates import parse_line, pattern_regex, render

PROVIDER = "sigfox"
FORM = "application/x-www-form-urlencoded"
DOWNLINK_HEX = re.compile(r"^[0-9A-Fa-f]{16}$")
_MAX_FIELDS = 1000

_KIND_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("service/ack", ("infoCode", "downlinkAck")),
    ("service/status", ("temp", "batt")),
    ("service/data-advanced", ("lqi", "computedLocation", "linkQuality")),
    ("data/bidir", ("ack", "longPolling")),
    ("error", ("severity", "info")),
    ("data/uplink", ("data",)),
)


def decode(
    body: bytes,
    *,
    content_type: str | None = None,
    query: str = "",
    line_pattern: str | None = None,
    kind: str | None = None,
) -> list[Event]:
    """Every message of one callback request (see the module docstring)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(f"body: not UTF-8 (byte {exc.start})") from exc
    media = (content_type or "").split(";")[0].strip().lower()
    query_fields = _form(query, "query") if query else {}
    if line_pattern is not None:
        return _lines(text, kind, line_pattern)
    stripped = text.strip()
    if not stripped:
        return [to_event(query_fields, kind)] if query_fields else []
    if media == "application/json" or (not media and stripped[:1] in "{["):
        return [to_event({**query_fields, **item}, kind) for item in _json_objects(stripped)]
    if media == FORM or (not media and "=" in stripped and "\n" not in stripped):
        return [to_event({**query_fields, **_form(stripped, "body")}, kind)]
    return _lines(text, kind, None)


def _json_objects(text: str) -> list[dict[str, Any]]:
    doc = loads(text, "body")
    items = doc if isinstance(doc, list) else [doc]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            where = f"body[{index}]" if isinstance(doc, list) else "body"
            raise WireError(f"{where}: expected a JSON object of callback variables")
    return items


def _form(text: str, where: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True,
                          max_num_fields=_MAX_FIELDS, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"{where}: malformed form data: {exc}") from None
    return dict(pairs)


def _lines(text: str, kind: str | None, line_pattern: str | None) -> list[Event]:
    regex = pattern_regex(line_pattern) if line_pattern is not None else None
    events: list[Event] = []
    for number, full in enumerate(text.split("\n"), start=1):
        line = full.removesuffix("\r")
        if not line.strip():
            continue
        try:
            if line_pattern is not None:
                events.append(to_event(parse_line(line, line_pattern, regex), kind))
            elif line.lstrip().startswith("{"):
                events.extend(to_event(item, kind) for item in _json_objects(line))
            else:
                events.append(Event(provider=PROVIDER, kind=kind or "message", payload=line,
                                    raw=line))
        except WireError as exc:
            raise WireError(f"line {number}: {exc.message}") from None
    return events


def to_event(fields: Mapping[str, Any], kind: str | None = None) -> Event:
    """One message's variables as an event (``WireError`` names a bad field)."""
    device = fields.get("device")
    seq = fields.get("seqNumber")
    data = fields.get("data")
    return Event(
        provider=PROVIDER,
        kind=kind or infer_kind(fields),
        device=None if device is None else str(device),
        time=_time(fields.get("time")),
        id=f"{device}:{seq}" if device is not None and seq is not None else None,
        payload=data if isinstance(data, str) else None,
        raw=dict(fields),
    )


def infer_kind(fields: Mapping[str, Any]) -> str:
    for kind, markers in _KIND_MARKERS:
        if any(marker in fields for marker in markers):
            return kind
    return "message"


def _time(value: object) -> str | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = float(value) if isinstance(value, (int, float, str)) else float("nan")
        stamp = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise WireError(f"time: {str(value)[:40]!r} is not epoch seconds") from None
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- what Sigfox sends (replay, sandbox) --------------------------------------------------

@dataclass(frozen=True)
class Rendered:
    """One request Sigfox would make for a callback."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def render_request(callback: Mapping[str, Any], fields: Mapping[str, Any]) -> Rendered:
    """The URL-channel request for one message (``callback`` = a create body or list item)."""
    method = str(callback.get("httpMethod") or "GET").upper()
    url = render(str(callback.get("url", "")), fields, url=True)
    headers = {str(k): render(str(v), fields) for k, v in (callback.get("headers") or {}).items()}
    if method == "GET":
        return Rendered(method, url, headers)
    content_type = str(callback.get("contentType") or FORM)
    template = callback.get("bodyTemplate")
    if template is not None:
        body = render(str(template), fields)
    elif content_type == "application/json":
        body = json.dumps(dict(fields), separators=(",", ":"))
    else:
        body = urlencode({k: _text(v) for k, v in fields.items()})
    headers["Content-Type"] = content_type
    return Rendered(method, url, headers, body.encode("utf-8"))


def render_batch(callback: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]) -> Rendered:
    """The BATCH_URL request for messages grouped in one window: one ``linePattern`` line each,
    separated by ``\\n`` (the separator is not in the stored docs [gap])."""
    pattern = str(callback.get("linePattern") or "")
    lines = [render(pattern, message) for message in messages]
    url = render(str(callback.get("url", "")), messages[0] if messages else {}, url=True)
    body = "\n".join(lines).encode("utf-8")
    method = str(callback.get("httpMethod") or "POST").upper()
    return Rendered(method, url, {"Content-Type": "text/plain"}, body)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def message_fields(
    device: str, seq_number: int, data: str, *, time: int, device_type_id: str,
    duplicate: bool = False, station: str = "0A1B", snr: float = 12.5, rssi: float = -110.0,
) -> dict[str, Any]:
    """A DATA message's variables as Sigfox fills them (the sandbox's generated uplinks)."""
    return {"device": device, "time": time, "data": data, "seqNumber": seq_number,
            "deviceTypeId": device_type_id, "duplicate": duplicate, "snr": snr,
            "avgSnr": snr, "rssi": rssi, "station": station, "lat": 0, "lng": 0,
            "ack": False, "longPolling": False}


# ---- BIDIR downlink answers ---------------------------------------------------------------

def check_downlink(device: str, data: str) -> str:
    if not isinstance(data, str) or not DOWNLINK_HEX.match(data):
        raise WireError(f"{device}.downlinkData: must be exactly 16 hex characters (8 bytes), "
                        f"got {str(data)[:40]!r}")
    return data.lower()


def bidir_answer(downlinks: Mapping[str, str | None]) -> bytes:
    """The receiver's JSON answer: ``{device: {"downlinkData": hex}}`` or ``{"noData": true}``."""
    doc: dict[str, dict[str, Any]] = {}
    for device, data in downlinks.items():
        doc[device] = {"noData": True} if data is None else {
            "downlinkData": check_downlink(device, data)}
    return json.dumps(doc, separators=(",", ":")).encode()


def parse_bidir_answer(
    status: int, body: bytes, content_type: str | None = None,
    devices: Iterable[str] | None = None,
) -> dict[str, str | None]:
    """What a receiver answered to a BIDIR callback: device -> downlink hex (``None`` = no data).

    204 (or any 2xx with an empty body) means no downlink; other statuses are failures for the
    caller to retry. Unknown devices are ignored when ``devices`` is given, as Sigfox does.
    """
    if not 200 <= status < 300:
        raise WireError(f"BIDIR answer: HTTP {status} is not 2xx")
    if status == 204 or not body.strip():
        return {}
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise WireError(f"BIDIR answer: Content-Type must be application/json, not {media!r}")
    doc = loads(body, "BIDIR answer")
    if not isinstance(doc, dict):
        raise WireError("BIDIR answer: expected an object of device -> {downlinkData}")
    wanted = set(devices) if devices is not None else None
    answers: dict[str, str | None] = {}
    for device, entry in doc.items():
        if wanted is not None and device not in wanted:
            continue
        if not isinstance(entry, dict):
            raise WireError(f"BIDIR answer: {device}: expected an object")
        if entry.get("noData") is True and "downlinkData" not in entry:
            answers[device] = None
        elif "downlinkData" in entry:
            answers[device] = check_downlink(device, entry["downlinkData"])
        else:
            raise WireError(f"BIDIR answer: {device}: needs downlinkData or noData")
    return answers
