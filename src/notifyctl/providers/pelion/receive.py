"""Pelion's receiver for ``listen``: the registration check (``PUT {}``) is answered 200, and
NotificationMessage batches are decoded by the platform's shared ``wire`` module. Pelion does
not sign; the only check is the header set at registration (``--verify-key-env``:
Authorization)."""

from __future__ import annotations

from notifyctl.contract.receive import HeaderKeyed, Outcome, ReceiverSettings, Request, invalid
from notifyctl.errors import WireError
from notifyctl.providers.pelion import wire


class PelionHandler(HeaderKeyed):
    provider = "pelion"

    def __init__(self, secret: str | None) -> None:
        self.secret = secret

    def accept(self, request: Request, verified: bool | None) -> Outcome:
        try:
            if wire.is_verification(request.body):
                return Outcome(kind="handshake", verified=verified)
            events = wire.decode(request.body, received_at=request.at)
        except WireError as exc:
            return invalid(exc.message, verified=verified)
        except (ValueError, TypeError, KeyError) as exc:  # a decoder that let one slip through
            return invalid(f"not a NotificationMessage: {exc}", verified=verified)
        return Outcome(events=list(events), verified=verified)


def make(settings: ReceiverSettings) -> PelionHandler:
    return PelionHandler(settings.verify_key)
