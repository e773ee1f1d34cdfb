"""Iottly fixtures as sandbox events (``notifyctl trigger``): a captured webhook message
(``{"msg": ...}`` or bare) becomes the sandbox's ``{device, stream, value}`` telemetry: its
``from``, its ``channel`` and its ``payload``; ``--device`` sets the device. Telemetry carries
no id, so a repeat needs no fresh one."""

from __future__ import annotations

import functools
from typing import Any

from notifyctl.contract.deliver import Item
from notifyctl.contract.emulate import Converter, fixture_object

DEFAULT_STREAM = "telemetry"


def events(device: str | None) -> Converter:
    return functools.partial(_convert, device=device)


def _convert(item: Item, device: str | None) -> list[Any]:
    body = fixture_object(item, "an Iottly message")
    message = body["msg"] if set(body) == {"msg"} else body
    if not isinstance(message, dict) or not isinstance(message.get("from"), str):
        raise ValueError("not an Iottly message: no 'from' (its device)")
    stream = message.get("channel")
    return [{"device": device or message["from"],
             "stream": stream if isinstance(stream, str) and stream else DEFAULT_STREAM,
             "value": message.get("payload")}]
