"""``notifyctl auth login|status|logout``: a profile's secrets in the OS keyring.

Secrets are never taken as option values: a hidden prompt on a terminal, standard input (one
secret a line, in the order listed by ``auth status``) otherwise.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from notifyctl.cli.common import TableJsonOpt, active_profile, load_config, table_format

if TYPE_CHECKING:
    from notifyctl.providers.base import ProviderInfo

app = typer.Typer(help="Store, inspect and remove a profile's secrets.", no_args_is_help=True)

SecretOpt = Annotated[
    list[str] | None,
    typer.Option("--secret", help="Only this secret (repeatable); default: all of the provider's.",
                 show_default=False),
]


def _profile_and_secrets(only: list[str] | None) -> tuple[str, ProviderInfo, list[str]]:
    from notifyctl.errors import UsageError
    from notifyctl.providers.base import get_info

    config = load_config()
    name = active_profile(config)
    if not name:
        raise UsageError("no profile chosen", hint="pass -p NAME (see 'notifyctl profile list')")
    info = get_info(config.profile(name)["provider"])
    wanted = list(only or info.secrets)
    unknown = [s for s in wanted if s not in info.secrets]
    if unknown:
        raise UsageError(f"--secret {unknown[0]!r} is not a {info.name} secret",
                         hint=f"{info.name} secrets: {', '.join(info.secrets)}")
    return name, info, wanted


@app.command("login")
def login(only: SecretOpt = None) -> None:
    """Store the profile's secrets in the OS keyring.

    On a terminal each secret is asked for with a hidden prompt (empty input keeps the stored
    value); otherwise standard input gives one secret a line.

    \b
    Examples:
      notifyctl -p prod auth login
      printf '%s\\n' "$PELION_KEY" | notifyctl -p prod auth login
    """
    import getpass

    from notifyctl import output
    from notifyctl import secrets as sec

    name, info, wanted = _profile_and_secrets(only)
    out = output.current()
    interactive = sys.stdin.isatty()
    stored: list[str] = []
    for secret in wanted:
        if interactive:
            value = getpass.getpass(f"{secret} for profile {name} ({info.title}): ",
                                    stream=sys.stderr)
        else:
            value = sys.stdin.readline().rstrip("\r\n")
        if value:
            sec.store(name, secret, value)
            stored.append(secret)
    if stored:
        out.success(f"stored {', '.join(stored)} for profile {name!r} in the OS keyring")
    else:
        out.warn("nothing stored: no secret was given")


@app.command("status")
def status(
    fmt: TableJsonOpt = None,
) -> None:
    """Say which secrets are set and where they come from (environment or keyring), masked."""
    from notifyctl import output
    from notifyctl import secrets as sec

    name, info, wanted = _profile_and_secrets(None)
    out = output.current()
    chosen = table_format(fmt)
    rows = []
    keyring_problem: str | None = None
    for secret in wanted:
        try:
            state = sec.lookup(name, secret)
        except sec.KeyringUnavailable as exc:
            keyring_problem = exc.message
            state = sec.SecretState(secret, None, None)
        rows.append({"name": secret, "set": state.value is not None, "source": state.source,
                     "masked": state.masked or None, "env": sec.SECRET_ENV.get(secret)})
    if keyring_problem:
        out.warn(f"{keyring_problem}; only environment variables were checked")
    if chosen == "json":
        out.json({"profile": name, "provider": info.name, "keyring_error": keyring_problem,
                  "secrets": rows})
        return
    out.table(["secret", "source", "value", "environment variable"],
              [[r["name"], r["source"] or "not set", r["masked"] or "",
                r["env"] or "(keyring only)"] for r in rows],
              title=f"profile {name} ({info.title})")


@app.command("logout")
def logout(only: SecretOpt = None) -> None:
    """Remove the profile's secrets from the OS keyring."""
    from notifyctl import output
    from notifyctl import secrets as sec

    name, _info, wanted = _profile_and_secrets(only)
    removed = [secret for secret in wanted if sec.delete(name, secret)]
    out = output.current()
    if removed:
        out.success(f"removed {', '.join(removed)} of profile {name!r} from the OS keyring")
    else:
        out.info(f"no secrets of profile {name!r} were in the keyring")
