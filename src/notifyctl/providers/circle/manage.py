"""Logitech Circle's ``channels`` capability: register and unregister the server notifications
(Circle has no API that lists them); ``client`` also serves ``tail``'s client notifications.

The registration's ``authKey`` (the HMAC key of ``X-Logi-Verify``) is never an option value:
``--auth-key-env VAR`` names a variable holding it, otherwise a strong key is generated, kept in
the profile's keyring entry ``auth_key`` (``context.store``; ``listen`` and ``replay`` read it
as the platform's ``signing_secret``) and handed back as ``Change.reveal``, shown once.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from notifyctl import secrets
from notifyctl.contract.manage import Change, Listing, ManageContext
from notifyctl.errors import UsageError

if TYPE_CHECKING:
    from notifyctl.contract.connection import Connection
    from notifyctl.http import NetOptions
    from notifyctl.providers.circle.api import CircleClient

AUTH_KEY = "auth_key"  # keyring-only secret of a profile (the declaration's signing_secret)
T = TypeVar("T")


def client(conn: Connection, net: NetOptions | None = None,
           secret: Callable[[str], str] | None = None) -> CircleClient:
    """The API client; ``secret`` reads a required secret (default: the profile's, through
    ``notifyctl.secrets``)."""
    from notifyctl.providers.circle.api import CircleClient, ServerNotificationsRoute

    def profile_secret(name: str) -> str:
        return secrets.require(conn.profile, name)

    read = secret or profile_secret
    return CircleClient(conn.api_url, read("api_key"), read("access_token"),
                        route=ServerNotificationsRoute.from_settings(conn.settings), net=net)


class CircleChannels:
    def __init__(self, context: ManageContext) -> None:
        self.context = context

    def _run(self, call: Callable[[CircleClient], Awaitable[T]]) -> T:
        context = self.context
        return client(context.connection, context.net, context.secret).run(call)

    def register(self, url: str, headers: Mapping[str, str]) -> Change:
        """Register (or overwrite) the server notifications; the record never holds the
        authKey (a generated one is ``reveal``ed once)."""
        from notifyctl.output import inert_str
        from notifyctl.providers.circle.api import generate_auth_key, registration_body
        from notifyctl.redaction import mask_query

        options = self.context.options
        key_env: str | None = options["auth_key_env"]
        if key_env is not None:
            key = os.environ.get(key_env, "")
            if not key:
                raise UsageError(f"--auth-key-env {key_env}: the environment variable is not "
                                 "set or empty")
        else:
            key = generate_auth_key()
        body = registration_body(url, options["event_type"], key,
                                 user_data=options["user_data"],
                                 yes_motion=options["yes_motion"])
        self._run(lambda api: api.register(body))
        change = Change(f"registered {inert_str(url)} for {', '.join(body['eventTypes'])}")
        key_source = f"environment variable {key_env}"
        if key_env is None:
            key_source = self._keep(key, change)
        change.record = {"provider": "circle", "url": mask_query(url),
                         "event_types": body["eventTypes"], "auth_key": key_source}
        return change

    def _keep(self, key: str, change: Change) -> str:
        """Store a generated key for listen and replay, reveal it once; where it went."""
        profile = self.context.connection.profile
        problem = None if profile is None else self.context.store(AUTH_KEY, key)
        stored = profile is not None and problem is None
        if problem is not None:
            change.warnings.append(f"the auth key could not be stored: {problem}")
        # The one time the key is shown: the receiver needs it to check X-Logi-Verify.
        where = (f"stored in the keyring as {profile}/{AUTH_KEY} for listen and replay"
                 if stored else "NOT stored: keep it now")
        change.reveal = (f"authKey (shown once; {where})", key)
        return f"keyring {profile}/{AUTH_KEY}" if stored else "shown once on stderr"

    def unregister(self, target: str | None) -> Change:
        self._run(lambda api: api.unregister())
        return Change("removed the Circle server notifications",
                      {"provider": "circle", "type": "server notifications", "removed": True})

    def list(self) -> Listing:
        raise UsageError("Circle has no API that lists server notifications",
                         hint="'notifyctl register' overwrites the registration; "
                         "'notifyctl unregister' removes it")


def make(context: ManageContext) -> CircleChannels:
    return CircleChannels(context)

