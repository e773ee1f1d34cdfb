"""The Pelion NotificationMessage, pure: bytes in, events out, and items back into bytes.

A NotificationMessage (one callback PUT body or one WebSocket text message) is a JSON object with
up to six arrays (``KINDS``); unknown top-level keys are ignored so newer servers still decode.
Each item becomes one ``Event`` (docs/architecture.md, "Event lines"):

- ``device`` = ``ep`` (a string de-registration is the ep itself); ``id`` = ``uid`` when present
  (an async-response's ``id``); ``path``, ``status``; ``content_type`` = ``ct``;
- ``time`` = the item's ``timestamp`` (epoch ms as number or string, or ISO-8601) as ISO-8601 UTC
  ``...Z`` with milliseconds, else ``received_at``;
- payloads are base64 on the wire. Text content types (``text/*``, JSON, XML, link-format) give
  ``payload`` = the text; a content type containing ``tlv`` gives ``payload`` = the parsed TLV
  (see ``tlv``) and keeps ``payload_b64``; anything else keeps ``payload_b64`` only. When the
  bytes do not match the content type (text that is not UTF-8, malformed TLV) the event still
  decodes, with ``payload_b64`` only: that is the device's data, not a broken message;
- ``raw`` = the item exactly as received, as ``msgspec.Raw`` (its JSON bytes: printed verbatim by
  ``events.encode_jsonl``; ``msgspec.json.decode(event.raw)`` gives a dict). ``items`` returns
  the same.

Anything that is not this format (not JSON, wrong types, invalid base64, a bad timestamp) raises
``WireError`` naming the array, index and field, e.g. ``notifications[3].payload: not base64``;
no other exception escapes, whatever the input.

Speed: the whole frame goes through typed msgspec decoders first (the ``tail`` hot path); only
when that fails does a careful per-item pass run, to say exactly where the message is wrong.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

import msgspec  # noqa: TID253 - only commands that decode frames import this module

from notifyctl.errors import UsageError, WireError
from notifyctl.events import Event
from notifyctl.providers.pelion import wire_values as values
from notifyctl.providers.pelion.kinds import ARRAY_KINDS
from notifyctl.providers.pelion.wire_values import FieldError, Stamp, item_time

PROVIDER = "pelion"
KINDS = ARRAY_KINDS  # kept in kinds.py, which TAB completion reads without msgspec
Raw = msgspec.Raw
_encoder = msgspec.json.Encoder()


# gc=False: these hold only JSON values, never a cycle, and a 10,000-item batch makes 10,000 of
# them; untracked by the cycle collector they are about 10% cheaper to make and free.
class _Notification(msgspec.Struct, gc=False):
    ep: str
    path: str
    payload: str | None = None
    ct: str | None = None
    max_age: Stamp = msgspec.field(default=None, name="max-age")
    uid: str | None = None
    timestamp: Stamp = None
    original_ep: str | None = msgspec.field(default=None, name="original-ep")


class _Endpoint(msgspec.Struct, gc=False):
    """A ``registrations`` / ``reg-updates`` item; resources stay in ``raw``."""

    ep: str
    ept: str | None = None
    original_ep: str | None = msgspec.field(default=None, name="original-ep")
    q: bool | str | None = None
    resources: list[dict[str, Any]] | None = None
    uid: str | None = None
    timestamp: Stamp = None


class _Gone(msgspec.Struct, gc=False):
    """The object form of a de-registration (``deregistrations_as_object``)."""

    ep: str
    uid: str | None = None
    timestamp: Stamp = None
    original_ep: str | None = msgspec.field(default=None, name="original-ep")


class _AsyncResponse(msgspec.Struct, gc=False):
    id: str
    status: int | None = None
    error: str | None = None
    payload: str | None = None
    ct: str | None = None
    max_age: Stamp = msgspec.field(default=None, name="max-age")


# ---- one item -> one event -----------------------------------------------------------------


def _notification(kind: str, raw: Raw, received_at: str | None) -> Event:
    it = _notification_decoder(raw)
    payload, b64 = values.payload(it.payload, it.ct)
    return Event(
        PROVIDER, kind, it.ep, item_time(it.timestamp, received_at), it.uid, it.path, payload, b64,
        it.ct, raw=raw,
    )


def _endpoint(kind: str, raw: Raw, received_at: str | None) -> Event:
    it = _endpoint_decoder(raw)
    return Event(PROVIDER, kind, it.ep, item_time(it.timestamp, received_at), it.uid, raw=raw)


def _gone(kind: str, raw: Raw, received_at: str | None) -> Event:
    it = _gone_decoder(raw)
    if isinstance(it, str):
        return Event(PROVIDER, kind, it, received_at, raw=raw)
    return Event(PROVIDER, kind, it.ep, item_time(it.timestamp, received_at), it.uid, raw=raw)


def _async_response(kind: str, raw: Raw, received_at: str | None) -> Event:
    it = _async_decoder(raw)
    payload, b64 = values.payload(it.payload, it.ct)
    return Event(
        PROVIDER, kind, None, received_at, it.id, None, payload, b64, it.ct, it.status, raw=raw
    )


_notification_decoder = msgspec.json.Decoder(_Notification).decode
_endpoint_decoder = msgspec.json.Decoder(_Endpoint).decode
_gone_decoder = msgspec.json.Decoder(str | _Gone).decode
_async_decoder = msgspec.json.Decoder(_AsyncResponse).decode
_Builder = Callable[[str, Raw, "str | None"], Event]
_BUILDERS: dict[str, _Builder] = {
    "notifications": _notification,
    "registrations": _endpoint,
    "reg-updates": _endpoint,
    "de-registrations": _gone,
    "registrations-expired": _gone,
    "async-responses": _async_response,
}
# What the fast pass may raise on a bad item: then the careful pass says where and what.
_FAST_ERRORS = (msgspec.DecodeError, FieldError, RecursionError, ValueError, OverflowError)


def _fast_notifications(
    items: list[Raw], received_at: str | None, append: Callable[[Event], None]
) -> None:
    """``_notification`` for every item, inlined for the common case: the ``tail`` hot path.

    Anything unusual (no or odd payload, non-text type, non-integer timestamp) goes through the
    general helpers; errors propagate raw and the careful pass re-derives them with a location.
    """
    decode, a2b, kind = _notification_decoder, binascii.a2b_base64, KINDS["notifications"]
    modes, text, seconds_get, millis = values.MODES, values.TEXT, values.SECONDS.get, values.MILLIS
    last_stamp: Stamp = None
    last_when = received_at
    for raw in items:
        it = decode(raw)
        ct = it.ct
        b64: str | None = it.payload
        payload: Any = None
        if b64 is not None and modes.get(ct) == text:
            try:
                payload = a2b(b64, strict_mode=True).decode("utf-8")
                b64 = None
            except UnicodeDecodeError:
                pass
        else:
            payload, b64 = values.payload(b64, ct)
        stamp = it.timestamp
        if stamp == last_stamp:  # neighbours often share a millisecond: skip the formatting
            when = last_when
        elif type(stamp) is int:
            seconds = stamp // 1000
            when = (seconds_get(seconds) or values.second(seconds)) + millis[stamp % 1000]
            last_stamp, last_when = stamp, when
        else:
            when = item_time(stamp, received_at)
        append(Event(PROVIDER, kind, it.ep, when, it.uid, it.path, payload, b64, ct, raw=raw))

# ---- the frame -----------------------------------------------------------------------------


class _TypedFrame(msgspec.Struct, gc=False):
    """Every item's field types at once, for ``items(check="types")``; unknown keys ignored."""

    notifications: list[_Notification] | None = None
    registrations: list[_Endpoint] | None = None
    reg_updates: list[_Endpoint] | None = msgspec.field(default=None, name="reg-updates")
    de_registrations: list[str | _Gone] | None = msgspec.field(
        default=None, name="de-registrations"
    )
    registrations_expired: list[str | _Gone] | None = msgspec.field(
        default=None, name="registrations-expired"
    )
    async_responses: list[_AsyncResponse] | None = msgspec.field(
        default=None, name="async-responses"
    )


