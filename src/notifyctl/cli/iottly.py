"""``notifyctl iottly check-webhooks FILE`` and ``notifyctl iottly exec DEVICE COMMAND``.

Iottly's webhooks live in its dashboard only, so notifyctl checks a description of them instead
of registering them. ``exec`` runs a command on a device over the stream API and behaves like
``ssh``: the device's stdout and stderr go to ours as they arrive, and the exit status is the
device's (an exit code above 255 becomes 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from notifyctl.cli.common import (
    AccountOpt,
    ApiUrlOpt,
    ProviderOpt,
    TableJsonOpt,
    platform_connection,
    table_format,
)

if TYPE_CHECKING:
    from notifyctl.config import Connection

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
    from notifyctl import output
    from notifyctl.providers.iottly.webhooks import MAX_WEBHOOKS, load_file

    out = output.current()
    fmt = table_format(output_format)
    hooks = load_file(file)
    rows = [hook.summary() for hook in hooks]
    if fmt == "json":
        out.json(rows)
    else:
        out.table(["#", "type", "url", "channel", "payload only", "headers", "description"],
                  [[i, r["type"], r["url"], r["channel"] or "", "yes" if r["payload_only"] else "",
                    ", ".join(r["headers"]), r["description"]] for i, r in enumerate(rows)])
    out.success(f"{file}: {len(hooks)} webhook(s) within Iottly's limits "
                f"(at most {MAX_WEBHOOKS}); enter them under Project settings -> Configure "
                "webhooks")


def _iottly_connection(provider: str | None, api_url: str | None,
                       account: str | None) -> Connection:
    from notifyctl.cli.common import active_profile, load_config
    from notifyctl.errors import UsageError

    config = load_config()
    profile = active_profile(config)
    if profile and config.profile(profile).get("provider") != "iottly" and not api_url:
        raise UsageError(f"profile {profile!r} is not an iottly profile",
                         hint="choose an iottly profile with -p, or pass --api-url")
    return platform_connection("iottly", provider, api_url, account)


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

    from notifyctl import output
    from notifyctl import secrets as sec
    from notifyctl.errors import NetworkError
    from notifyctl.providers.iottly.stream import run_command
    from notifyctl.providers.iottly.wire import stream_url

    conn = _iottly_connection(provider, api_url, account)
    key = sec.require(conn.profile, "api_key")
    override = conn.settings.get("stream_url")
    url = stream_url(conn.api_url, key, str(override) if override else None)
    out = output.current()
    text = " ".join(command)

    def emit(fd: str | None, chunk: str) -> None:
        stream = out.err if fd == "stderr" else out.out
        # A device's bytes reach a terminal only as inert text; pipes get them exactly.
        stream.write(output.inert_str(chunk) if stream.isatty() else chunk)
        stream.flush()

    async def main() -> int:
        async for event in run_command(url, device, text):
            if event.kind == "command-output" and event.chunk is not None:
                emit(event.fd, event.chunk)
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
