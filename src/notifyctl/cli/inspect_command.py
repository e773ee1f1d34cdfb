"""``notifyctl inspect``: browse captured deliveries in a terminal UI, filter them, resend one,
write a selection to a new capture.

Thin: check the options, index the inputs (``notifyctl.inspect.index``), run the Textual app
(``notifyctl.inspect.app``). Textual is imported only here, inside the command, and only once
the checks passed and a terminal is there to draw on. (Not ``cli/inspect.py``: importing
it would bind ``notifyctl.cli.inspect`` over the standard library's ``inspect`` that
``cli/__init__`` uses.)
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from notifyctl.cli.common import compile_where

NO_TERMINAL = ("inspect draws on a terminal (Textual draws on stderr, reads keys on stdin), and "
               "stdin, stdout or stderr is not one; without one use "
               "'notifyctl replay FILE --dry-run --to URL' (one JSON line per delivery; add "
               "--where EXPR to select, --pick LINES to choose)")


def _complete_provider(incomplete: str) -> list[str]:
    from notifyctl import registry

    return [name for name in registry.names("receiver") if name.startswith(incomplete)]


def inspect_deliveries(
    files: Annotated[
        list[str],
        typer.Argument(metavar="FILE...", help="Capture files, bare JSON bodies, JSON arrays "
                       "of bodies or HAR files (what replay reads); globs are expanded.",
                       show_default=False),
    ],
    to: Annotated[
        str | None,
        typer.Option("--to", help="Where 'r' resends the selected delivery, with its "
                     "platform's delivery rules.", show_default=False),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option("--where", help="Start with only the deliveries that hold an event for "
                     "which this jq expression over the event line (as 'listen -o jsonl' "
                     "prints it) is true ('/' changes it).", show_default=False),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Show malformed capture lines as invalid "
                           "rows instead of stopping (exit 2) at the first.")
    ] = False,
    input_format: Annotated[
        str, typer.Option("--input-format", help="auto, capture, body, array or har.")
    ] = "auto",
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="Whose receiver and rules (default: each capture "
                     "line's own; needed for bodies and HAR files).",
                     autocompletion=_complete_provider, show_default=False),
    ] = None,
    sign_key_env: Annotated[
        str | None,
        typer.Option("--sign-key-env", metavar="VAR", help="Environment variable holding the "
                     "key 'r' signs with, where the platform signs its deliveries (default: the "
                     "key the platform stores for the profile, where it has one).",
                     show_default=False),
    ] = None,
) -> None:
    """Browse deliveries in a terminal UI: filter, detail, resend, export.

    Keys: / filter (jq, as --where), enter detail, r resend to --to, e write the rows in
    view to a new capture next to the first file, tab detail pane, esc close, q quit
    (Ctrl-C: exit 130). Needs a terminal (exit 2 without one).

    \b
    Examples:
      notifyctl inspect capture.jsonl
      notifyctl inspect capture.jsonl --where '.kind == "notification"'
      notifyctl inspect capture.jsonl --to http://127.0.0.1:8080/hook
    """
    from notifyctl.errors import UsageError
    from notifyctl.inspect.actions import Resend
    from notifyctl.replay.inputs import Source, expand
    from notifyctl.secrets import from_env

    matches = compile_where(where)  # a bad expression is exit 2 before anything is read
    _check_target(to)
    key = from_env("--sign-key-env", sign_key_env, allow_empty=False,
                   hint="it must hold the signing key (never pass a key on the command line)")
    if not all(stream.isatty() for stream in (sys.stdin, sys.stdout, sys.stderr)):
        raise UsageError(NO_TERMINAL)
    paths = expand(files)
    if provider is not None:
        _check_provider(provider)
    from notifyctl.inspect.index import open_inputs

    deliveries = open_inputs([Source(path, path) for path in paths], fmt=input_format,
                             skip_invalid=skip_invalid, provider=provider)
    from notifyctl.inspect.app import InspectApp

    app = InspectApp(deliveries, where=where, matches=matches,
                     resend=Resend(to, key, sign_key_env, stored_key=_stored_key),
                     first_input=paths[0])
    try:
        app.run()
    finally:
        deliveries.close()
    if app.return_code:  # 130 for Ctrl-C; 1 if Textual itself failed (it said why)
        raise typer.Exit(app.return_code)


def _check_target(url: str | None) -> None:
    from urllib.parse import urlsplit

    from notifyctl.errors import UsageError

    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--to {url!r}: not an http(s) URL",
                         hint="e.g. --to http://127.0.0.1:8080/hook")


def _check_provider(name: str) -> None:
    from notifyctl import registry

    registry.get(name, "receiver")


def _stored_key(platform: str) -> str | None:
    """The signing key ``platform`` keeps in the active profile's keyring (None without one)."""
    from notifyctl import registry
    from notifyctl.cli.common import stored_signing_secret

    return stored_signing_secret(registry.get(platform))