_typed_frame_decoder = msgspec.json.Decoder(_TypedFrame).decode

_frame_decoder = msgspec.json.Decoder(dict[str, list[Raw] | None]).decode
_object_decoder = msgspec.json.Decoder(dict[str, Raw]).decode
_array_decoder = msgspec.json.Decoder(list[Raw] | None).decode


def _arrays(body: bytes | str) -> list[tuple[str, list[Raw]]]:
    """The known, non-empty arrays of a message in document order (top level validated)."""
    body = _utf8(body)
    try:
        top = _frame_decoder(body)
        return [(key, value) for key, value in top.items() if value and key in KINDS]
    except msgspec.ValidationError:
        pass  # an unknown key holding a non-array, or a known key that is wrong: look closer
    except msgspec.DecodeError as exc:
        raise WireError(f"not a NotificationMessage: malformed JSON: {exc}") from None
    except (RecursionError, ValueError) as exc:
        raise WireError(f"not a NotificationMessage: {_unusual(exc)}") from None
    try:
        fields = _object_decoder(body)
    except msgspec.DecodeError as exc:
        raise WireError(f"top level: {_lower(str(exc))}, not a NotificationMessage") from None
    except (RecursionError, ValueError) as exc:
        raise WireError(f"not a NotificationMessage: {_unusual(exc)}") from None
    arrays = []
    for key, value in fields.items():
        if key not in KINDS:
            continue
        try:
            items = _array_decoder(value)
        except (msgspec.DecodeError, RecursionError, ValueError):
            raise WireError(f"{key}: expected an array of items") from None
        if items:
            arrays.append((key, items))
    return arrays


