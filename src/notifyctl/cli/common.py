"""What every command shares: the global options, reusable option types, and completers.

Importing this module must stay cheap (typer only): completion and ``--help`` load it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from notifyctl.cli.state import GLOBALS, GlobalOptions, complete_profile
from notifyctl.contract import HEADER_OPTIONS
from notifyctl.contract.cli_options import (
    AccountOpt,
    ApiUrlOpt,
    CaBundleOpt,
    InsecureOpt,
    NetTimeoutOpt,
    TableJsonOpt,
)

# Re-exported: the commands import them from here with the other shared types.
__all__ = ["GLOBALS", "AccountOpt", "ApiUrlOpt", "CaBundleOpt", "GlobalOptions",
           "InsecureOpt", "NetTimeoutOpt", "TableJsonOpt", "complete_profile"]

if TYPE_CHECKING:
    from collections.abc import Callable

    from notifyctl.accounting import Accounting
    from notifyctl.config import Config
    from notifyctl.contract import Platform
    from notifyctl.contract.connection import Connection
    from notifyctl.contract.stream import Opener
    from notifyctl.http import NetOptions
    from notifyctl.metrics import Metrics
    from notifyctl.sinks import Sinks


def complete_provider(incomplete: str) -> list[str]:
    from notifyctl import registry

    return [name for name in registry.profile_names() if name.startswith(incomplete)]


# The shared commands' --provider: as the contract's (same help), completed from the registry
# (a platform's own subcommands complete it through the host the CLI installs for them).
ProviderOpt = Annotated[
    str | None,
    typer.Option("--provider", help="Platform (overrides the profile; env NOTIFYCTL_PROVIDER).",
                 autocompletion=complete_provider, show_default=False),
]


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
    if platform.signing_secret is None:
        return None
    return keyring_secret(active_profile(load_config()), platform.signing_secret)


def keyring_secret(profile: str | None, name: str) -> str | None:
    """The profile's keyring entry ``name``; None without a profile, an entry or a usable
    keyring (the caller has other ways to get the value, or does without)."""
    from notifyctl import secrets

    if profile is None:
        return None
    try:
        return secrets.lookup(profile, name).value
    except secrets.KeyringUnavailable:
        return None


# The options every networked command takes (ProviderOpt, ApiUrlOpt, AccountOpt, NetTimeoutOpt,
# InsecureOpt, CaBundleOpt) and TableJsonOpt are the contract's, imported above: a platform's
# own subcommands take the same ones. --timeout means "stop after S seconds" on every command
# that takes it (StopTimeoutOpt); the bound on each HTTP request is --request-timeout everywhere.
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
# tail, listen and replay share --where (notifyctl.where; jq loads only when it is given).
WhereOpt = Annotated[
    str | None,
    typer.Option("--where", help="Only events for which this jq expression over the event line"
                 " (as -o jsonl prints it) is true, e.g. '.kind == \"notification\"'.",
                 show_default=False),
]


def compile_where(expression: str | None) -> Callable[[Any], bool] | None:
    """The compiled --where predicate, or None without one (exit 2 on a bad expression)."""
    if expression is None:
        return None
    from notifyctl.where import compile_where as compile_expression

    return compile_expression(expression)


SummaryOpt = Annotated[
    str | None,
    typer.Option("--summary", help="At the end (however the run ends), write what was "
                 "received and lost as JSON to this file (\"not known\" figures are null).",
                 show_default=False),
]
WarnAgeOpt = Annotated[
    float,
    typer.Option("--warn-age", help="Warn once when the newest event is more than MIN minutes "
                 "old (by its own time), with what the platform drops when you fall behind; 0: "
                 "never.", metavar="MIN"),
]
MetricsOpt = Annotated[
    str | None,
    typer.Option("--metrics", help="Serve Prometheus metrics at http://ADDR/metrics while "
                 "running, e.g. 127.0.0.1:9464 (port 0 picks one; the URL is printed).",
                 metavar="ADDR", show_default=False),
]
# The user's delivery headers: one spelling and help on register and replay.
HeaderOpt = Annotated[
    list[str] | None,
    typer.Option(HEADER_OPTIONS[0].flag, "-H", help=HEADER_OPTIONS[0].help, show_default=False),
]
HeaderEnvOpt = Annotated[
    list[str] | None,
    typer.Option(HEADER_OPTIONS[1].flag, help=HEADER_OPTIONS[1].help, show_default=False),
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


def check_summary_path(path: str | None) -> None:
    """``--summary FILE`` must be writable before the run starts, not found out at its end."""
    if path is None:
        return
    from notifyctl.errors import UsageError

    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UsageError(f"--summary {path}: cannot write the summary: {exc.strerror}",
                         hint="name a file in a directory you can write to") from exc


def metrics_for(address: str | None, accounting: Accounting | None,
                sinks: Sinks | None = None) -> Metrics | None:
    """``--metrics ADDR``'s registry (None without it; exit 2 at once for a bad address),
    watching ``accounting`` and the ``--sink``s; other parts of the run add their own figures
    with ``watch``."""
    if address is None:
        return None
    from notifyctl.metrics import Metrics

    metrics = Metrics(address)
    if accounting is not None:
        metrics.watch(accounting.families)
    if sinks is not None:
        metrics.watch(sinks.families)
    return metrics


def serving_metrics(opener: Opener, metrics: Metrics) -> Opener:
    """A stream with ``/metrics`` served (exit 2 naming the address if it is taken) before it
    opens, inside the run's event loop, and stopped with it."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def open_source() -> Any:
        await metrics.start()
        try:
            async with opener() as source:
                yield source
        finally:
            await metrics.stop()

    return open_source


