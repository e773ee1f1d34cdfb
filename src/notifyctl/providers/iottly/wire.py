"""Iottly stream messages, pure (docs/platforms/iottly.md): JSON objects ``{type, payload,
request_id?}``.

Decoded into events (docs/architecture.md, "Event lines"):
- ``telemetry`` -> kind ``telemetry``: ``device`` = ``device_id``, ``stream``, ``value``,
  ``time`` = ``ts``, ``id`` = ``subscription_id``;
- ``command_output`` -> kind ``command-output``: ``fd`` (stdout|stderr), ``chunk``,
  ``id`` = ``request_id``;
- ``command_done`` -> kind ``command-done``: ``exit_code``, ``id`` = ``request_id``;
- every other type (subscribed, ping, error...) is control: no event.
``raw`` is the message object. Malformed input is a ``WireError`` naming the field.

The API key travels in the stream URL's query string (``?api_key=``): ``stream_url`` builds it
and ``redact`` is the only form in which it may be shown or logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from notifyctl.errors import UsageError, WireError
from notifyctl.events import Event
from notifyctl.jsonwire import loads, optional_object, optional_str, required_str
from notifyctl.redaction import redact

PROVIDER = "iottly"
STREAM_PATH = "/v1/stream"
FDS = ("stdout", "stderr")


@dataclass(frozen=True)
class Message:
    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def stream_url(api_url: str, api_key: str, override: str | None = None) -> str:
    """``wss://HOST/v1/stream?api_key=KEY`` from the REST API URL (``https://HOST/v1.0``): the
    scheme becomes ws(s), a trailing ``/v1.0`` or ``/v1`` is dropped, ``/v1/stream`` added.
    ``override`` (profile setting ``stream_url``) replaces the derived URL, key still added."""
    base = override or api_url
    parts = urlsplit(base)
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise UsageError(f"API URL {redact(base)!r} is not an http(s) or ws(s) URL")
    path = parts.path.rstrip("/")
    if not override:
        for suffix in ("/v1.0", "/v1"):
            if path.endswith(suffix):
                path = path[: -len(suffix)]
                break
        path += STREAM_PATH
    query = f"api_key={quote(api_key, safe='')}"
    if parts.query:
        query = f"{parts.query}&{query}"
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def decode_message(data: bytes | str) -> Message:
    """One frame as a ``Message``; ``WireError`` when it is not the seed's format."""
    doc = loads(data, "frame")
    if not isinstance(doc, dict):
        raise WireError("frame: expected a JSON object with a type")
    kind = required_str(doc, "type", "frame")
    payload = optional_object(doc, "payload", kind)
    request_id = optional_str(doc, "request_id", kind)
    return Message(kind, payload, request_id, doc)


def _string(message: Message, key: str, required: bool = True) -> str | None:
    value = message.payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise WireError(f"{message.type}.payload.{key}: missing or not a string")
    return value


def events(message: Message) -> list[Event]:
    """The events a message carries (none for control messages)."""
    if message.type == "telemetry":
        if "value" not in message.payload:
            raise WireError("telemetry.payload.value: missing")
        return [Event(
            provider=PROVIDER, kind="telemetry",
            device=_string(message, "device_id"), stream=_string(message, "stream"),
            value=message.payload["value"], time=_string(message, "ts", required=False),
            id=_string(message, "subscription_id", required=False), raw=message.raw,
        )]
    if message.type == "command_output":
        fd = _string(message, "fd")
        if fd not in FDS:
            raise WireError(f"command_output.payload.fd: {fd!r} is not stdout or stderr")
        return [Event(provider=PROVIDER, kind="command-output", fd=fd,
                      chunk=_string(message, "chunk"), id=message.request_id, raw=message.raw)]
    if message.type == "command_done":
        code = message.payload.get("exit_code")
        if not isinstance(code, int) or isinstance(code, bool):
            raise WireError("command_done.payload.exit_code: missing or not an integer")
        return [Event(provider=PROVIDER, kind="command-done", exit_code=code,
                      id=message.request_id, raw=message.raw)]
    return []


def decode(data: bytes | str) -> list[Event]:
    """Frame in, events out (the pure entry point ``tail``, ``listen`` and tests share)."""
    return events(decode_message(data))


def error_text(message: Message) -> str:
    """The text of an ``error`` message (format not in the seed [inf]: payload.message)."""
    text = message.payload.get("message") or message.payload.get("error") or "error"
    return str(text)[:300]


# ---- what the client sends -----------------------------------------------------------------

def _encode(kind: str, payload: dict[str, Any], request_id: str | None = None) -> str:
    doc: dict[str, Any] = {"type": kind}
    if request_id is not None:
        doc["request_id"] = request_id
    doc["payload"] = payload
    return json.dumps(doc, separators=(",", ":"))


def subscribe(device: str, streams: list[str], request_id: str) -> str:
    return _encode("subscribe", {"device_id": device, "streams": list(streams)}, request_id)


def unsubscribe(subscription_id: str) -> str:
    return _encode("unsubscribe", {"subscription_id": subscription_id})


def command(device: str, text: str, request_id: str, stream_output: bool = True) -> str:
    return _encode("command", {"device_id": device, "command": text,
                               "stream_output": stream_output}, request_id)


def pong(request_id: str | None = None) -> str:
    return _encode("pong", {}, request_id)


def telemetry(subscription_id: str, device: str, stream: str, value: Any, ts: str) -> str:
    """A telemetry frame as the server sends it (the sandbox's generator)."""
    return _encode("telemetry", {"subscription_id": subscription_id, "device_id": device,
                                 "stream": stream, "ts": ts, "value": value})