def _utf8(body: bytes | str) -> bytes:
    if not isinstance(body, str):
        return body
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: not text any JSON parser accepts
        raise WireError(f"not a NotificationMessage: not UTF-8 text at character {exc.start}") \
            from None


def _events(arrays: list[tuple[str, list[Raw]]], received_at: str | None) -> list[Event]:
    try:
        events: list[Event] = []
        append = events.append
        for key, items in arrays:
            if key == "notifications":
                _fast_notifications(items, received_at, append)
                continue
            build, kind = _BUILDERS[key], KINDS[key]
            for raw in items:
                append(build(kind, raw, received_at))
        return events
    except _FAST_ERRORS:
        pass
    # The fast pass failed: redo it item by item to name the broken one.
    for key, items in arrays:
        for index, raw in enumerate(items):
            _one(key, raw, received_at, f"{key}[{index}]")
    raise WireError("not a NotificationMessage")  # pragma: no cover - the loop above raised


def _one(key: str, raw: Raw, received_at: str | None, where: str) -> Event:
    try:
        return _BUILDERS[key](KINDS[key], raw, received_at)
    except FieldError as exc:
        raise WireError(f"{where}.{exc.field}: {exc.what}") from None
    except msgspec.DecodeError as exc:
        raise WireError(_located(where, str(exc))) from None
    except (RecursionError, ValueError, OverflowError) as exc:
        raise WireError(f"{where}: {_unusual(exc)}") from None


def _unusual(exc: BaseException) -> str:
    """What msgspec raises besides DecodeError: deep nesting, bad UTF-8 inside a string."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return f"a string is not valid UTF-8 ({exc.reason})"
    return str(exc)


def _located(where: str, message: str) -> str:
    """Turn msgspec's ``Expected `str`, got `int` - at `$.ep``` into ``where.ep: expected ...``."""
    text, sep, at = message.partition(" - at `$")
    if sep:
        where += at.rstrip("`")
    missing = "Object missing required field `"
    if text.startswith(missing):
        return f"{where}.{text[len(missing):].rstrip('`')}: missing"
    return f"{where}: {_lower(text)}"


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


# ---- public API ----------------------------------------------------------------------------


