"""Delivered ThingSpace callbacks, pure: bytes in, ``Callback``/``Event`` out, and back.

Two forms reach a registered URL as an HTTP POST:

- SOAP (UWS): ``Envelope/Body/CallbackRequest`` in ``http://nphase.com/unifiedwebservice/v2``
  with ``Username``, ``Password``, ``RequestId``, ``Device`` (``Kind``, ``Identifier``) and
  ``Data``, whose children come in a fixed order (``DATA_FIELDS``): the one matching the service
  is filled, the others are ``xsi:nil``.
- REST JSON: ``username``, ``password``, ``requestId``, ``deviceIds`` [{id, kind}], one
  ``<x>Response`` object or ``faultResponse`` {faultcode, faultstring}, optional ``status``,
  ``callbackCount`` and ``maxCallbackThreshold``.

An event's ``kind`` is the service the filled SOAP ``Data`` child belongs to (``DeviceUsage``
for ``Usage``), or the REST ``<x>Response`` key; a fault in either form is ``fault``. The
callback password is a secret: ``raw`` shows it as ``***``. XML goes through
``notifyctl.xmlsafe``: no DTDs, no entities, bounded depth. Edits of captured bodies (the
credentials for ``replay``, ``callbackCount`` for retries) live in ``rewrite``.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from notifyctl import xmlsafe
from notifyctl.errors import WireError
from notifyctl.events import Event
from notifyctl.jsonwire import loads
from notifyctl.providers.thingspace.soap import NS_ENV, NS_V2, NS_XSI

PROVIDER = "thingspace"
MAX_DEPTH = 64
MASK = "***"
# Children of CallbackRequest/Data in schema order; only the service's own one is filled.
DATA_FIELDS: tuple[str, ...] = (
    "CarrierService", "ExternalProvisioningChange", "PromoChange", "Usage", "SMSDelivery",
    "PRLInformation", "DeviceSuspendStatus", "Fault", "Comment", "Summary", "Status",
)
# The trailing fields carry ResumeTrackingNotification (Comment) and its summary/status.
_TRAILER = ("Comment", "Summary", "Status")
SERVICE_FIELD: dict[str, str] = {
    "CarrierService": "CarrierService",
    "ExternalProvisioningChanges": "ExternalProvisioningChange",
    "PromoChange": "PromoChange",
    "DeviceUsage": "Usage",
    "SMSDeliveryConfirmation": "SMSDelivery",
    "DevicePRLInformation": "PRLInformation",
    "DeviceSuspensionStatus": "DeviceSuspendStatus",
    "ResumeTrackingNotification": "Comment",
}
FIELD_SERVICE = {value: key for key, value in SERVICE_FIELD.items()}
DEVICE_KINDS = ("ESN", "ICCID", "IMEI", "MDN", "MEID", "MIN")
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"
_NIL = f"{{{NS_XSI}}}nil"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

Form = Literal["soap", "rest"]


@dataclass(frozen=True)
class DeviceId:
    kind: str
    id: str


@dataclass
class Callback:
    """One delivered callback, either form, with the credentials it carried."""

    form: Form
    kind: str
    request_id: str | None
    devices: list[DeviceId]
    username: str
    password: str = field(repr=False)
    payload: Any = None
    fields: list[str] = field(default_factory=list)  # SOAP Data children / REST keys filled
    status: str | None = None
    callback_count: int | None = None
    max_callback_threshold: int | None = None
    raw: Any = None  # the body as data, password masked

    def credentials_match(self, username: str, password: str) -> bool:
        """Constant-time check of the credentials a receiver expects."""
        user_ok = hmac.compare_digest(self.username.encode(), username.encode())
        password_ok = hmac.compare_digest(self.password.encode(), password.encode())
        return user_ok and password_ok


# ---- decoding -----------------------------------------------------------------------------------

def sniff(body: bytes, content_type: str | None = None) -> Form:
    """Which form a body is: by content type when it says, else by its first byte."""
    ctype = (content_type or "").lower()
    if "json" in ctype:
        return "rest"
    if "xml" in ctype:
        return "soap"
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"<":
        return "soap"
    if start in (b"{", b"["):
        return "rest"  # an array is JSON too: decode_rest then says it is not an object
    raise WireError("not a ThingSpace callback: neither a SOAP envelope nor a JSON object")


def decode_callback(body: bytes, content_type: str | None = None) -> Callback:
    return decode_soap(body) if sniff(body, content_type) == "soap" else decode_rest(body)


def decode(body: bytes, content_type: str | None = None) -> list[Event]:
    """The events of one delivered body (always one: ThingSpace sends one callback a request)."""
    return [to_event(decode_callback(body, content_type))]


def to_event(callback: Callback) -> Event:
    return Event(
        provider=PROVIDER,
        kind=callback.kind,
        device=callback.devices[0].id if callback.devices else None,
        id=callback.request_id,
        payload=callback.payload,
        raw=callback.raw,
    )


def callback_request(body: bytes) -> Element:
    """The ``CallbackRequest`` element of a SOAP callback (safe parse); WireError otherwise."""
    root = xmlsafe.parse(body, max_depth=MAX_DEPTH)
    if root.tag != f"{{{NS_ENV}}}Envelope":
        raise WireError(f"SOAP callback: root element is {root.tag}, not {{{NS_ENV}}}Envelope")
    request = root.find(f"{{{NS_ENV}}}Body/{{{NS_V2}}}CallbackRequest")
    if request is None:
        raise WireError(f"SOAP callback: no Body/CallbackRequest in namespace {NS_V2}")
    return request


def _nil(element: Element) -> bool:
    return element.get(_NIL, "").strip() in ("true", "1")


def element_value(element: Element) -> Any:
    """Element to data: nil -> None, leaf -> text, else {local name: value} (repeats -> list)."""
    if _nil(element):
        return None
    if len(element) == 0:
        return element.text or ""
    out: dict[str, Any] = {}
    for child in element:
        name, value = xmlsafe.local(child.tag), element_value(child)
        if name in out:
            previous = out[name]
            out[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[name] = value
    return out


def _filled(element: Element) -> bool:
    return not _nil(element) and (len(element) > 0 or bool((element.text or "").strip()))


def decode_soap(body: bytes) -> Callback:
    request = callback_request(body)

    def text(name: str) -> str:
        # Credentials are compared byte for byte, so only the request id is stripped.
        return request.findtext(f"{{{NS_V2}}}{name}") or ""

    devices = []
    for device in request.iterfind(f"{{{NS_V2}}}Device"):
        kind = (device.findtext(f"{{{NS_V2}}}Kind") or "").strip()
        ident = (device.findtext(f"{{{NS_V2}}}Identifier") or "").strip()
        if not ident:
            raise WireError("SOAP callback: Device without an Identifier")
        devices.append(DeviceId(kind, ident))
    data = request.find(f"{{{NS_V2}}}Data")
    filled = [child for child in data if _filled(child)] if data is not None else []
    names = [xmlsafe.local(child.tag) for child in filled]
    payload = {name: element_value(child) for name, child in zip(names, filled, strict=True)}
    raw = element_value(request)
    if isinstance(raw, dict) and raw.get("Password"):
        raw["Password"] = MASK
    return Callback("soap", _soap_kind(names), text("RequestId").strip() or None, devices,
                    text("Username"), text("Password"), payload or None, names, raw=raw)


def _soap_kind(names: Sequence[str]) -> str:
    main = [name for name in names if name not in _TRAILER]
    if main:
        return "fault" if main[0] == "Fault" else FIELD_SERVICE.get(main[0], main[0])
    return "ResumeTrackingNotification" if names else "callback"


def decode_rest(body: bytes) -> Callback:
    doc = loads(body, "REST callback")
    if not isinstance(doc, dict):
        raise WireError("REST callback: the body is not a JSON object")
    devices = []
    ids = doc.get("deviceIds", [])
    if not isinstance(ids, list):
        raise WireError("REST callback: deviceIds is not a list")
    for index, item in enumerate(ids):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise WireError(f"REST callback: deviceIds[{index}] has no string id")
        devices.append(DeviceId(str(item.get("kind", "")), item["id"]))
    keys = [key for key in doc if key.endswith("Response") and doc[key] is not None]
    kind = ("fault" if keys[0] == "faultResponse" else keys[0]) if keys else "callback"
    payload = doc[keys[0]] if keys else None
    raw = dict(doc)
    if raw.get("password"):
        raw["password"] = MASK
    return Callback(
        "rest", kind, _opt_str(doc, "requestId"), devices, _opt_str(doc, "username") or "",
        _opt_str(doc, "password") or "", payload, keys, _opt_str(doc, "status"),
        _opt_int(doc, "callbackCount"), _opt_int(doc, "maxCallbackThreshold"), raw)


def _opt_str(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise WireError(f"REST callback: {key} is not a string")
    return value


def _opt_int(doc: Mapping[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise WireError(f"REST callback: {key} is not an integer")
    return value


# ---- encoding -----------------------------------------------------------------------------------

def xml_text(value: str) -> str:
    """Escaped character data; characters XML 1.0 cannot carry are a WireError."""
    if _XML_INVALID.search(value):
        raise WireError("text with control characters cannot be carried in a SOAP callback")
    return escape(value)


def _xml_value(name: str, value: Any) -> str:
    if value is None:
        return f'<{name} xsi:nil="true"/>'
    if isinstance(value, Mapping):
        inner = "".join(_xml_value(key, item) for key, item in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, list):
        return "".join(_xml_value(name, item) for item in value)
    return f"<{name}>{xml_text(str(value))}</{name}>"


def encode_soap(request_id: str, device: DeviceId, data: Mapping[str, Any], *,
                username: str = "", password: str = "") -> bytes:
    """A SOAP ``CallbackRequest`` as the platform sends it; ``data`` maps Data children to
    values (dicts nest, None is nil). Unlisted ``DATA_FIELDS`` are written nil, in order;
    unknown children go before the trailing Comment/Summary/Status."""
    unknown = [name for name in data if name not in DATA_FIELDS]
    for name in unknown:
        if not name.isidentifier():
            raise WireError(f"invalid Data child name {name!r}")
    order = [*DATA_FIELDS[:-3], *unknown, *DATA_FIELDS[-3:]]
    data_xml = "".join(_xml_value(name, data.get(name)) for name in order)
    text = (
        f'<s:Envelope xmlns:s="{NS_ENV}">'
        f'<s:Body xmlns:xsi="{NS_XSI}" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<CallbackRequest xmlns="{NS_V2}">'
        f"{_xml_value('Username', username)}{_xml_value('Password', password)}"
        f"{_xml_value('RequestId', request_id)}"
        f"<Device>{_xml_value('Kind', device.kind)}{_xml_value('Identifier', device.id)}</Device>"
        f"<Data>{data_xml}</Data></CallbackRequest></s:Body></s:Envelope>"
    )
    return text.encode("utf-8")


def encode_rest(request_id: str, devices: Sequence[DeviceId], *,
                response: Mapping[str, Any] | None = None,
                fault: Mapping[str, Any] | None = None, status: str | None = None,
                username: str = "", password: str = "", callback_count: int = 1,
                max_callback_threshold: int = 4) -> bytes:
    """A REST JSON callback; ``response`` is ``{"deviceResponse": {...}}`` (one key)."""
    doc: dict[str, Any] = {
        "username": username, "password": password, "requestId": request_id,
        "deviceIds": [{"id": device.id, "kind": device.kind} for device in devices],
    }
    for key, value in (response or {}).items():
        if not key.endswith("Response"):
            raise WireError(f"REST callback key {key!r} does not end in 'Response'")
        doc[key] = value
    if fault is not None:
        doc["faultResponse"] = dict(fault)
    if status is not None:
        doc["status"] = status
    doc["callbackCount"] = callback_count
    doc["maxCallbackThreshold"] = max_callback_threshold
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
