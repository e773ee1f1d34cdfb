"""``notifyctl auth login|status|logout``: a profile's secrets in the OS keyring.

Secrets are never taken as option values: a hidden prompt on a terminal, standard input (one
secret a line, in the order listed by ``auth status``) otherwise.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from notifyctl.cli.common import TableJsonOpt, active_profile, load_config, table_format

if TYPE_CHECKING:
    from notifyctl.contract import Platform

app = typer.Typer(help="Store, inspect and remove a profile's secrets.", no_args_is_help=True)

SecretOpt = Annotated[
    list[str] | None,
    typer.Option("--secret", help="Only this secret (repeatable); default: all of the provider's.",
                 show_default=False),
]


def _profile_and_secrets(only: list[str] | None
                         ) -> tuple[str, Platform, list[str], tuple[str, ...]]:
    """The active profile, its provider, the secrets asked for, and those it cannot work
    without (thingspace's REST client only with api=rest, say)."""
    from notifyctl import registry
    from notifyctl.errors import UsageError

    config = load_config()
    name = active_profile(config)
    if not name:
        raise UsageError("no profile chosen", hint="pass -p NAME (see 'notifyctl profile list')")
    entry = config.profile(name)
    info = registry.for_profile(entry["provider"])
    wanted = list(only or info.secrets)
    unknown = [s for s in wanted if s not in info.secrets]
    if unknown:
        raise UsageError(f"--secret {unknown[0]!r} is not a {info.name} secret",
                         hint=f"{info.name} secrets: {', '.join(info.secrets)}")
    return name, info, wanted, info.required_secrets(entry)


@app.command("login")
def login(only: SecretOpt = None) -> None:
    """Store the profile's secrets in the OS keyring.

    On a terminal each secret is asked for with a hidden prompt (empty input keeps the stored
    value); otherwise standard input gives one secret a line, in the order 'auth status'
    lists them (an empty line skips a secret the profile does not need). Nothing stored, or an
    empty line for a secret the profile needs, exits 2 and stores nothing.

    \b
    Examples:
      notifyctl -p prod auth login
      printf '%s\\n' "$PELION_KEY" | notifyctl -p prod auth login
    """
    from notifyctl import output
    from notifyctl import secrets as sec
    from notifyctl.errors import UsageError

    name, info, wanted, required = _profile_and_secrets(only)
    interactive = sys.stdin.isatty()
    values = {secret: _read_secret(secret, name, info, interactive) for secret in wanted}
    empty = [secret for secret, value in values.items() if not value]
    # On standard input an empty line is a mistake (`echo "$UNSET" | ... auth login`) unless the
    # secret is one the profile can do without; at a prompt it means "keep what is stored".
    needed = [s for s in empty if s in required or only] if not interactive else []
    if needed or len(empty) == len(wanted):
        source = "at the prompt" if interactive else "on standard input"
        names = needed or empty
        raise UsageError(f"auth login: {', '.join(names)} {'was' if len(names) == 1 else 'were'}"
                         f" empty {source}; nothing stored",
                         hint=f"give one secret a line, in this order: {', '.join(wanted)}")
    stored = [secret for secret, value in values.items() if value]
    for secret in stored:
        sec.store(name, secret, values[secret])
    output.current().success(f"stored {', '.join(stored)} for profile {name!r} in the OS keyring"
                             + (f" (skipped: {', '.join(empty)})" if empty else ""))


def _read_secret(secret: str, profile: str, info: Platform, interactive: bool) -> str:
    import getpass

    if interactive:
        return getpass.getpass(f"{secret} for profile {profile} ({info.title}): ",
                               stream=sys.stderr)
    return sys.stdin.readline().rstrip("\r\n")


@app.command("status")
def status(
    fmt: TableJsonOpt = None,
) -> None:
    """Say which secrets are set and where they come from (environment or keyring), masked.

    Exits 2 (a configuration error, like any missing secret) when a secret the profile needs
    is not set, after printing the status.
    """
    from notifyctl import output
    from notifyctl import secrets as sec
    from notifyctl.errors import ConfigError

    name, info, wanted, required = _profile_and_secrets(None)
    out = output.current()
    chosen = table_format(fmt)
    rows: list[dict[str, Any]] = []
    keyring_problem: str | None = None
    for secret in wanted:
        try:
            state = sec.lookup(name, secret)
        except sec.KeyringUnavailable as exc:
            keyring_problem = exc.message
            state = sec.SecretState(secret, None, None)
        rows.append({"name": secret, "set": state.value is not None, "source": state.source,
                     "masked": state.masked or None, "env": sec.SECRET_ENV.get(secret),
                     "required": secret in required})
    if keyring_problem:
        out.warn(f"{keyring_problem}; only environment variables were checked")
    if chosen == "json":
        out.json({"profile": name, "provider": info.name, "keyring_error": keyring_problem,
                  "secrets": rows})
    else:
        out.table(["secret", "source", "value", "environment variable"],
                  [[r["name"] + ("" if r["required"] else " (optional)"),
                    r["source"] or "not set", r["masked"] or "",
                    r["env"] or "(keyring only)"] for r in rows],
                  title=f"profile {name} ({info.title})")
    missing = [r for r in rows if r["required"] and not r["set"]]
    if missing:
        variables = [str(r["env"]) for r in missing if r["env"]]
        raise ConfigError(f"profile {name!r} lacks {', '.join(r['name'] for r in missing)}",
                          hint=f"run 'notifyctl -p {name} auth login'"
                          + (f" or set {', '.join(variables)}" if variables else ""))


@app.command("logout")
def logout(only: SecretOpt = None) -> None:
    """Remove the profile's secrets from the OS keyring."""
    from notifyctl import output
    from notifyctl import secrets as sec

    name, _info, wanted, _required = _profile_and_secrets(only)
    removed = [secret for secret in wanted if sec.delete(name, secret)]
    out = output.current()
    if removed:
        out.success(f"removed {', '.join(removed)} of profile {name!r} from the OS keyring")
    else:
        out.info(f"no secrets of profile {name!r} were in the keyring")
