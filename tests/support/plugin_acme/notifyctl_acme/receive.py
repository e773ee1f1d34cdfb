"""Acme callbacks: ``POST`` of readings; the sender puts the shared token in ``X-Acme-Token``."""

from __future__ import annotations

import hmac

from notifyctl.contract.receive import Outcome, ReceiverSettings, Request, invalid, unverified
from notifyctl.errors import WireError
from notifyctl_acme import wire


class AcmeHandler:
    provider = "acme"

    def __init__(self, token: str | None) -> None:
        self.token = token

    def handle(self, request: Request) -> Outcome:
        verified = None
        if self.token is not None:
            given = request.headers.get("X-Acme-Token", "")
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return unverified("X-Acme-Token does not match")
            verified = True
        try:
            events = wire.decode(request.body, received_at=request.at)
        except WireError as exc:
            return invalid(exc.message, verified=verified)
        return Outcome(events=events, verified=verified)


def make(settings: ReceiverSettings) -> AcmeHandler:
    return AcmeHandler(settings.verify_key)
