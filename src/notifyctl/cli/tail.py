"""``notifyctl tail``: follow a platform's live event stream (or an embedded sandbox's).

Thin: parse and check the shared options, take the platform's own (``platform_options``), open
the platform's ``stream`` capability from the registry (it checks its options before anything
connects), pick the sink (JSON lines, or the live table of ``tail_view`` with the platform's
columns), and hand them to the ``notifyctl.tail`` engine. It names no platform.

``--sandbox`` starts ``notifyctl.sandbox.Sandbox`` inside tail's event loop and opens the stream
of the chosen platform (``--provider``, else the first with both a stream and an emulator)
against the sandbox's URL plus ``Platform.sandbox_path``, the sandbox's key for every secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from notifyctl.cli.common import (
    AccountOpt,
    ApiUrlOpt,
    CaBundleOpt,
    InsecureOpt,
    MetricsOpt,
    ProviderOpt,
    SinkOpt,
    SinkSkipOversizeOpt,
    SinkTimeoutOpt,
    StopTimeoutOpt,
    SummaryOpt,
    TableJsonlOpt,
    WarnAgeOpt,
    WhereOpt,
    check_summary_path,
    compile_where,
    connection,
    table_format,
)
from notifyctl.cli.completers import complete_kind
from notifyctl.cli.platform_options import PlatformValues

if TYPE_CHECKING:
    from notifyctl import tail as engine
    from notifyctl.contract import Platform
    from notifyctl.contract.connection import Connection
    from notifyctl.contract.stream import Opener, StreamContext
    from notifyctl.tail import Source, TailRun

ListOpt = list[str] | None


def tail(
    fmt: TableJsonlOpt = None,
    count: Annotated[
        int | None,
        typer.Option("--count", "-n", help="Stop after N events (exit 0).", show_default=False),
    ] = None,
    timeout: StopTimeoutOpt = None,
    device: Annotated[
        ListOpt,
        typer.Option("--device", help="Only devices matching this glob (repeatable).",
                     show_default=False),
    ] = None,
    kind: Annotated[
        ListOpt,
        typer.Option("--kind", help="Only these event kinds (repeatable), e.g. notification.",
                     autocompletion=complete_kind, show_default=False),
    ] = None,
    where: WhereOpt = None,
    save: Annotated[
        str | None,
        typer.Option("--save", help="Append every received frame to this capture file"
                     " (every frame, whatever the filters keep).", show_default=False),
    ] = None,
    retry_for: Annotated[
        float,
        typer.Option("--retry-for", help="Seconds to keep retrying a connection that was up"
                     " (where nothing ever answered, tail gives up after 3 attempts)."),
    ] = 60.0,
    sandbox: Annotated[
        bool,
        typer.Option("--sandbox", help="Run an embedded sandbox emulator and tail it"
                     " (no account needed); --provider picks the platform (default: the"
                     " first with a stream and an emulator)."),
    ] = False,
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="--sandbox: synthetic events per second at most (default"
                     " 20). A ceiling: when the machine or the reader cannot keep up, tail"
                     " gets events as fast as it reads them, in full frames, none dropped.",
                     show_default=False),
    ] = None,
    devices: Annotated[
        int | None,
        typer.Option("--devices", help="--sandbox: number of synthetic devices (default 5).",
                     show_default=False),
    ] = None,
    summary: SummaryOpt = None,
    warn_age: WarnAgeOpt = 60.0,
    max_reconnects: Annotated[
        int | None,
        typer.Option("--max-reconnects", help="Exit 5 (with the summary) after N reconnects "
                     "in a row without a healthy connection, so a supervisor restarts it "
                     "(0: at the first drop).", metavar="N", min=0, show_default=False),
    ] = None,
    metrics: MetricsOpt = None,
    sink_urls: SinkOpt = None,
    sink_timeout: SinkTimeoutOpt = 60.0,
    sink_skip_oversize: SinkSkipOversizeOpt = False,
    provider: ProviderOpt = None,
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
    *,
    platform_options: PlatformValues | None = None,
) -> None:
    """Follow live events: a live table on a terminal, JSON lines otherwise.

    Reconnects by itself after network drops and service restarts (the channel's queue is kept).
    Ending (--count, --timeout, Ctrl-C) closes the socket normally, which on Pelion also closes
    the WebSocket channel and drops its queue: the next 'register' finds nothing in the way.
    Exit codes: 0 --count reached or --timeout without --count; 3 key refused (or a --sink
    broker refused the credentials); 4 channel gone or taken over by another client;
    5 nothing answered in 3 attempts, the network down for
    --retry-for seconds, --max-reconnects reached, or no --sink for --sink-timeout seconds;
    6 a --sink refused an event (too large); 8 --timeout before --count; 130/143 interrupted
    (the --save capture is complete).

    \b
    Examples:
      notifyctl tail --sandbox
      notifyctl -p prod tail --device '0176*' --path '/3200/0/*' --save events.jsonl
      notifyctl -p prod tail -o jsonl --count 100 --timeout 60 | jq .payload
      notifyctl -p iot tail --device dev_01 --stream temp --stream hum
      notifyctl -p circle tail --kind activity_created --device ACCESSORY_ID
      notifyctl -p prod tail --where '.kind == "notification" and (.device | startswith("0176"))'
      notifyctl -p prod tail -o jsonl --max-reconnects 5 --metrics 127.0.0.1:9464 --summary s.json
      notifyctl tail --sandbox --sink 'nats://127.0.0.1:4222/iot.{provider}.{device}'
    """

    from notifyctl import registry
    from notifyctl import tail as engine
    from notifyctl.accounting import Accounting
    from notifyctl.cli.common import build_sinks, late_warning, metrics_for, serving_metrics
    from notifyctl.cli.common import warn_age as age_seconds
    from notifyctl.contract.stream import StreamContext
    from notifyctl.errors import UsageError
    from notifyctl.http import net_options

    chosen = table_format(fmt, machine="jsonl")
    _check_numbers(count, timeout, retry_for, rate, devices)
    matches = compile_where(where)  # a bad expression is exit 2 before anything connects
    if not sandbox and (rate is not None or devices is not None):
        raise UsageError(f"{'--rate' if rate is not None else '--devices'} is a --sandbox option",
                         hint="add --sandbox to tail an embedded emulator")
    if sandbox:
        platform = registry.get(provider or _sandbox_platform(), "stream")
        conn = _sandbox_connection(platform, "http://127.0.0.1:0")  # the real URL comes later
    else:
        conn = connection(provider, api_url, account)  # read the config once
        platform = registry.get(conn.provider, "stream")
    values = (platform_options or PlatformValues("tail")).take(platform)
    _check_kinds(platform, kind or [])
    check_summary_path(summary)
    late = age_seconds(warn_age)
    net = net_options(None, insecure, ca_bundle)
    sinks = build_sinks(sink_urls, platform, sink_skip_oversize, sink_timeout, net)

    sink: engine.Sink
    on_state = None
    on_late: Callable[[str], None]
    if chosen == "table":
        from notifyctl.tail_view import LiveTable

        view = LiveTable(columns=platform.columns)
        on_state, on_late, sink = view.message, view.message, view
    else:
        on_late = late_warning
        sink = engine.JsonlSink()

    # With --sandbox, the sandbox's key (known once it runs) stands for every secret.
    secret = _secret(conn.profile) if not sandbox else (lambda _name: "sandbox")
    context = StreamContext(conn, net, secret,
                            devices=device or [], kinds=kind or [], options=values,
                            retry_for=retry_for, on_state=on_state)
    stream = platform.load("stream")
    open_source: Opener = stream(context)  # checks the options: exit 2 before connecting
    if sandbox:
        open_source = _sandboxed(stream, context, platform, 20.0 if rate is None else rate,
                                 5 if devices is None else devices)

    tail_options = engine.TailOptions(
        count=count,
        timeout=timeout,
        # A platform whose events have resource paths declares --path.
        filters=engine.Filters(device or (), values.get("path") or (), kind or (), matches),
        save=save,
        # Ids that name one event each are de-duplicated (Pelion re-sends batches); where an id
        # names something events share (a Circle activity, an Iottly subscription) they are not.
        dedup_window=engine.DEDUP_WINDOW if platform.unique_ids else 0,
        accounting=Accounting.for_platform(platform, ids_checked_elsewhere=True,
                                           warn_age=late, on_late=on_late),
        max_reconnects=max_reconnects,
        sinks=sinks,
    )
    if sinks is not None and tail_options.accounting is not None:
        tail_options.accounting.sinks = sinks.counts
    meter = metrics_for(metrics, tail_options.accounting, sinks)
    if meter is not None:
        open_source = serving_metrics(open_source, meter)
    engine.run(open_source, sink, tail_options,
               on_finish=lambda run, source: _summary(run, source, tail_options, summary))
    failed = sinks.outcome() if sinks is not None else None
    if failed is not None:
        raise failed


def _secret(profile: str | None) -> Callable[[str], str]:
    def secret(name: str) -> str:
        from notifyctl import secrets

        return secrets.require(profile, name)

    return secret


def _check_kinds(platform: Platform, kinds: list[str]) -> None:
    from notifyctl.errors import UsageError

    for name in kinds:
        if platform.kinds and name not in platform.kinds:
            raise UsageError(f"--kind {name!r}: not a {platform.name} event kind",
                             hint=f"kinds: {', '.join(platform.kinds)}")


def _sandbox_platform() -> str:
    """The first registered platform with both a live stream and an emulator."""
    from notifyctl import registry
    from notifyctl.errors import UsageError

    for name in registry.names("stream"):
        if registry.get(name).has("emulator"):
            return name
    raise UsageError("no installed platform has both a live stream and a sandbox emulator")


def _sandbox_connection(platform: Platform, url: str) -> Connection:
    from notifyctl.contract.connection import Connection

    return Connection(profile=None, provider=platform.name,
                      api_url=url.rstrip("/") + platform.sandbox_path, account=None, settings={})


def _sandboxed(stream: Callable[[StreamContext], Opener], context: StreamContext,
               platform: Platform, rate: float, devices: int) -> Opener:
    """Start an embedded sandbox on 127.0.0.1 in tail's event loop and tail it."""
    import asyncio
    from contextlib import asynccontextmanager
    from dataclasses import replace

    @asynccontextmanager
    async def open_source() -> AsyncIterator[Source]:
        from notifyctl import output
        from notifyctl.sandbox import Sandbox

        # Only the tailed platform's emulator: the others would share the loop for nothing.
        box = Sandbox(host="127.0.0.1", port=0, rate=rate, devices=devices,
                      providers=[platform.name])
        url = await box.start()
        output.current().info(f"sandbox at {url} ({devices} devices, {rate:g} events/s)")
        try:
            there = replace(context, connection=_sandbox_connection(platform, url),
                            secret=lambda _name: box.api_key)
            async with stream(there)() as source:
                yield source
        finally:
            await asyncio.wait_for(asyncio.shield(box.stop()), 5)

    return open_source


def _check_numbers(count: int | None, timeout: float | None, retry_for: float,
                   rate: float | None, devices: int | None) -> None:
    from notifyctl.errors import UsageError

    if count is not None and count < 1:
        raise UsageError(f"--count {count}: must be at least 1")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout {timeout:g}: must be greater than 0")
    if retry_for < 0:
        raise UsageError(f"--retry-for {retry_for:g}: must be 0 or more")
    if (rate is not None and rate < 0) or (devices is not None and devices < 1):
        raise UsageError("--rate must be 0 or more and --devices at least 1")


def _summary(run: TailRun, source: Source, options: engine.TailOptions,
             path: str | None) -> None:
    from notifyctl import output
    from notifyctl.cli.common import finish_summary

    parts = [f"{run.events:,} events in {run.elapsed:.1f} s"]
    if run.bad_frames:
        parts.append(f"{run.bad_frames} malformed frames skipped (see --save)")
    first = "tail: " + ", ".join(parts)
    if options.accounting is None:
        output.current().info(first)
    else:  # duplicates dropped and reconnects are in the accounting's lines
        finish_summary(options.accounting, first, path)
