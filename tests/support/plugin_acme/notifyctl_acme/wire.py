"""Acme's one wire format, pure: a JSON object or array of readings ``{"sensor", "kind",
"value", "ts", "id"}``, on the stream and in callbacks alike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from notifyctl.errors import WireError
from notifyctl.events import Event


def decode(body: bytes, *, received_at: str | None = None) -> list[Event]:
    try:
        doc: Any = json.loads(body)
    except ValueError as exc:
        raise WireError(f"not Acme JSON: {exc}") from exc
    items = doc if isinstance(doc, list) else [doc]
    events = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("sensor"), str):
            raise WireError("an Acme reading is an object with a sensor")
        events.append(Event(provider="acme", kind=str(item.get("kind") or "reading"),
                            device=item["sensor"], time=item.get("ts") or received_at,
                            id=None if item.get("id") is None else str(item["id"]),
                            payload=item.get("value"), raw=item))
    return events


def encode_jsonl(events: Sequence[Event]) -> bytes:
    from msgspec import json as mjson

    return mjson.Encoder().encode_lines(events)
