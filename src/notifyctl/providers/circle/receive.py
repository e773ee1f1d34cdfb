"""Logitech Circle's receiver for ``listen``: server notifications. ``X-Logi-Verify`` (base64
HMAC-SHA256 of the exact body with the registration's authKey) is checked before the JSON body
is read; ``eventType`` is the event kind and ``eventData.accessoryId`` the device."""

from __future__ import annotations

from typing import Any

from notifyctl.contract.receive import (
    Outcome,
    ReceiverSettings,
    Request,
    invalid,
    iso_time,
    json_body,
    unverified,
)
from notifyctl.errors import UsageError, WireError
from notifyctl.events import Event
from notifyctl.providers.circle.signing import circle_verify


class CircleHandler:
    provider = "circle"

    def __init__(self, key: str | None) -> None:
        self.key = key  # None: decode only (ReceiverSettings.decode_only), nothing verified

    def handle(self, request: Request) -> Outcome:
        if self.key is not None:
            problem = circle_verify(self.key, request.headers.get("X-Logi-Verify"),
                                    request.body)
            if problem:
                return unverified(problem)
        verified = True if self.key is not None else None
        try:
            event = decode(request.body, request.at)
        except WireError as exc:
            return invalid(exc.message, verified=verified)
        return Outcome(events=[event], verified=verified)


def decode(body: bytes, received_at: str) -> Event:
    obj = json_body(body)
    if not isinstance(obj, dict) or not isinstance(obj.get("eventType"), str):
        raise WireError("not a Circle notification: expected an object with an eventType")
    data: Any = obj.get("eventData")
    details: dict[str, Any] = data if isinstance(data, dict) else {}
    device, activity = details.get("accessoryId"), details.get("activityId")
    return Event(
        provider="circle",
        kind=obj["eventType"],
        device=None if device is None else str(device),
        time=iso_time(details.get("startTime")) or received_at,
        id=None if activity is None else str(activity),
        payload=data,
        raw=obj,
    )


def make(settings: ReceiverSettings) -> CircleHandler:
    if not settings.verify_key and not settings.decode_only:
        raise UsageError(
            "circle needs the authKey given at registration to check X-Logi-Verify",
            hint="put it in an environment variable and pass --verify-key-env VAR (a key "
            "'notifyctl register' generated is read from the profile's keyring by itself)",
        )
    return CircleHandler(settings.verify_key or None)