def warn_age(minutes: float) -> float | None:
    """``--warn-age`` in seconds (None: off); exit 2 for a negative value."""
    if minutes < 0:
        from notifyctl.errors import UsageError

        raise UsageError(f"--warn-age {minutes:g}: must be 0 (never) or more minutes")
    return minutes * 60 or None


def late_warning(message: str) -> None:
    """The accounting's one warning that a run fell behind, on stderr."""
    from notifyctl import output

    output.current().warn(message, event="late")


def finish_summary(accounting: Accounting, first: str, path: str | None) -> None:
    """The end of a ``tail``/``listen`` run: the summary on stderr (not under -q), starting
    with ``first``, and as JSON in ``--summary FILE``; a file that cannot be written is a
    warning naming it."""
    from notifyctl import output

    out = output.current()
    if out.json_log:  # one object, the figures as --summary writes them
        out.info(first, event="summary", summary=accounting.summary())
    else:
        for line in accounting.lines(first):
            out.info(line, event="summary")
    if path is None:
        return
    try:
        accounting.write(path)
    except OSError as exc:
        out.warn(f"--summary {path}: cannot write the summary: {exc.strerror}")


# tail and listen share --sink (notifyctl.sinks; a client loads only for a sink of its scheme).
SinkOpt = Annotated[
    list[str] | None,
    typer.Option("--sink", help="Also publish each event line, at least once, to this message"
                 " system (repeatable): mqtt://HOST:PORT/TOPIC, nats://HOST:PORT/SUBJECT,"
                 " redis://HOST:PORT/DB?stream=KEY; templates take event fields, e.g."
                 " iot/{provider}/{device}. No password in the URL: set"
                 " NOTIFYCTL_<SCHEME>_PASSWORD.", show_default=False),
]
SinkTimeoutOpt = Annotated[
    float,
    typer.Option("--sink-timeout", help="Seconds a --sink may stay unreachable before the run"
                 " ends (exit 5, with the summary); meanwhile up to 100,000 events are kept,"
                 " then reading the stream pauses."),
]
SinkSkipOversizeOpt = Annotated[
    bool,
    typer.Option("--sink-skip-oversize", help="Skip (count, warn) events too large for a"
                 " --sink broker instead of ending the run non-zero (exit 6)."),
]


def build_sinks(urls: list[str] | None, platform: Platform, skip_oversize: bool,
                timeout: float = 60.0, net: NetOptions | None = None) -> Sinks | None:
    """The run's ``--sink``s, checked (exit 2 before anything connects), or None; a TLS sink
    (``mqtts://``) trusts what ``net`` says (``--ca-bundle``, ``--insecure``), else the
    system's CAs."""
    if not urls:
        return None
    from notifyctl.sinks import Sinks
    from notifyctl.tls import client_context

    return Sinks.build(urls, unique_ids=platform.unique_ids, timeout=timeout,
                       skip_oversize=skip_oversize, keyring=_profile_keyring,
                       tls=net.ssl_context if net is not None else client_context)


def _profile_keyring(name: str) -> str | None:
    """The active profile's keyring entry ``name`` (a sink's password), if there is one."""
    from notifyctl.errors import NotifyctlError

    try:
        return keyring_secret(active_profile(load_config()), name)
    except NotifyctlError:
        return None
