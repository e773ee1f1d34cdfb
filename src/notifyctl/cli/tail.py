"""``notifyctl tail``: follow a platform's live event stream (or an embedded sandbox's).

Thin: parse and check the options, pick the source (``providers.pelion.stream``; Circle and
Iottly through ``cli.platform_tail``) and the sink (JSON lines, or the live table of
``tail_view``), and hand them to the ``notifyctl.tail`` engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from notifyctl.cli.common import (
    AccountOpt,
    ApiUrlOpt,
    CaBundleOpt,
    InsecureOpt,
    ProviderOpt,
    StopTimeoutOpt,
    TableJsonlOpt,
    table_format,
)
from notifyctl.cli.completers import complete_kind

if TYPE_CHECKING:
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
    path: Annotated[
        ListOpt,
        typer.Option("--path", help="Only resource paths matching this glob (repeatable).",
                     show_default=False),
    ] = None,
    kind: Annotated[
        ListOpt,
        typer.Option("--kind", help="Only these event kinds (repeatable), e.g. notification.",
                     autocompletion=complete_kind, show_default=False),
    ] = None,
    save: Annotated[
        str | None,
        typer.Option("--save", help="Append every received frame to this capture file.",
                     show_default=False),
    ] = None,
    retry_for: Annotated[
        float,
        typer.Option("--retry-for", help="Seconds to keep retrying a failing connection."),
    ] = 60.0,
    sandbox: Annotated[
        bool,
        typer.Option("--sandbox", help="Run an embedded sandbox emulator and tail it"
                     " (no account needed)."),
    ] = False,
    rate: Annotated[
        float, typer.Option("--rate", help="--sandbox: synthetic events per second.")
    ] = 20.0,
    devices: Annotated[
        int, typer.Option("--devices", help="--sandbox: number of synthetic devices.")
    ] = 5,
    stream_name: Annotated[
        ListOpt,
        typer.Option("--stream", help="iottly: subscribe each --device to this stream only "
                     "(repeatable; default all).", show_default=False),
    ] = None,
    provider: ProviderOpt = None,
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
) -> None:
    """Follow live events: a live table on a terminal, JSON lines otherwise.

    Reconnects by itself after network drops and service restarts (the channel's queue is kept).
    Exit codes: 0 --count reached or --timeout without --count; 3 key refused; 4 channel gone or
    taken over by another client; 5 network down for --retry-for seconds; 8 --timeout before
    --count; 130/143 interrupted (the --save capture is complete).

    \b
    Examples:
      notifyctl tail --sandbox
      notifyctl -p prod tail --device '0176*' --path '/3200/0/*' --save events.jsonl
      notifyctl -p prod tail -o jsonl --count 100 --timeout 60 | jq .payload
      notifyctl -p iot tail --device dev_01 --stream temp --stream hum
      notifyctl -p circle tail --kind activity_created --device ACCESSORY_ID
    """
    from contextlib import AbstractAsyncContextManager

    from notifyctl import tail as engine
    from notifyctl.errors import UsageError
    from notifyctl.providers.pelion import stream, wire

    chosen = table_format(fmt, machine="jsonl")
    if count is not None and count < 1:
        raise UsageError(f"--count {count}: must be at least 1")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout {timeout:g}: must be greater than 0")
    if retry_for < 0:
        raise UsageError(f"--retry-for {retry_for:g}: must be 0 or more")
    if sandbox and (rate < 0 or devices < 1):
        raise UsageError("--rate must be 0 or more and --devices at least 1")
    platform = conn = None
    if not sandbox:
        from notifyctl.cli.common import connection
        from notifyctl.cli.platform_tail import STREAMING

        conn = connection(provider, api_url, account)  # read the config once
        if conn.provider in STREAMING:
            platform = conn
        elif conn.provider != "pelion":
            raise UsageError(
                f"{conn.provider} has no live stream to tail",
                hint=f"receive its callbacks with 'notifyctl listen --provider {conn.provider}'",
            )
    known = set(wire.KINDS.values())
    for name in kind or [] if platform is None else []:
        if name not in known:
            raise UsageError(f"--kind {name!r}: not a pelion event kind",
                             hint=f"kinds: {', '.join(sorted(known))}")

    sink: engine.Sink
    options: dict[str, Any] = {"retry_for": retry_for}
    if chosen == "table":
        from notifyctl.tail_view import LiveTable

        view = LiveTable()
        options["on_state"] = view.message
        sink = view
    else:
        sink = engine.JsonlSink()

    if platform is not None:
        from notifyctl.cli import platform_tail
        from notifyctl.http import net_options

        platform_source = platform_tail.opener(
            platform, net_options(None, insecure, ca_bundle), devices=device or [],
            streams=stream_name or [], kinds=kind or [], on_state=options.get("on_state"))
    elif conn is not None:
        from notifyctl import secrets
        from notifyctl.http import net_options

        key = secrets.require(conn.profile, "api_key")
        net = net_options(None, insecure, ca_bundle)

    def open_source() -> AbstractAsyncContextManager[Source]:
        if platform is not None:
            return platform_source()
        if conn is None:  # --sandbox
            return stream.open_sandbox_stream(rate, devices, **options)
        return stream.open_stream(conn.api_url, key, net, **options)

    tail_options = engine.TailOptions(
        count=count,
        timeout=timeout,
        filters=engine.Filters(device or (), path or (), kind or ()),
        save=save,
        # Pelion re-sends batches; Circle/Iottly ids name an activity or subscription, shared
        # by distinct events.
        dedup_window=engine.DEDUP_WINDOW if platform is None else 0,
    )
    engine.run(open_source, sink, tail_options, on_finish=_summary)


def _summary(run: TailRun, source: Source) -> None:
    from notifyctl import output

    parts = [f"{run.events:,} events in {run.elapsed:.1f} s"]
    if source.stats.reconnects:
        parts.append(f"{source.stats.reconnects} reconnects")
    if run.duplicates:
        parts.append(f"{run.duplicates:,} duplicates dropped")
    if run.bad_frames:
        parts.append(f"{run.bad_frames} malformed frames skipped (see --save)")
    output.current().info("tail: " + ", ".join(parts))
