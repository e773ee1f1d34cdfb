"""ThingSpace's ``channels`` capability: one callback listener per service of the account,
registered, listed and removed; returns data, prints nothing.

The profile's ``api`` setting picks the client: ``rest`` (default: OAuth2 client credentials
plus a session) or ``soap`` (UWS LogIn). Secrets come through the context: username and
password for both, client_id and client_secret for REST. The callback's own password (what
ThingSpace puts inside every delivery) is never an option value: ``--callback-password-env
VAR``, else the profile's keyring entry ``callback_password`` (``keyring set notifyctl
PROFILE/callback_password``), else the context's hidden prompt (only on a terminal).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from notifyctl.contract.manage import Change, Listing, ManageContext
from notifyctl.errors import UsageError
from notifyctl.providers.thingspace import services

if TYPE_CHECKING:
    from notifyctl.contract.connection import Connection
    from notifyctl.providers.thingspace.api import CallbackApi, Registration

CALLBACK_PASSWORD = "callback_password"  # keyring-only secret of a profile
COLUMNS = ("service", "url", "user", "password")
T = TypeVar("T")


def api_setting(conn: Connection) -> str:
    """The profile's ``api`` (soap|rest, default rest)."""
    value = str(conn.settings.get("api") or "rest").strip().lower()
    if value not in services.APIS:
        raise UsageError(f"profile setting api={value!r} is not soap or rest",
                         hint="notifyctl profile add NAME --provider thingspace --set api=rest")
    return value


def callback_password(context: ManageContext, env_var: str | None, *,
                      prompt_for: str | None) -> str | None:
    """The callback password: ``env_var``'s value, the keyring's, or a hidden prompt (only on a
    terminal, and only when a callback user ``prompt_for`` is given). None: no password."""
    if env_var is not None:
        if env_var not in os.environ:
            raise UsageError(f"--callback-password-env {env_var}: the environment variable "
                             f"{env_var} is not set")
        return os.environ[env_var]
    stored = context.stored(CALLBACK_PASSWORD)  # the prompt or the variable can still give it
    if stored:
        return stored
    if prompt_for is None:
        return None
    if context.ask is None:
        profile = context.connection.profile
        raise UsageError(f"no password for callback user {prompt_for!r}",
                         hint="pass --callback-password-env VAR, or store it with 'keyring set "
                         f"notifyctl {profile or 'PROFILE'}/{CALLBACK_PASSWORD}'")
    return context.ask(f"password ThingSpace will send as {prompt_for}: ")


def _service(service: str | None, kind: str) -> str:
    if not service:
        raise UsageError("--service NAME is required for thingspace",
                         hint=f"known {kind} services: {', '.join(services.known_services(kind))}")
    return service


class ThingSpaceChannels:
    def __init__(self, context: ManageContext) -> None:
        self.context = context

    def _run(self, call: Callable[[CallbackApi], Awaitable[T]]) -> T:
        import httpx

        from notifyctl.http import client_options
        from notifyctl.providers.thingspace.api import open_api

        conn, net, secret = self.context.connection, self.context.net, self.context.secret
        kind = api_setting(conn)
        username = secret("username")
        password = secret("password")
        client_id = secret("client_id") if kind == "rest" else None
        client_secret = secret("client_secret") if kind == "rest" else None

        async def main() -> T:
            async with httpx.AsyncClient(**client_options(net)) as http:
                api = open_api(kind, conn.api_url, conn.account, username=username,
                               password=password, client_id=client_id,
                               client_secret=client_secret, client=http, timeout=net.timeout)
                async with api:
                    return await call(api)

        return asyncio.run(main())

    def register(self, url: str, headers: Mapping[str, str]) -> Change:
        """Register (or replace) the account's listener for ``--service``; warns about the
        port at once. The record holds the callback password only as ``****``."""
        from notifyctl.output import inert_str
        from notifyctl.redaction import mask_query

        options = self.context.options
        kind = api_setting(self.context.connection)
        name = services.validate_service(_service(options["service"], kind), kind,
                                         allow_unknown=options["allow_unknown_service"])
        warning = services.port_warning(url)  # also refuses a URL that is not http(s)
        username = options["callback_username"]
        secret = callback_password(self.context, options["callback_password_env"],
                                   prompt_for=username)
        if warning:
            self.context.warn(warning)
        registration = self._run(lambda api: api.register(name, url, username or "",
                                                          secret or ""))
        record = registration.as_dict()
        return Change(f"registered {inert_str(url)} for {name} ({kind})",
                      {"provider": "thingspace", "api": kind, **record,
                       "url": mask_query(record["url"])})

    def unregister(self, target: str | None) -> Change:
        conn = self.context.connection
        kind = api_setting(conn)
        # Any name may be removed (an unlisted one may have been registered), but it must be sane.
        name = services.validate_service(_service(self.context.options["service"], kind), kind,
                                         allow_unknown=True)
        self._run(lambda api: api.unregister(name))
        return Change(f"removed the {name} callback listener",
                      {"provider": "thingspace", "api": kind, "account": conn.account or "",
                       "service": name, "removed": True})

    def list(self) -> Listing:
        """The account's listeners; passwords only ever as ``****`` or ""."""

        async def fetch(api: CallbackApi) -> list[Registration]:
            return await api.list()

        records: list[dict[str, Any]] = [item.as_dict() for item in self._run(fetch)]
        rows = [[r["service"], r["url"], r["username"], r["password"]] for r in records]
        return Listing(records, COLUMNS, rows)


def make(context: ManageContext) -> ThingSpaceChannels:
    return ThingSpaceChannels(context)
