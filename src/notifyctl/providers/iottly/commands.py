"""``notifyctl iottly check-webhooks FILE`` and ``notifyctl iottly exec DEVICE COMMAND``.

Iottly's webhooks live in its dashboard only, so notifyctl checks a description of them instead
of registering them. ``exec`` runs a command on a device over the stream API and behaves like
``ssh``: the device's stdout and stderr go to ours as they arrive, and the exit status is the
device's (an exit code above 255 becomes 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from notifyctl.contract.commands import (
    AccountOpt,
    ApiUrlOpt,
    Connect,
    ProviderOpt,
    TableJsonOpt,
    host,
)

if TYPE_CHECKING:
    from notifyctl.contract.manage import ManageContext

app = typer.Typer(help="Iottly: check webhook descriptions, run commands on devices.",
                  no_args_is_help=True)


@app.command("check-webhooks")
def check_webhooks(
    file: Annotated[str, typer.Argument(help="YAML description of the project's webhooks.",
                                        show_default=False)],
    output_format: TableJsonOpt = None,
) -> None:
    """Check a webhook description against Iottly's limits before entering it in the dashboard.

    At most 5 webhooks and 5 headers each, HTTPS URLs, type iottly or user. Errors name the
    file, the webhook and the field, and exit 2. Header values are never printed.

    \b
    Example:
      notifyctl iottly check-webhooks webhooks.yaml
    """
    from notifyctl.contract.manage import Change, Listing
    from notifyctl.providers.iottly.webhooks import MAX_WEBHOOKS, load_file

    fmt = host().table_format(output_format)
    hooks = load_file(file)
    rows = [hook.summary() for hook in hooks]
    table = [[i, r["type"], r["url"], r["channel"] or "", "yes" if r["payload_only"] else "",
              ", ".join(r["headers"]), r["description"]] for i, r in enumerate(rows)]
    host().show(Listing(rows, ("#", "type", "url", "channel", "payload only", "headers",
                               "description"), table), fmt)
    host().show(Change(f"{file}: {len(hooks)} webhook(s) within Iottly's limits "
                       f"(at most {MAX_WEBHOOKS}); enter them under Project settings -> "
                       "Configure webhooks"))


def _iottly(provider: str | None, api_url: str | None, account: str | None) -> ManageContext:
    # An iottly command with another platform's profile would talk to that platform's URL.
    return host().context("iottly", Connect(provider, api_url, account, own_profile=True))


@app.command("exec")
def exec_command(
    device: Annotated[str, typer.Argument(help="Device id.", show_default=False)],
    command: Annotated[list[str], typer.Argument(help="Command line to run (use -- before "
                                                 "options of the command).", show_default=False)],
    provider: ProviderOpt = None,
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Give up after S seconds (exit 5).", show_default=False),
    ] = None,
) -> None:
    """Run COMMAND on DEVICE and stream its output; exit with the device's exit code.

    \b
    Examples:
      notifyctl -p iot iottly exec dev_01 -- tail -n 50 /var/log/app.log
      notifyctl -p iot iottly exec dev_01 'systemctl restart app' || echo failed
    """
    import asyncio

    from notifyctl.errors import NetworkError
    from notifyctl.providers.iottly.stream import run_command
    from notifyctl.providers.iottly.wire import stream_url

    context = _iottly(provider, api_url, account)
    conn = context.connection
    key = context.secret("api_key")
    override = conn.settings.get("stream_url")
    url = stream_url(conn.api_url, key, str(override) if override else None)
    text = " ".join(command)

    async def main() -> int:
        async for event in run_command(url, device, text):
            if event.kind == "command-output" and event.chunk is not None:
                host().write("stderr" if event.fd == "stderr" else "stdout", event.chunk)
            elif event.kind == "command-done":
                return event.exit_code or 0
        return 1

    async def bounded() -> int:
        if timeout is None:
            return await main()
        try:
            async with asyncio.timeout(timeout):
                return await main()
        except TimeoutError:
            raise NetworkError(f"iottly exec: no command_done within {timeout:g} s",
                               hint="the command may still be running on the device") from None

    code = asyncio.run(bounded())
    raise typer.Exit(code if 0 <= code <= 255 else 1)
