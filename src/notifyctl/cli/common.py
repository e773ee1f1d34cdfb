"""What every command shares: the global options, reusable option types, and completers.

Importing this module must stay cheap (typer only): completion and ``--help`` load it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notifyctl.providers.base import BUILTIN

if TYPE_CHECKING:
    from notifyctl.config import Config, Connection


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
    # Built-in names only: scanning installed entry points would slow every TAB down.
    return [name for name in BUILTIN if name.startswith(incomplete)]


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
NetTimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Seconds per HTTP request (default 30).", show_default=False),
]
InsecureOpt = Annotated[
    bool, typer.Option("--insecure", help="Do not verify TLS certificates (testing only).")
]
CaBundleOpt = Annotated[
    str | None,
    typer.Option("--ca-bundle", help="PEM file of CA certificates to trust.", show_default=False),
]


def connection(
    provider: str | None = None, api_url: str | None = None, account: str | None = None
) -> Connection:
    """Resolve the connection for this run: flag > environment > profile > default."""
    from notifyctl.config import ConnectionFlags, resolve

    flags = ConnectionFlags(GLOBALS.profile, provider, api_url, account)
    return resolve(flags, load_config())
