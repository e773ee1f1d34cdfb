"""``notifyctl register``, ``unregister`` and ``list``: the notification channels of an account.

Thin commands naming no platform: resolve the connection once, take the resolved platform's own
options (declared in its ``Platform.options``; another platform's option is refused), build a
``ManageContext`` and call the platform's ``channels`` capability from the registry. What comes
back is data, rendered here: a ``Change`` (warnings, a secret shown once on stderr, the success
line, a value for scripts on stdout, the record with ``-o json``) or a ``Listing`` (table or
JSON). A platform without the capability is a usage error with its own hint.

``unregister --ignore-not-found`` turns "nothing to remove" (any platform's not-found, exit 4)
into exit 0 with a note, for teardown scripts. ``platform_host`` is what a platform's own
subcommands (``notifyctl <platform> ...``) get from the CLI (``contract.commands.Host``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from notifyctl.cli.common import (
    AccountOpt,
    ApiUrlOpt,
    CaBundleOpt,
    HeaderEnvOpt,
    HeaderOpt,
    InsecureOpt,
    NetTimeoutOpt,
    ProviderOpt,
    TableJsonOpt,
    connection,
    keyring_secret,
    table_format,
)
from notifyctl.cli.platform_options import PlatformValues  # Typer reads the signature

if TYPE_CHECKING:
    from notifyctl.contract.commands import Connect
    from notifyctl.contract.connection import Connection
    from notifyctl.contract.manage import Change, Channels, Listing, ManageContext
    from notifyctl.http import NetOptions

ResultOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", help="text (default: a message on stderr) or json (what was "
                 "registered or removed, on stdout).", show_default=False),
]


def _result_format(fmt: str | None) -> str:
    """``-o``'s value: text (the message only) unless json is asked for explicitly."""
    from notifyctl.errors import UsageError

    chosen = (fmt or "text").lower()
    if chosen not in ("text", "json"):
        raise UsageError(f"--output {fmt!r}: choose text or json")
    return chosen


def manage_context(conn: Connection, net: NetOptions,
                   options: dict[str, Any] | None = None) -> ManageContext:
    """What a platform's management runs with: its secrets, the profile's keyring entries, a
    hidden prompt only when someone can answer it, and warnings shown at once."""
    import sys

    from notifyctl import output, secrets
    from notifyctl.contract.manage import ManageContext

    def secret(name: str) -> str:
        return secrets.require(conn.profile, name)

    def stored(name: str) -> str | None:
        return keyring_secret(conn.profile, name)

    def store(name: str, value: str) -> str | None:
        if conn.profile is None:
            return "no profile to store it under"
        try:
            secrets.store(conn.profile, name, value)
        except secrets.KeyringUnavailable as exc:
            return exc.message
        return None

    def ask(prompt: str) -> str:
        import getpass

        return getpass.getpass(prompt, stream=sys.stderr)

    return ManageContext(conn, net, secret, stored, store,
                         ask=ask if sys.stdin.isatty() else None, options=options or {},
                         warn=output.current().warn)


def _managed(command: str, values: PlatformValues | None, conn: Connection,
             net: NetOptions) -> tuple[Channels, dict[str, Any]]:
    """The connection's platform's ``channels`` with its own options of ``command`` (another
    platform's option is refused; a platform without the capability says so), and those
    options."""
    from notifyctl import registry

    platform = registry.get(conn.provider)
    options = (values or PlatformValues(command)).take(platform)
    channels: Channels = platform.load("channels")(manage_context(conn, net, options))
    return channels, options


def show_change(change: Change, fmt: str) -> None:
    """A ``Change`` as people and scripts see it (``fmt``: text or json)."""
    from notifyctl import output

    out = output.current()
    for warning in change.warnings:
        out.warn(warning)
    if change.reveal is not None:
        label, value = change.reveal
        if out.json_log:
            out.record("notice", "reveal", label, value=value)
        else:
            out.err.write(f"{label}: {value}\n")
            out.err.flush()
    out.success(change.message)
    if change.stdout is not None and fmt == "text":
        out.out.write(change.stdout + "\n")
        out.out.flush()
    if fmt == "json":
        out.json(change.record)


def show_listing(listing: Listing, fmt: str) -> None:
    """A ``Listing`` as a table or JSON (``fmt`` from ``table_format``)."""
    from notifyctl import output

    out = output.current()
    if fmt == "json":
        out.json(listing.records)
        return
    out.table(list(listing.columns), listing.rows)


def register(
    url: Annotated[str, typer.Argument(help="Callback URL (HTTPS strongly advised).")],
    header: HeaderOpt = None,
    header_env: HeaderEnvOpt = None,
    fmt: ResultOpt = None,
    provider: ProviderOpt = None,
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    timeout: NetTimeoutOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
    platform_options: PlatformValues | None = None,
) -> None:
    """Register (or replace) the callback URL events are delivered to.

    The platform verifies the URL with a PUT of '{}' and the headers before accepting it.

    \b
    Examples:
      notifyctl -p prod register https://hooks.example.com/pelion \\
          --header "X-Source: pelion-prod" --include-uid --max-chunk-size 500
      notifyctl -p ts register https://hooks.example.com:9001/ts --service DeviceUsage \\
          --callback-username hook --callback-password-env HOOK_PASSWORD
      notifyctl -p sfx register 'https://hooks.example.com/sf?id={device}' --device-type DT \\
          --body-template '{"d":"{data}","t":{time}}' --content-type application/json
      notifyctl -p circle register https://hooks.example.com/circle \\
          --event-type activity_created --event-type activity_finished
    """
    from notifyctl.http import net_options

    chosen = _result_format(fmt)
    conn = connection(provider, api_url, account)
    channels, options = _managed("register", platform_options, conn,
                                 net_options(timeout, insecure, ca_bundle))
    headers = _headers(conn.provider, options, header, header_env)
    show_change(channels.register(url, headers), chosen)


