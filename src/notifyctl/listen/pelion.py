"""Pelion / Izuma callbacks: the registration check (``PUT {}``) is answered 200, and
NotificationMessage batches are decoded by the provider's shared ``wire`` module. Pelion does not
sign; the only check is the header set at registration (``--verify-key-env``: Authorization)."""

from __future__ import annotations

from types import ModuleType

from notifyctl.errors import UsageError, WireError
from notifyctl.listen.handlers import HeaderKeyed, Outcome, Request, invalid
from notifyctl.listen.settings import Settings


class PelionHandler(HeaderKeyed):
    provider = "pelion"

    def __init__(self, wire: ModuleType, secret: str | None) -> None:
        self.wire = wire
        self.secret = secret

    def accept(self, request: Request, verified: bool | None) -> Outcome:
        try:
            if self.wire.is_verification(request.body):
                return Outcome(kind="handshake", verified=verified)
            events = self.wire.decode(request.body, received_at=request.at)
        except WireError as exc:
            return invalid(exc.message, verified=verified)
        except (ValueError, TypeError, KeyError) as exc:  # a decoder that let one slip through
            return invalid(f"not a NotificationMessage: {exc}", verified=verified)
        return Outcome(events=list(events), verified=verified)


def make(settings: Settings) -> PelionHandler:
    try:
        from notifyctl.providers.pelion import wire
    except ImportError as exc:
        raise UsageError("the pelion decoder is not available in this build") from exc
    return PelionHandler(wire, settings.verify_key)
