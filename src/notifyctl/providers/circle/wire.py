"""Logitech Circle notification bodies, pure: the 15 event types, checking a registration's
choice of them, and decoding an event body into events (and building one, for the sandbox).

A body is ``{"accountId", "eventType", "eventData": {...}, "userData"?}``
(docs/platforms/circle.md). Client
notification frames are assumed to carry the same object [inf]; an array of them is accepted.
Each becomes one ``Event``: ``kind`` = ``eventType``; ``device`` = ``eventData.accessoryId``;
``id`` = ``eventData.activityId`` (or ``eventData.id``); ``time`` = an ISO ``eventData``
timestamp when present; ``payload`` = ``eventData``; ``raw`` = the whole object. Unknown event
types still decode (newer servers); anything else malformed is a ``WireError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from notifyctl.errors import UsageError, WireError
from notifyctl.events import Event
from notifyctl.jsonwire import loads, optional_object, optional_str, required_str
from notifyctl.providers.circle import kinds

PROVIDER = "circle"
EVENT_TYPES = kinds.EVENT_TYPES  # kept in kinds.py, which TAB completion reads without msgspec
# High-frequency events: registering them needlessly gets an application shut off
# (docs/platforms/circle.md).
MOTION_TYPES = frozenset({"motion_started", "motion_ended"})
ALWAYS_SENT = "account_deleted"
_TIME_KEYS = ("timestamp", "time", "startTime", "createdAt")


def check_event_types(types: Iterable[str], *, yes_motion: bool = False) -> list[str]:
    """The chosen event types, deduplicated in order; unknown ones and motion types without the
    explicit opt-in are ``UsageError``s."""
    chosen = list(dict.fromkeys(types))
    if not chosen:
        raise UsageError("choose at least one --event-type",
                         hint=f"types: {', '.join(EVENT_TYPES)}")
    for name in chosen:
        if name not in EVENT_TYPES:
            raise UsageError(f"--event-type {name!r} is not a Circle event type",
                             hint=f"types: {', '.join(EVENT_TYPES)}")
    motion = [name for name in chosen if name in MOTION_TYPES]
    if motion and not yes_motion:
        raise UsageError(
            f"--event-type {motion[0]} is a high-frequency motion event",
            hint="Circle shuts off applications that register events they do not use; add "
            "--yes-motion if you really consume motion events",
        )
    return chosen


def decode(body: bytes | str) -> list[Event]:
    """The events of one delivery body or client-notification frame."""
    doc = loads(body, "body")
    if isinstance(doc, list):
        return [_event(item, f"body[{index}]") for index, item in enumerate(doc)]
    return [_event(doc, "body")]


def _event(doc: object, where: str) -> Event:
    if not isinstance(doc, dict):
        raise WireError(f"{where}: expected a JSON object with eventType")
    kind = required_str(doc, "eventType", where)
    optional_str(doc, "accountId", where)
    data = optional_object(doc, "eventData", where)
    device = optional_str(data, "accessoryId", f"{where}.eventData")
    ident = data.get("activityId", data.get("id"))
    stamp = next((data[k] for k in _TIME_KEYS if isinstance(data.get(k), str)), None)
    return Event(
        provider=PROVIDER,
        kind=kind,
        device=device,
        time=stamp,
        id=ident if isinstance(ident, str) else None,
        payload=data,
        raw=doc,
    )


def encode(
    event_type: str,
    event_data: dict[str, Any],
    *,
    account_id: str,
    user_data: Any = None,
) -> bytes:
    """A delivery body as Circle sends it (``userData`` omitted when there is none)."""
    doc: dict[str, Any] = {"accountId": account_id, "eventType": event_type,
                           "eventData": event_data}
    if user_data is not None:
        doc["userData"] = user_data
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")
