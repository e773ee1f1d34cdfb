"""``register``, ``unregister`` and ``tail`` for Logitech Circle: what the CLI calls once the
resolved provider is ``circle``. Parsing stays in the CLI.

The registration's ``authKey`` (the HMAC key of ``X-Logi-Verify``) is never an option value:
``--auth-key-env VAR`` names a variable holding it, otherwise a strong key is generated, stored
in the profile's keyring entry ``auth_key`` (for ``listen`` and ``replay``, which read it when
no key variable is given) and shown once on stderr. API key and access token come from
``notifyctl.secrets``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from notifyctl import output, secrets
from notifyctl.errors import UsageError

if TYPE_CHECKING:
    from notifyctl.config import Connection
    from notifyctl.http import NetOptions
    from notifyctl.providers.circle.api import CircleClient

AUTH_KEY = "auth_key"  # keyring-only secret of a profile
T = TypeVar("T")


def active_profile() -> str | None:
    """The profile this run uses (-p, NOTIFYCTL_PROFILE or the default), if any."""
    from notifyctl.cli.common import active_profile as active
    from notifyctl.cli.common import load_config

    return active(load_config())


def stored_auth_key(profile: str | None = None) -> str | None:
    """The authKey ``register`` stored for the profile, or None (no profile, no entry, or no
    usable keyring)."""
    name = profile or active_profile()
    if name is None:
        return None
    try:
        return secrets.lookup(name, AUTH_KEY).value
    except secrets.KeyringUnavailable:
        return None


def client(conn: Connection, net: NetOptions | None = None) -> CircleClient:
    from notifyctl.providers.circle.api import CircleClient, ServerNotificationsRoute

    return CircleClient(conn.api_url, secrets.require(conn.profile, "api_key"),
                        secrets.require(conn.profile, "access_token"),
                        route=ServerNotificationsRoute.from_settings(conn.settings), net=net)


def _run(conn: Connection, net: NetOptions, call: Callable[[CircleClient], Awaitable[T]]) -> T:
    return client(conn, net).run(call)


def register(conn: Connection, net: NetOptions, url: str, event_types: Sequence[str], *,
             yes_motion: bool = False, user_data: str | None = None,
             auth_key_env: str | None = None) -> dict[str, Any]:
    """Register (or overwrite) the server notifications; what was registered (never the
    authKey: it is shown once on stderr when generated)."""
    from notifyctl.providers.circle.api import generate_auth_key, registration_body
    from notifyctl.redaction import mask_query

    generated = auth_key_env is None
    if auth_key_env is not None:
        key = os.environ.get(auth_key_env, "")
        if not key:
            raise UsageError(f"--auth-key-env {auth_key_env}: the environment variable is not "
                             "set or empty")
    else:
        key = generate_auth_key()
    body = registration_body(url, event_types, key, user_data=user_data, yes_motion=yes_motion)
    _run(conn, net, lambda api: api.register(body))
    out = output.current()
    key_source = f"environment variable {auth_key_env}"
    if generated:
        stored = False
        if conn.profile is not None:
            try:
                secrets.store(conn.profile, AUTH_KEY, key)
                stored = True
            except secrets.KeyringUnavailable as exc:
                out.warn(f"the auth key could not be stored: {exc.message}")
        # The one time the key is shown: the receiver needs it to check X-Logi-Verify.
        where = (f"stored in the keyring as {conn.profile}/{AUTH_KEY} for listen and replay"
                 if stored else "NOT stored: keep it now")
        out.err.write(f"authKey (shown once; {where}): {key}\n")
        out.err.flush()
        key_source = f"keyring {conn.profile}/{AUTH_KEY}" if stored else "shown once on stderr"
    out.success(f"registered {output.inert_str(url)} for {', '.join(body['eventTypes'])}")
    return {"provider": "circle", "url": mask_query(url), "event_types": body["eventTypes"],
            "auth_key": key_source}


def unregister(conn: Connection, net: NetOptions) -> dict[str, Any]:
    _run(conn, net, lambda api: api.unregister())
    output.current().success("removed the Circle server notifications")
    return {"provider": "circle", "type": "server notifications", "removed": True}

