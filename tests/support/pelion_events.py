"""Test helper: Pelion NotificationMessage items with predictable ids (``u<i>``)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any


def note(i: int, ep: str = "dev-a1", path: str = "/3/0/1", text: str | None = None,
         uid: str | None = None) -> dict[str, Any]:
    payload = base64.b64encode((text if text is not None else f"v{i}").encode()).decode()
    return {"ep": ep, "path": path, "ct": "text/plain", "payload": payload, "max-age": 0,
            "uid": uid or f"u{i}"}


def message(ids: Iterator[int] | range) -> dict[str, Any]:
    return {"notifications": [note(i) for i in ids]}
