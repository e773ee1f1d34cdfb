"""``notifyctl listen``: parse the options, run the receiver (``notifyctl.listen``), render.

The platforms come from the registry: those with a receiver are the ``--provider`` choices, and
each platform's own ``listen`` options (``Platform.options``) are added by the lazy root and
handed over as ``platform_options``. Nothing here names a platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from notifyctl.cli.common import (
    MetricsOpt,
    SinkOpt,
    SinkSkipOversizeOpt,
    StopTimeoutOpt,
    SummaryOpt,
    TableJsonlOpt,
    WarnAgeOpt,
    WhereOpt,
    compile_where,
    table_format,
)
from notifyctl.cli.completers import complete_receiver_provider
from notifyctl.cli.platform_options import PlatformValues  # Typer reads the signature

if TYPE_CHECKING:
    from notifyctl.listen.run import Summary
    from notifyctl.listen.view import Seen, Sink


def receivers() -> str:
    """The platforms ``listen`` can receive from, for help and hints."""
    from notifyctl import registry

    return ", ".join(registry.names("receiver"))


def listen(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to bind (0 picks a free one).")] = 0,
    provider: Annotated[
        str | None,
        typer.Option("--provider", help=f"Whose callbacks: {receivers()} (default: the "
                     "profile's; env NOTIFYCTL_PROVIDER).",
                     autocompletion=complete_receiver_provider, show_default=False),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", help="Answer only this path (default: every path).",
                     show_default=False),
    ] = None,
    save: Annotated[
        str | None,
        typer.Option("--save", help="Append every request to this capture file before "
                     "answering it (every request, whatever --where shows).",
                     show_default=False),
    ] = None,
    where: WhereOpt = None,
    forward_to: Annotated[
        str | None,
        typer.Option("--forward-to", help="Pass each request on to URL and answer what it "
                     "answers, byte for byte, with its headers (compressed bodies stay "
                     "compressed).", show_default=False),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option("--count", help="Stop after N requests (verified or not).",
                     show_default=False),
    ] = None,
    timeout: StopTimeoutOpt = None,
    fmt: TableJsonlOpt = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Answer 401 to requests that fail verification and "
                     "exit 7 at the end."),
    ] = False,
    respond: Annotated[
        int | None,
        typer.Option("--respond", help="Answer this HTTP status on purpose (to every request, "
                     "or to the --fail-ratio share).", show_default=False),
    ] = None,
    fail_ratio: Annotated[
        float,
        typer.Option("--fail-ratio", help="Answer this share of requests (0-1, evenly spread) "
                     "with --respond's status, default 500."),
    ] = 0.0,
    max_body: Annotated[
        int, typer.Option("--max-body", help="Largest body accepted in bytes (413 above it).")
    ] = 32 * 1024 * 1024,
    summary_file: SummaryOpt = None,
    warn_age: WarnAgeOpt = 60.0,
    metrics: MetricsOpt = None,
    verify_key_env: Annotated[
        str | None,
        typer.Option("--verify-key-env", help="Environment variable holding the verification "
                     "key: the platform's signing secret, or the Authorization header it sends "
                     "(default: the profile's stored signing secret, where the platform has "
                     "one).", show_default=False),
    ] = None,
    sink_urls: SinkOpt = None,
    sink_skip_oversize: SinkSkipOversizeOpt = False,
    *,
    platform_options: PlatformValues | None = None,
) -> None:
    """Receive callbacks locally: answer handshakes, check signatures, show and capture them.

    The first line on stderr is the URL to register. stdout carries one JSON line per event
    (or per request without events), or a live table on a terminal.

    \b
    Examples:
      notifyctl listen --provider pelion --port 8080 --save pelion.jsonl
      CIRCLE_KEY=... notifyctl listen --provider circle --verify-key-env CIRCLE_KEY --strict
      notifyctl listen --provider sigfox --downlink-data 0102030405060708 -o jsonl
      notifyctl listen --provider iottly --forward-to http://127.0.0.1:3000/hook
      CB_PASS=... notifyctl listen --provider thingspace --callback-username hook \\
          --callback-password-env CB_PASS --strict --save ts.jsonl
      notifyctl listen --provider pelion -o jsonl --where '.path | startswith("/3303/")'
      notifyctl listen --provider sigfox --sink 'redis://127.0.0.1:6379/0?stream=iot:{device}'
    """

    from notifyctl import output, signals
    from notifyctl.cli.common import (
        build_sinks,
        check_summary_path,
        finish_summary,
        late_warning,
        metrics_for,
        stored_signing_secret,
    )
    from notifyctl.cli.common import warn_age as age_seconds
    from notifyctl.listen import Listener, Settings
    from notifyctl.listen.handlers import receiver_platform
    from notifyctl.listen.view import JsonlSink, TableSink
    from notifyctl.secrets import from_env

    out = output.current()
    name = provider or _configured_provider()
    platform = receiver_platform(name)
    options = (platform_options or PlatformValues("listen")).take(platform)
    key = from_env("--verify-key-env", verify_key_env, allow_empty=False)
    if verify_key_env is None:
        key = stored_signing_secret(platform)  # e.g. a key 'register' generated and stored
    chosen = table_format(fmt, machine="jsonl")
    matches = compile_where(where)
    check_summary_path(summary_file)
    sinks = build_sinks(sink_urls, platform, sink_skip_oversize)
    settings = Settings(
        provider=name, host=host, port=port, path=path, save=save, forward_to=forward_to,
        count=count, timeout=timeout, output=chosen, strict=strict, respond=respond,
        fail_ratio=fail_ratio, max_body=max_body, verify_key=key, options=options,
        where=matches, warn_age=age_seconds(warn_age), on_late=late_warning,
        metrics=metrics_for(metrics, None, sinks),
        # No --sink-timeout: while a sink is down, listen answers 503 and the platform retries.
        sinks=sinks,
    )
    proxy = _LateSink()

    def ready(url: str) -> None:
        out.notice(url, event="listening", url=url)
        out.info(f"listening for {name} callbacks"
                 + (f", saving to {save}" if save else "")
                 + (f", forwarding to {forward_to}" if forward_to else "")
                 + "; Ctrl-C to stop")
        if chosen == "table":
            proxy.target = TableSink(out.console, name, listener.accounting)
        else:
            proxy.target = JsonlSink(out.out, on_closed=listener.stop)

    listener = Listener(settings, proxy)
    async def main() -> Summary:
        # Inside the run: signals.run raises Interrupted after a signal, and the summary must
        # be out (and in --summary FILE) however the run ended.
        summary = await listener.run(ready)
        if summary.accounting is not None:
            finish_summary(summary.accounting, f"listen: {summary.received:,} requests",
                           summary_file)
        return summary

    summary = signals.run(main, on_signal=listener.interrupt)
    error = listener.outcome(summary)
    if error is None and settings.sinks is not None:
        error = settings.sinks.outcome()  # events never published (too large)
    if error is not None:
        raise error


class _LateSink:
    """The sink is chosen once the URL is out, so the table never hides the first line."""

    def __init__(self) -> None:
        from notifyctl.listen.view import NullSink

        self.target: Sink = NullSink()

    def show(self, seen: Seen) -> None:
        self.target.show(seen)

    def close(self) -> None:
        self.target.close()


def _configured_provider() -> str:
    from notifyctl.cli.common import connection
    from notifyctl.errors import UsageError

    try:
        return connection().provider
    except UsageError as exc:
        if "no provider" not in exc.message:
            raise
        raise UsageError("no provider chosen",
                         hint=f"pass --provider P; listen knows {receivers()}") from exc
