"""``notifyctl sigfox enable|disable|downlink ID`` and ``sigfox undelivered``: the Sigfox
callback operations beyond register/unregister/list (``providers/sigfox/commands.py``)."""

from __future__ import annotations

from typing import Annotated

import typer

from notifyctl.cli.common import (
    ApiUrlOpt,
    CaBundleOpt,
    InsecureOpt,
    NetTimeoutOpt,
    connection,
)

app = typer.Typer(help="Sigfox: enable or disable callbacks, choose the downlink callback, "
                  "list undelivered callbacks.",
                  no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help="Callback id (see 'notifyctl list --device-type').",
                                      show_default=False)]
DeviceTypeOpt = Annotated[
    str | None,
    typer.Option("--device-type", help="The device type the callback belongs to.",
                 show_default=False),
]


def _set(callback_id: str, device_type: str | None, api_url: str | None, timeout: float | None,
         insecure: bool, ca_bundle: str | None, enabled: bool) -> None:
    from notifyctl.http import net_options
    from notifyctl.providers.sigfox import commands

    commands.set_enabled(connection("sigfox", api_url), net_options(timeout, insecure, ca_bundle),
                         device_type, callback_id, enabled)


@app.command("enable")
def enable(callback_id: IdArg, device_type: DeviceTypeOpt = None, api_url: ApiUrlOpt = None,
           timeout: NetTimeoutOpt = None, insecure: InsecureOpt = False,
           ca_bundle: CaBundleOpt = None) -> None:
    """Enable a callback (Sigfox sends to it again).

    \b
    Example:
      notifyctl -p sfx sigfox enable 5f3c... --device-type 5a1b...
    """
    _set(callback_id, device_type, api_url, timeout, insecure, ca_bundle, True)


@app.command("disable")
def disable(callback_id: IdArg, device_type: DeviceTypeOpt = None, api_url: ApiUrlOpt = None,
            timeout: NetTimeoutOpt = None, insecure: InsecureOpt = False,
            ca_bundle: CaBundleOpt = None) -> None:
    """Disable a callback without deleting it.

    \b
    Example:
      notifyctl -p sfx sigfox disable 5f3c... --device-type 5a1b...
    """
    _set(callback_id, device_type, api_url, timeout, insecure, ca_bundle, False)


@app.command("downlink")
def downlink(callback_id: IdArg, device_type: DeviceTypeOpt = None, api_url: ApiUrlOpt = None,
             timeout: NetTimeoutOpt = None, insecure: InsecureOpt = False,
             ca_bundle: CaBundleOpt = None) -> None:
    """Make a data/bidir callback the one whose answers carry downlinks.

    \b
    Example:
      notifyctl -p sfx sigfox downlink 5f3c... --device-type 5a1b...
    """
    from notifyctl.http import net_options
    from notifyctl.providers.sigfox import commands

    commands.select_downlink(connection("sigfox", api_url),
                             net_options(timeout, insecure, ca_bundle), device_type, callback_id)


@app.command("undelivered")
def undelivered(
    device_type: DeviceTypeOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N errors.",
                                              show_default=False)] = None,
    api_url: ApiUrlOpt = None,
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
    from notifyctl.http import net_options
    from notifyctl.providers.sigfox import commands

    rows = commands.not_delivered(connection("sigfox", api_url),
                                  net_options(timeout, insecure, ca_bundle), device_type, limit)
    output.current().json(rows)