def decode(body: bytes | str, *, received_at: str | None = None) -> list[Event]:
    """One NotificationMessage -> its events, in the order the items appear."""
    return _events(_arrays(body), received_at)


def items(body: bytes | str, *, check: Literal["full", "types"] = "full") -> list[tuple[str, Any]]:
    """``(array key, raw item)`` pairs of a message, for re-chunking.

    ``check="full"`` validates every item as ``decode`` would. ``check="types"`` validates only
    the fields' JSON types, in one typed pass without building events, for callers that pass
    items on verbatim (replay): building events is most of the cost of a 10,000-item batch.
    Either way a bad item raises ``WireError`` naming it.
    """
    arrays = _arrays(body)
    if check == "full":
        _events(arrays, None)
    else:
        try:
            _typed_frame_decoder(_utf8(body))
        except (msgspec.DecodeError, RecursionError, ValueError):
            _events(arrays, None)  # says which item is wrong, and how
    return [(key, raw) for key, values in arrays for raw in values]


def count(body: bytes | str) -> int:
    """How many items a message holds, every field's JSON type checked: ``len(items(body,
    check="types"))`` without keeping the items (replay sends a captured batch as it is, and
    only needs its size). A bad item raises ``WireError`` naming it, as ``items`` does."""
    try:
        frame = _typed_frame_decoder(_utf8(body))
    except (msgspec.DecodeError, RecursionError, ValueError):
        return len(items(body, check="types"))  # says which item is wrong, and how
    return sum(len(found) for found in (
        frame.notifications, frame.registrations, frame.reg_updates, frame.de_registrations,
        frame.registrations_expired, frame.async_responses) if found)


def event_from_item(key: str, item: Any, *, received_at: str | None = None) -> Event:
    """One item (``msgspec.Raw`` from ``items``, or plain JSON data) of array ``key`` -> event."""
    if key not in KINDS:
        raise WireError(f"{key}: not a NotificationMessage array ({', '.join(KINDS)})")
    if not isinstance(item, Raw):
        try:
            item = Raw(_encoder.encode(item))
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
            raise WireError(f"{key} item: not JSON data: {exc}") from None
    return _one(key, item, received_at, f"{key} item")


def encode(items: Iterable[tuple[str, Any]], max_chunk_size: int = 10000) -> Iterator[bytes]:
    """Pack ``(key, item)`` pairs into compact NotificationMessages of at most ``max_chunk_size``
    items, preserving item order across keys: consecutive items of one key share an array, and a
    new message starts when the current one is full or a key would appear twice in it.
    ``Raw`` items are written verbatim.
    """
    if max_chunk_size < 1:
        raise UsageError(f"max_chunk_size must be at least 1, not {max_chunk_size}")
    message: dict[str, list[Any]] = {}
    current: list[Any] | None = None
    current_key = None
    count = 0
    for key, item in items:
        if key not in KINDS:
            raise UsageError(f"{key!r} is not a NotificationMessage array")
        if count == max_chunk_size or (key != current_key and key in message):
            yield _encode_message(message)
            message, current_key, count = {}, None, 0
        if key != current_key:
            current = message[key] = []
            current_key = key
        assert current is not None
        current.append(item)
        count += 1
    if message:
        yield _encode_message(message)


def _encode_message(message: dict[str, list[Any]]) -> bytes:
    try:
        return _encoder.encode(message)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
        raise UsageError(f"cannot encode a NotificationMessage: {exc}") from None


def is_verification(body: bytes | str) -> bool:
    """True for the callback-verification PUT, whose body is ``{}`` or empty."""
    data = body.encode("utf-8", "replace") if isinstance(body, str) else bytes(body)
    data = data.strip()
    if data in (b"", b"{}"):
        return True
    if len(data) > 64 or not data.startswith(b"{"):
        return False
    try:
        return bool(msgspec.json.decode(data) == {})
    except (msgspec.DecodeError, RecursionError, ValueError):  # ValueError: bad UTF-8
        return False
