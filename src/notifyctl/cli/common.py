"""What every command shares: the global options, reusable option types, and completers.

Importing this module must stay cheap (typer only): completion and ``--help`` load it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

# The one implementation is the core's (platforms read their --...-env secrets with it too);
# re-exported for the commands that import it from here.

if TYPE_CHECKING:
    from notifyctl.config import Config, Connection
    from notifyctl.contract import Platform


@dataclass
class GlobalOptions:
    profile: str | None = None
    config: str | None = None
    no_color: bool = False
    verbose: bool = False
    quiet: bool = False


# Set by the root callback before any command runs; read by main() to decide on tracebacks.
GLOBALS = GlobalOptions()


def complete_profile(ctx: typer.Context, incomplete: str) -> list[str]:
    from notifyctl.config import config_path, profile_names_for_completion

    path = config_path(ctx.find_root().params.get("config"))
    return [name for name in profile_names_for_completion(path) if name.startswith(incomplete)]


def complete_provider(incomplete: str) -> list[str]:
    from notifyctl import registry

    return [name for name in registry.profile_names() if name.startswith(incomplete)]


def load_config() -> Config:
    from notifyctl import config

    return config.load(config.config_path(GLOBALS.config))


def config_file() -> Path:
    from notifyctl.config import config_path

    return config_path(GLOBALS.config)


def active_profile(config: Config) -> str | None:
    """The profile named by -p, NOTIFYCTL_PROFILE or default_profile (validated)."""
    name = GLOBALS.profile or os.environ.get("NOTIFYCTL_PROFILE") or config.default_profile
    if name:
        config.profile(name)
    return name


def stored_signing_secret(platform: Platform) -> str | None:
    """The secret that signs ``platform``'s callbacks (``Platform.signing_secret``, e.g. a key
    ``register`` generated) as the active profile's keyring holds it; None when the platform has
    none, or there is no profile, no entry, or no usable keyring."""
    from notifyctl import secrets

    if platform.signing_secret is None:
        return None
    profile = active_profile(load_config())
    if profile is None:
        return None
    try:
        return secrets.lookup(profile, platform.signing_secret).value
    except secrets.KeyringUnavailable:
        return None


# Options every networked command takes, so a CI script needs no config file.
ProviderOpt = Annotated[
    str | None,
    typer.Option(
        "--provider",
        help="Platform (overrides the profile; env NOTIFYCTL_PROVIDER).",
        autocompletion=complete_provider,
        show_default=False,
    ),
]
ApiUrlOpt = Annotated[
    str | None,
    typer.Option("--api-url", help="API base URL (env NOTIFYCTL_API_URL).", show_default=False),
]
AccountOpt = Annotated[
    str | None,
    typer.Option("--account", help="Account name (env NOTIFYCTL_ACCOUNT).", show_default=False),
]
# Network options (notifyctl.http.net_options builds the client settings from them).
# --timeout means "stop after S seconds" on every command that takes it (StopTimeoutOpt); the
# bound on each HTTP request is --request-timeout everywhere.
NetTimeoutOpt = Annotated[
    float | None,
    typer.Option("--request-timeout", metavar="S", help="Seconds per HTTP request (default 30).",
                 show_default=False),
]
InsecureOpt = Annotated[
    bool, typer.Option("--insecure", help="Do not verify TLS certificates (testing only).")
]
CaBundleOpt = Annotated[
    str | None,
    typer.Option("--ca-bundle", help="PEM file of CA certificates to trust.", show_default=False),
]

# Options several commands share with one meaning; a command whose option means something else
# (tail's --count -n) keeps its own.
TableJsonOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", help="table or json (default: table on a terminal, else json).",
                 show_default=False),
]
TableJsonlOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", help="table or jsonl (default: table on a terminal, else "
                 "jsonl).", show_default=False),
]
StopTimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Stop after S seconds (exit 8 if --count is not reached).",
                 show_default=False),
]
HeaderOpt = Annotated[
    list[str] | None,
    typer.Option("--header", "-H", help="'Name: value' sent with every delivery (repeatable).",
                 show_default=False),
]
HeaderEnvOpt = Annotated[
    list[str] | None,
    typer.Option("--header-env", help="'Name=VARIABLE': a header whose value (a token) comes from "
                 "the environment, never the command line (repeatable).", show_default=False),
]
DeviceTypeOpt = Annotated[
    str | None,
    typer.Option("--device-type", help="sigfox: the device type the callbacks belong to.",
                 show_default=False),
]
ContentTypeOpt = Annotated[
    str | None,
    typer.Option("--content-type", help="sigfox: the body's content type.", show_default=False),
]
CallbackUsernameOpt = Annotated[
    str | None,
    typer.Option("--callback-username", help="thingspace: the username inside each callback.",
                 show_default=False),
]
CallbackPasswordEnvOpt = Annotated[
    str | None,
    typer.Option("--callback-password-env", metavar="VAR", help="thingspace: environment "
                 "variable holding the password inside each callback (masked in captures).",
                 show_default=False),
]


def table_format(fmt: str | None, machine: str = "json") -> str:
    """``-o``'s value, else a table on a terminal and ``machine`` for a pipe; exit 2 for any
    other value.

    A stream (``machine="jsonl"``) takes ``json`` too, since each of its lines is a JSON value;
    a command printing one document refuses ``jsonl`` with a pointer to ``json``, since its one
    multi-line document is not JSON lines.
    """
    from notifyctl import output
    from notifyctl.errors import UsageError

    chosen = output.current().choose_format(fmt and fmt.lower(), human="table", machine=machine)
    if machine == "jsonl" and chosen == "json":
        return machine
    if chosen in ("table", machine):
        return chosen
    hint = "this command prints one JSON document, not JSON lines" if chosen == "jsonl" else None
    raise UsageError(f"--output {fmt!r}: choose table or {machine}", hint=hint)


def connection(
    provider: str | None = None, api_url: str | None = None, account: str | None = None
) -> Connection:
    """Resolve the connection for this run: flag > environment > profile > default."""
    from notifyctl.config import ConnectionFlags, resolve

    flags = ConnectionFlags(GLOBALS.profile, provider, api_url, account)
    return resolve(flags, load_config())


def platform_connection(platform: str, provider: str | None, api_url: str | None,
                        account: str | None) -> Connection:
    """The connection of a platform's own subcommand (``sigfox enable``, ``iottly exec``): it
    takes --provider like every networked command, but only naming its own platform."""
    from notifyctl.errors import UsageError
    from notifyctl.suggest import did_you_mean

    if provider is not None and provider != platform:
        raise UsageError(f"--provider {provider!r}: 'notifyctl {platform} ...' works on "
                         f"{platform} only", hint=did_you_mean(provider, [platform])
                         + f"pass --provider {platform} or leave it out")
    return connection(platform, api_url, account)
