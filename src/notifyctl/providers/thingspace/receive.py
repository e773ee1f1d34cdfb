"""Verizon ThingSpace's receiver for ``listen``: callbacks, a SOAP ``CallbackRequest`` envelope
or a REST JSON body, each carrying the username and password given at registration. Decoding is
the platform's shared ``wire`` module; the check compares those credentials (constant time) with
``--callback-username`` and the password from ``--callback-password-env VAR`` (``listen``
options ThingSpace declares; the variable is read here, so the password never passes argv).

The password never reaches a capture: the stored body has its password element (SOAP
``Password``, REST ``password``) set to ``***``, everything else kept (SOAP byte for byte; REST
re-serialised compactly, keys in order). ``replay --provider thingspace`` puts real credentials
back with ``--callback-username`` and ``--callback-password-env``.
"""

from __future__ import annotations

from notifyctl.contract.receive import Outcome, ReceiverSettings, Request, invalid, unverified
from notifyctl.errors import UsageError, WireError
from notifyctl.providers.thingspace import rewrite, wire
from notifyctl.secrets import from_env

MASK = wire.MASK


class ThingSpaceHandler:
    provider = "thingspace"

    def __init__(self, username: str | None, password: str | None) -> None:
        self.username = username
        self.password = password

    def handle(self, request: Request) -> Outcome:
        try:
            callback = wire.decode_callback(request.body, request.content_type)
        except WireError as exc:
            return invalid(exc.message)
        masked = _masked(request, callback)
        verified: bool | None = None
        if self.username is not None and self.password is not None:
            if not callback.credentials_match(self.username, self.password):
                outcome = unverified("callback username/password do not match the expected ones")
                outcome.capture_body = masked
                return outcome
            verified = True
        event = wire.to_event(callback)
        event.time = request.at
        return Outcome(events=[event], verified=verified, capture_body=masked)


def _masked(request: Request, callback: wire.Callback) -> bytes | None:
    """The body with its password masked for the capture; None when there is none to mask."""
    if not callback.password:
        return None
    try:
        return rewrite.with_credentials(request.body, password=MASK,
                                        content_type=request.content_type)
    except Exception:  # decoded above, so not expected: better no body than the secret
        return b""


def make(settings: ReceiverSettings) -> ThingSpaceHandler:
    username: str | None = settings.options.get("callback_username")
    password = from_env("--callback-password-env", settings.options.get("callback_password_env"))
    if username is not None and password is None:
        raise UsageError("--callback-username needs the expected password too",
                         hint="put it in an environment variable and pass "
                         "--callback-password-env VAR")
    if password is not None and username is None:
        raise UsageError("--callback-password-env needs --callback-username NAME too")
    return ThingSpaceHandler(username, password)
