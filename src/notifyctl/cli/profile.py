"""``notifyctl profile add|list|show|remove|use``: named connections in the config file."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from notifyctl.cli.common import (
    AccountOpt,
    ApiUrlOpt,
    TableJsonOpt,
    active_profile,
    complete_profile,
    complete_provider,
    load_config,
    table_format,
)

app = typer.Typer(help="Named connections (provider, API URL, account) in the config file.",
                  no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Profile name.", autocompletion=complete_profile)]


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Profile name.")],
    provider: Annotated[
        str,
        typer.Option("--provider", help="Platform.", autocompletion=complete_provider),
    ],
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="Provider-specific KEY=VALUE (repeatable).", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing profile.")] = False,
    make_default: Annotated[
        bool, typer.Option("--default", help="Make it the default profile.")
    ] = False,
) -> None:
    """Add a profile (no secrets: use 'auth login' for those).

    \b
    Examples:
      notifyctl profile add prod --provider pelion
      notifyctl profile add ts --provider thingspace --account 0000123456-00001 --set api=soap
    """
    from notifyctl import config as cfg
    from notifyctl import output, registry
    from notifyctl.errors import UsageError

    cfg.check_profile_name(name)
    info = registry.for_profile(provider)
    config = load_config()
    if name in config.profiles and not force:
        raise UsageError(f"profile {name!r} exists", hint="pass --force to replace it")
    entry: dict[str, Any] = {"provider": info.name}
    if api_url:
        entry["api_url"] = api_url.rstrip("/")
    if account:
        entry["account"] = account
    for assignment in settings or []:
        key, value = cfg.parse_assignment(assignment)
        cfg.check_setting(info.name, key, value, where="--set ")
        entry[key] = value
    config.profiles[name] = entry
    if make_default or not config.default_profile:
        config.default_profile = name
    cfg.save(config)
    out = output.current()
    out.success(f"added profile {name!r} ({info.title}) to {config.path}")
    if info.secrets:
        out.info(f"next: notifyctl -p {name} auth login")


@app.command("list")
def list_profiles(fmt: TableJsonOpt = None) -> None:
    """List profiles; the default one is marked."""
    from notifyctl import output

    config = load_config()
    rows = [
        {
            "name": name,
            "default": name == config.default_profile,
            "provider": entry["provider"],
            "api_url": _api_url(entry),
            "account": entry.get("account"),
        }
        for name, entry in sorted(config.profiles.items())
    ]
    out = output.current()
    if table_format(fmt) == "json":
        out.json(rows)
        return
    out.table(
        ["", "name", "provider", "api_url", "account"],
        [
            ["*" if r["default"] else "", r["name"], r["provider"], r["api_url"], r["account"]]
            for r in rows
        ],
    )


@app.command("show")
def show(
    name: Annotated[
        str | None,
        typer.Argument(help="Profile (default: the active one).", autocompletion=complete_profile),
    ] = None,
    fmt: TableJsonOpt = None,
) -> None:
    """Show one profile's settings."""
    from notifyctl import output
    from notifyctl.errors import UsageError

    config = load_config()
    chosen = name or active_profile(config)
    if not chosen:
        raise UsageError("no profile given and no default profile",
                         hint="name one, or run 'notifyctl profile use NAME'")
    entry = config.profile(chosen)
    data = {"name": chosen, "default": chosen == config.default_profile,
            **entry, "api_url": _api_url(entry)}
    out = output.current()
    if table_format(fmt) == "json":
        out.json(data)
    else:
        out.table(["setting", "value"], [[k, v] for k, v in data.items()])


@app.command("remove")
def remove(
    name: NameArg,
    keep_secrets: Annotated[
        bool, typer.Option("--keep-secrets", help="Leave its secrets in the keyring.")
    ] = False,
) -> None:
    """Remove a profile and, unless --keep-secrets, its secrets in the keyring."""
    from notifyctl import config as cfg
    from notifyctl import output, registry
    from notifyctl import secrets as sec

    config = load_config()
    entry = config.profile(name)
    del config.profiles[name]
    if config.default_profile == name:
        config.default_profile = None
    cfg.save(config)
    out = output.current()
    out.success(f"removed profile {name!r}")
    if keep_secrets:
        return
    try:
        for secret in registry.for_profile(entry["provider"]).secrets:
            sec.delete(name, secret)
    except sec.KeyringUnavailable as exc:
        out.warn(f"could not clear its secrets from the keyring: {exc.message}")


@app.command("use")
def use(name: NameArg) -> None:
    """Make NAME the default profile."""
    from notifyctl import config as cfg
    from notifyctl import output

    config = load_config()
    config.profile(name)
    config.default_profile = name
    cfg.save(config)
    output.current().success(f"default profile is now {name!r}")


def _api_url(entry: dict[str, Any]) -> str:
    from notifyctl import registry

    return str(entry.get("api_url") or registry.for_profile(entry["provider"]).default_api_url)
