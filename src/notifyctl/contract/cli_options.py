"""The connection and network options every networked command takes, as Typer option types:
the shared commands (``cli/``) and a platform's own subcommands (``contract.commands``) declare
them from here, so they read the same everywhere. Importing this costs Typer only."""

from __future__ import annotations

from typing import Annotated

import typer

ApiUrlOpt = Annotated[
    str | None,
    typer.Option("--api-url", help="API base URL (env NOTIFYCTL_API_URL).", show_default=False),
]
AccountOpt = Annotated[
    str | None,
    typer.Option("--account", help="Account name (env NOTIFYCTL_ACCOUNT).", show_default=False),
]
# --timeout means "stop after S seconds" on every command that takes it; the bound on each HTTP
# request is --request-timeout everywhere.
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
TableJsonOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", help="table or json (default: table on a terminal, else json).",
                 show_default=False),
]
