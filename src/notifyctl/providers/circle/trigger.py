"""Circle fixtures as sandbox events (``notifyctl trigger``): the sandbox takes
``{eventType, eventData}`` of a captured server notification and signs and delivers it as the
platform would; ``--device`` sets ``eventData.accessoryId`` (an account event names none).
Circle's ids (an activity's) are shared by its events, so a repeat needs no fresh one."""

from __future__ import annotations

import functools
from typing import Any

from notifyctl.contract.deliver import Item
from notifyctl.contract.emulate import Converter, fixture_object


def events(device: str | None) -> Converter:
    return functools.partial(_convert, device=device)


def _convert(item: Item, device: str | None) -> list[Any]:
    notification = fixture_object(item, "a Circle notification")
    kind, data = notification.get("eventType"), notification.get("eventData") or {}
    if not isinstance(kind, str) or not isinstance(data, dict):
        raise ValueError("not a Circle notification: expected an eventType and an eventData "
                         "object")
    if device is not None:
        if "accessoryId" not in data:
            raise ValueError(f"no device to set: Circle {kind} events name no accessory")
        data = {**data, "accessoryId": device}
    return [{"eventType": kind, "eventData": data}]