def _headers(provider: str, options: dict[str, Any], header: list[str] | None,
             header_env: list[str] | None) -> dict[str, str]:
    """The user's delivery headers; refused (the one message for another platform's option)
    where the platform does not declare ``HEADER_OPTIONS``, i.e. sends none."""
    from notifyctl import registry
    from notifyctl.cli.platform_options import refusal
    from notifyctl.contract import HEADER_OPTIONS
    from notifyctl.headers import from_options

    for opt, value in zip(HEADER_OPTIONS, (header, header_env), strict=True):
        if value and opt.dest not in options:
            owners = [other.name for other in registry.platforms().values()
                      if opt in other.options_for("register")]
            raise refusal("register", opt.flag, owners, provider)
    return from_options(header, header_env)


def unregister(
    target: Annotated[
        str | None, typer.Argument(help="The registration to remove, where the platform has "
                                   "several (its id, as 'list' shows).", metavar="ID",
                                   show_default=False)
    ] = None,
    ignore_not_found: Annotated[
        bool, typer.Option("--ignore-not-found", help="Exit 0 (with a note) when there is "
                           "nothing to remove, for teardown scripts.")
    ] = False,
    fmt: ResultOpt = None,
    provider: ProviderOpt = None,
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    timeout: NetTimeoutOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
    platform_options: PlatformValues | None = None,
) -> None:
    """Delete the callback channel (or, with --websocket, the WebSocket channel).

    Events queued for the channel are lost.

    \b
    Examples:
      notifyctl -p prod unregister
      notifyctl -p prod unregister --websocket --ignore-not-found -o json
      notifyctl -p ts unregister --service DeviceUsage
      notifyctl -p sfx unregister CALLBACK_ID --device-type DT
    """
    from notifyctl import output
    from notifyctl.errors import NotFoundError
    from notifyctl.http import net_options

    chosen = _result_format(fmt)
    net = net_options(timeout, insecure, ca_bundle)
    conn = connection(provider, api_url, account)
    channels, _ = _managed("unregister", platform_options, conn, net)
    try:
        change = channels.unregister(target)
    except NotFoundError as exc:
        if not ignore_not_found:
            raise
        output.current().info(f"nothing to remove ({exc}); --ignore-not-found: exit 0")
        if chosen == "json":
            output.current().json({"provider": conn.provider, "removed": False,
                                   "reason": exc.message})
        return
    show_change(change, chosen)


def list_channels(
    fmt: TableJsonOpt = None,
    provider: ProviderOpt = None,
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    timeout: NetTimeoutOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
    platform_options: PlatformValues | None = None,
) -> None:
    """Show the notification channel this API key has, if any, and its settings.

    \b
    Examples:
      notifyctl -p prod list
      notifyctl -p prod list -o json | jq '.[0].type'
      notifyctl -p sfx list --device-type DT   (enable/disable: notifyctl sigfox --help)
    """
    from notifyctl.http import net_options

    chosen = table_format(fmt)
    net = net_options(timeout, insecure, ca_bundle)
    conn = connection(provider, api_url, account)
    channels, _ = _managed("list", platform_options, conn, net)
    show_listing(channels.list(), chosen)


class PlatformHost:
    """``contract.commands.Host``: the CLI's side of a platform's own subcommands."""

    def context(self, platform: str, connect: Connect) -> ManageContext:
        from notifyctl.http import net_options

        conn = _own_connection(platform, connect)
        return manage_context(conn, net_options(connect.timeout, connect.insecure,
                                                connect.ca_bundle), dict(connect.options))

    def table_format(self, fmt: str | None) -> str:
        return table_format(fmt)

    def show(self, result: Change | Listing | Any, fmt: str | None = None) -> None:
        from notifyctl import output
        from notifyctl.contract.manage import Change, Listing

        if isinstance(result, Listing):
            show_listing(result, table_format(fmt))
        elif isinstance(result, Change):
            show_change(result, _result_format(fmt))
        else:
            output.current().json(result)

    def write(self, stream: str, chunk: str) -> None:
        from notifyctl import output

        out = output.current()
        target = out.err if stream == "stderr" else out.out
        # A device's bytes reach a terminal only as inert text; pipes get them exactly.
        target.write(output.inert_str(chunk) if target.isatty() else chunk)
        target.flush()

    def complete_provider(self, incomplete: str) -> list[str]:
        from notifyctl.cli.common import complete_provider

        return complete_provider(incomplete)


def _own_connection(platform: str, connect: Connect) -> Connection:
    """The connection of a platform's own subcommand: it takes --provider like every networked
    command, but only naming its own platform; with ``own_profile``, the profile must be one of
    the platform's unless --api-url says where to go."""
    from notifyctl.cli.common import active_profile, load_config
    from notifyctl.errors import UsageError
    from notifyctl.suggest import did_you_mean

    if connect.own_profile and not connect.api_url:
        config = load_config()
        profile = active_profile(config)
        if profile and config.profile(profile).get("provider") != platform:
            raise UsageError(f"profile {profile!r} is not an {platform} profile",
                             hint=f"choose an {platform} profile with -p, or pass --api-url")
    if connect.provider is not None and connect.provider != platform:
        raise UsageError(f"--provider {connect.provider!r}: 'notifyctl {platform} ...' works on "
                         f"{platform} only", hint=did_you_mean(connect.provider, [platform])
                         + f"pass --provider {platform} or leave it out")
    return connection(platform, connect.api_url, connect.account)
