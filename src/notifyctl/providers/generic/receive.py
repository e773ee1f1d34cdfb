"""The generic receiver for ``listen``: any sender signing with Standard Webhooks v1
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; ±5 minutes). The JSON body's
``type`` is the kind and ``data`` the payload, per the spec's recommended envelope; other JSON
is kept whole."""

from __future__ import annotations

from typing import Any

from notifyctl.contract.receive import (
    Outcome,
    ReceiverSettings,
    Request,
    header_text,
    invalid,
    iso_time,
    json_body,
    unverified,
)
from notifyctl.errors import UsageError, WireError
from notifyctl.events import Event
from notifyctl.signing import STANDARD_TOLERANCE_S, standard_secret, standard_verify

_SIGNED = ("webhook-id", "webhook-timestamp", "webhook-signature")


class GenericHandler:
    provider = "generic"

    def __init__(self, secret: str | None, tolerance: int = STANDARD_TOLERANCE_S) -> None:
        if secret is not None:
            standard_secret(secret)  # a malformed secret is a usage error now, not per request
        self.secret = secret  # None: decode only (ReceiverSettings.decode_only)
        self.tolerance = tolerance

    def handle(self, request: Request) -> Outcome:
        headers = {name: request.headers.get(name, "") for name in _SIGNED}
        if self.secret is not None:
            problem = standard_verify(self.secret, headers, request.body,
                                      tolerance=self.tolerance)
            if problem:
                return unverified(problem)
        verified = True if self.secret is not None else None
        try:
            obj = json_body(request.body)
        except WireError as exc:
            return invalid(exc.message, verified=verified)
        details: dict[str, Any] = obj if isinstance(obj, dict) else {}
        kind = details.get("type")
        event = Event(
            provider="generic",
            kind=kind if isinstance(kind, str) and kind else "webhook",
            id=header_text(headers["webhook-id"]),
            time=iso_time(details.get("timestamp")) or iso_time(headers["webhook-timestamp"]),
            payload=details.get("data", obj),
            raw=obj,
        )
        return Outcome(events=[event], verified=verified)


def make(settings: ReceiverSettings) -> GenericHandler:
    if not settings.verify_key and not settings.decode_only:
        raise UsageError(
            "generic needs the Standard Webhooks secret (whsec_...) to check signatures",
            hint="put it in an environment variable and pass --verify-key-env VAR",
        )
    return GenericHandler(settings.verify_key or None)
