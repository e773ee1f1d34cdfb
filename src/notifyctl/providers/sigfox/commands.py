"""``notifyctl sigfox enable|disable|downlink ID`` and ``sigfox undelivered``: the Sigfox
callback operations beyond register/unregister/list, on the same client as the ``channels``
capability (``manage.py``); the CLI resolves the connection and renders through
``contract.commands.host()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from notifyctl.contract.commands import (
    AccountOpt,
    ApiUrlOpt,
    CaBundleOpt,
    Connect,
    InsecureOpt,
    NetTimeoutOpt,
    ProviderOpt,
    host,
)
from notifyctl.contract.manage import Change
from notifyctl.providers.sigfox import DEVICE_TYPE
from notifyctl.providers.sigfox.manage import SigfoxChannels

app = typer.Typer(help="Sigfox: enable or disable callbacks, choose the downlink callback, "
                  "list undelivered callbacks.",
                  no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help="Callback id (see 'notifyctl list --device-type').",
                                      show_default=False)]
# As register/unregister/list label the declared option when no platform is resolved.
DeviceTypeOpt = Annotated[
    str | None,
    typer.Option(DEVICE_TYPE.flag, help=DEVICE_TYPE.labelled(("sigfox",)), show_default=False),
]


def _sigfox(connect: Connect) -> SigfoxChannels:
    return SigfoxChannels(host().context("sigfox", connect))


# What a callback command does with the callbacks of the device type and a callback id.
Action = Callable[[SigfoxChannels, str], Change]


def _callback_command(name: str, doc: str, action: Action) -> None:
    """Register ``sigfox NAME ID``: enable, disable and downlink take the same options."""

    def command(callback_id: IdArg, device_type: DeviceTypeOpt = None,
                provider: ProviderOpt = None, api_url: ApiUrlOpt = None,
                account: AccountOpt = None, timeout: NetTimeoutOpt = None,
                insecure: InsecureOpt = False, ca_bundle: CaBundleOpt = None) -> None:
        channels = _sigfox(Connect(provider, api_url, account, timeout, insecure, ca_bundle,
                                   options={"device_type": device_type}))
        host().show(action(channels, callback_id))

    command.__doc__ = doc
    app.command(name)(command)


_callback_command("enable", """Enable a callback (Sigfox sends to it again).

    \b
    Example:
      notifyctl -p sfx sigfox enable 5f3c... --device-type 5a1b...
    """, lambda channels, callback_id: channels.set_enabled(callback_id, True))
_callback_command("disable", """Disable a callback without deleting it.

    \b
    Example:
      notifyctl -p sfx sigfox disable 5f3c... --device-type 5a1b...
    """, lambda channels, callback_id: channels.set_enabled(callback_id, False))
_callback_command("downlink", """Make a data/bidir callback the one whose answers carry downlinks.

    \b
    Example:
      notifyctl -p sfx sigfox downlink 5f3c... --device-type 5a1b...
    """, lambda channels, callback_id: channels.select_downlink(callback_id))


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
    channels = _sigfox(Connect(provider, api_url, account, timeout, insecure, ca_bundle,
                               options={"device_type": device_type}))
    host().show(channels.not_delivered(limit))
