"""``notifyctl sigfox enable|disable|downlink ID`` and ``sigfox undelivered``: the Sigfox
callback operations beyond register/unregister/list (``providers/sigfox/commands.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from notifyctl.cli.common import (
    AccountOpt,
    ApiUrlOpt,
    CaBundleOpt,
    DeviceTypeOpt,
    InsecureOpt,
    NetTimeoutOpt,
    ProviderOpt,
    platform_connection,
)

if TYPE_CHECKING:
    from notifyctl.config import Connection
    from notifyctl.http import NetOptions

app = typer.Typer(help="Sigfox: enable or disable callbacks, choose the downlink callback, "
                  "list undelivered callbacks.",
                  no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help="Callback id (see 'notifyctl list --device-type').",
                                      show_default=False)]


def _sigfox(provider: str | None, api_url: str | None, account: str | None,
            timeout: float | None, insecure: bool, ca_bundle: str | None
            ) -> tuple[Connection, NetOptions]:
    from notifyctl.http import net_options

    return (platform_connection("sigfox", provider, api_url, account),
            net_options(timeout, insecure, ca_bundle))


# What a callback command does once connected: (connection, net, device type, callback id).
Action = Callable[["Connection", "NetOptions", str | None, str], None]


def _callback_command(name: str, doc: str, action: Action) -> None:
    """Register ``sigfox NAME ID``: enable, disable and downlink take the same options."""

    def command(callback_id: IdArg, device_type: DeviceTypeOpt = None,
                provider: ProviderOpt = None, api_url: ApiUrlOpt = None,
                account: AccountOpt = None, timeout: NetTimeoutOpt = None,
                insecure: InsecureOpt = False, ca_bundle: CaBundleOpt = None) -> None:
        conn, net = _sigfox(provider, api_url, account, timeout, insecure, ca_bundle)
        action(conn, net, device_type, callback_id)

    command.__doc__ = doc
    app.command(name)(command)


def _enable(conn: Connection, net: NetOptions, device_type: str | None, callback_id: str) -> None:
    from notifyctl.providers.sigfox import commands

    commands.set_enabled(conn, net, device_type, callback_id, True)


def _disable(conn: Connection, net: NetOptions, device_type: str | None, callback_id: str) -> None:
    from notifyctl.providers.sigfox import commands

    commands.set_enabled(conn, net, device_type, callback_id, False)


def _downlink(conn: Connection, net: NetOptions, device_type: str | None,
              callback_id: str) -> None:
    from notifyctl.providers.sigfox import commands

    commands.select_downlink(conn, net, device_type, callback_id)


_callback_command("enable", """Enable a callback (Sigfox sends to it again).

    \b
    Example:
      notifyctl -p sfx sigfox enable 5f3c... --device-type 5a1b...
    """, _enable)
_callback_command("disable", """Disable a callback without deleting it.

    \b
    Example:
      notifyctl -p sfx sigfox disable 5f3c... --device-type 5a1b...
    """, _disable)
_callback_command("downlink", """Make a data/bidir callback the one whose answers carry downlinks.

    \b
    Example:
      notifyctl -p sfx sigfox downlink 5f3c... --device-type 5a1b...
    """, _downlink)


@app.command("undelivered")
def undelivered(
    device_type: DeviceTypeOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N errors.",
                                              show_default=False)] = None,
    provider: ProviderOpt = None,
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    timeout: NetTimeoutOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
) -> None:
    """List callback deliveries that failed (callbacks-not-delivered), as JSON.

    \b
    Example:
      notifyctl -p sfx sigfox undelivered --device-type 5a1b... | jq '.[].message'
    """
    from notifyctl import output
    from notifyctl.providers.sigfox import commands

    conn, net = _sigfox(provider, api_url, account, timeout, insecure, ca_bundle)
    output.current().json(commands.not_delivered(conn, net, device_type, limit))
