"""``register``, ``unregister`` and ``list`` for ThingSpace: what ``cli/channels.py`` calls once
the resolved provider is ``thingspace``. Parsing stays in the CLI; rendering is here because
ThingSpace's listing (one listener per service) differs from Pelion's channel.

The profile's ``api`` setting picks the client: ``rest`` (default: OAuth2 client credentials
plus a session) or ``soap`` (UWS LogIn). Secrets come from ``notifyctl.secrets``: username and
password for both, client_id and client_secret for REST. The callback's own password (what
ThingSpace puts inside every delivery) is never an option value: ``--callback-password-env
VAR``, else the profile's keyring entry ``callback_password`` (``keyring set notifyctl
PROFILE/callback_password``), else a hidden prompt on a terminal.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from notifyctl import output, secrets
from notifyctl.errors import UsageError
from notifyctl.providers.thingspace import services

if TYPE_CHECKING:
    from notifyctl.config import Connection
    from notifyctl.http import NetOptions
    from notifyctl.providers.thingspace.api import CallbackApi, Registration

CALLBACK_PASSWORD = "callback_password"  # keyring-only secret of a profile
T = TypeVar("T")


def api_setting(conn: Connection) -> str:
    """The profile's ``api`` (soap|rest, default rest)."""
    value = str(conn.settings.get("api") or "rest").strip().lower()
    if value not in services.APIS:
        raise UsageError(f"profile setting api={value!r} is not soap or rest",
                         hint="notifyctl profile add NAME --provider thingspace --set api=rest")
    return value


def callback_password(profile: str | None, env_var: str | None, *,
                      prompt_for: str | None) -> str | None:
    """The callback password: ``env_var``'s value, the keyring's, or a hidden prompt (only on a
    terminal, and only when a callback user ``prompt_for`` is given). None: no password."""
    if env_var is not None:
        if env_var not in os.environ:
            raise UsageError(f"--callback-password-env {env_var}: the environment variable "
                             f"{env_var} is not set")
        return os.environ[env_var]
    if profile is not None:
        try:
            stored = secrets.lookup(profile, CALLBACK_PASSWORD).value
        except secrets.KeyringUnavailable:
            stored = None  # the prompt or the variable can still provide it
        if stored:
            return stored
    if prompt_for is None:
        return None
    if not sys.stdin.isatty():
        raise UsageError(f"no password for callback user {prompt_for!r}",
                         hint="pass --callback-password-env VAR, or store it with 'keyring set "
                         f"notifyctl {profile or 'PROFILE'}/{CALLBACK_PASSWORD}'")
    import getpass

    return getpass.getpass(f"password ThingSpace will send as {prompt_for}: ", stream=sys.stderr)


def _run(conn: Connection, net: NetOptions,
         call: Callable[[CallbackApi], Awaitable[T]]) -> T:
    import httpx

    from notifyctl.http import client_options
    from notifyctl.providers.thingspace.api import open_api

    kind = api_setting(conn)
    username = secrets.require(conn.profile, "username")
    password = secrets.require(conn.profile, "password")
    client_id = secrets.require(conn.profile, "client_id") if kind == "rest" else None
    client_secret = secrets.require(conn.profile, "client_secret") if kind == "rest" else None

    async def main() -> T:
        async with httpx.AsyncClient(**client_options(net)) as http:
            api = open_api(kind, conn.api_url, conn.account, username=username,
                           password=password, client_id=client_id,
                           client_secret=client_secret, client=http, timeout=net.timeout)
            async with api:
                return await call(api)

    return asyncio.run(main())


def _service(service: str | None, kind: str) -> str:
    if not service:
        raise UsageError("--service NAME is required for thingspace",
                         hint=f"known {kind} services: {', '.join(services.known_services(kind))}")
    return service


def register(conn: Connection, net: NetOptions, url: str, service: str | None, *,
             allow_unknown: bool = False, callback_username: str | None = None,
             callback_password_env: str | None = None) -> dict[str, str]:
    """Register (or replace) the account's listener for ``service``; warns about the port.
    Returns what was registered (the callback password only as ``****``)."""
    kind = api_setting(conn)
    name = services.validate_service(_service(service, kind), kind, allow_unknown=allow_unknown)
    warning = services.port_warning(url)  # also refuses a URL that is not http(s)
    secret = callback_password(conn.profile, callback_password_env,
                               prompt_for=callback_username)
    out = output.current()
    if warning:
        out.warn(warning)
    registration = _run(conn, net, lambda api: api.register(
        name, url, callback_username or "", secret or ""))
    out.success(f"registered {output.inert_str(url)} for {name} ({kind})")
    from notifyctl.redaction import mask_query

    record = registration.as_dict()
    return {"provider": "thingspace", "api": kind, **record, "url": mask_query(record["url"])}


def unregister(conn: Connection, net: NetOptions, service: str | None) -> dict[str, Any]:
    kind = api_setting(conn)
    # Any name may be removed (an unlisted one may have been registered), but it must be sane.
    name = services.validate_service(_service(service, kind), kind, allow_unknown=True)
    _run(conn, net, lambda api: api.unregister(name))
    output.current().success(f"removed the {name} callback listener")
    return {"provider": "thingspace", "api": kind, "account": conn.account or "",
            "service": name, "removed": True}


def list_registrations(conn: Connection, net: NetOptions) -> list[dict[str, str]]:
    """The account's listeners; passwords only ever as ``****`` or ""."""

    async def fetch(api: CallbackApi) -> list[Registration]:
        return await api.list()

    return [item.as_dict() for item in _run(conn, net, fetch)]


def show(records: list[dict[str, str]], fmt: str) -> None:
    out = output.current()
    if fmt == "json":
        out.json(records)
        return
    out.table(["service", "url", "user", "password"],
              [[r["service"], r["url"], r["username"], r["password"]] for r in records])
