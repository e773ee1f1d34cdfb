"""``notifyctl replay``: re-deliver captured deliveries to a URL with the platform's own rules.

Thin: parse the options, hand them to ``notifyctl.replay``, render the report. The platforms
come from the registry: those with delivery rules are the valid ``--provider`` values, and each
adds its own options (``options["replay"]`` of its declaration), whose values reach its rules in
``RuleOptions.extra``. The signing key is read from the environment variable named by
``--sign-key-env``, never from the command line; without it, a platform that declares a
``signing_secret`` signs with the one stored for the active profile.
"""

from __future__ import annotations

import itertools
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from notifyctl.cli.common import (
    CaBundleOpt,
    HeaderEnvOpt,
    HeaderOpt,
    InsecureOpt,
    compile_where,
)
from notifyctl.cli.completers import complete_fixture
from notifyctl.cli.platform_options import PlatformValues

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from notifyctl.contract.deliver import InputStats, Item
    from notifyctl.errors import Interrupted
    from notifyctl.replay.report import Report


def _complete_provider(incomplete: str) -> list[str]:
    from notifyctl import registry

    return [name for name in registry.names("rules") if name.startswith(incomplete)]


def replay(
    files: Annotated[
        list[str] | None,
        typer.Argument(help="Capture files, bare JSON bodies, JSON arrays of bodies or HAR "
                       "files; globs are expanded.", show_default=False),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Target URL, used exactly as given for every provider "
                     "(unless the platform's own option, such as --keep-path, says otherwise).",
                     show_default=False),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="Whose delivery rules: a platform with rules (TAB "
                     "lists them; default: env NOTIFYCTL_PROVIDER, the fixture's, or the "
                     "capture's).",
                     autocompletion=_complete_provider, show_default=False),
    ] = None,
    fixture: Annotated[
        str | None,
        typer.Option("--fixture", help="Replay a built-in fixture, PLATFORM/KIND (see "
                     "--list-fixtures).",
                     autocompletion=complete_fixture, show_default=False),
    ] = None,
    list_fixtures: Annotated[
        bool, typer.Option("--list-fixtures", help="List the built-in fixtures and exit.")
    ] = False,
    input_format: Annotated[
        str, typer.Option("--input-format", help="auto, capture, body, array or har.")
    ] = "auto",
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Count malformed input and go on.")
    ] = False,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Exit 0 when the input holds nothing to "
                           "replay (default: exit 2).")
    ] = False,
    header: HeaderOpt = None,
    header_env: HeaderEnvOpt = None,
    sign_key_env: Annotated[
        str | None,
        typer.Option("--sign-key-env", metavar="VAR", help="Environment variable holding the "
                     "signing key (the platform's key, e.g. a whsec_ secret; default: the key the "
                     "platform stores for the profile, where it has one).",
                     show_default=False),
    ] = None,
    max_attempts: Annotated[
        int | None,
        typer.Option("--max-attempts", help="Attempts per delivery (default: the platform's "
                     "own rule; 0: until accepted, where the platform retries that long).",
                     show_default=False),
    ] = None,
    retry_base: Annotated[
        float, typer.Option("--retry-base", help="First back-off delay in seconds (doubles).")
    ] = 1.0,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", help="Deliveries in flight (default 16; 1 where the "
                     "platform delivers one at a time).",
                     show_default=False),
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="Events per second.", show_default=False)
    ] = None,
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Keep the captured gaps between deliveries.")
    ] = False,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Keep the captured gaps, X times faster.", show_default=False),
    ] = None,
    duplicates: Annotated[
        float, typer.Option("--duplicates", help="Share of deliveries sent twice (0..1).")
    ] = 0.0,
    shuffle: Annotated[
        bool, typer.Option("--shuffle", help="Reorder deliveries within a window.")
    ] = False,
    shuffle_window: Annotated[
        int, typer.Option("--shuffle-window", help="Deliveries a --shuffle may move across.")
    ] = 1000,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed for --shuffle and --duplicates.", show_default=False),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Read at most N captured deliveries.", show_default=False),
    ] = None,
    pick: Annotated[
        str | None,
        typer.Option("--pick", metavar="SPEC", help="Only these capture lines, e.g. 3,7-9 "
                     "(line numbers of the input, from 1).", show_default=False),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option("--where", help="Only deliveries with an event for which this jq "
                     "expression over the event line (as 'listen -o jsonl' prints it) is true; "
                     "their bytes are sent untouched.", show_default=False),
    ] = None,
    patch: Annotated[
        str | None,
        typer.Option("--patch", metavar="EXPR", help="Edit each JSON body with this jq "
                     "expression before sending (after --pick and --where); the platform's "
                     "rules sign the patched body. A body the platform would refuse after it "
                     "is bad input (FILE:LINE).", show_default=False),
    ] = None,
    loop: Annotated[
        int | None,
        typer.Option("--loop", metavar="N", help="Replay the input N times (0: until "
                     "interrupted); the report counts each pass.", show_default=False),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Send nothing: print one JSON line per delivery that "
                     "would be sent (method, URL, masked headers, body size, events); one pass."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--request-timeout", metavar="S", help="Per-request timeout in seconds "
                     "(default: the platform's own).",
                     show_default=False),
    ] = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
    report_file: Annotated[
        str | None,
        typer.Option("--report", metavar="FILE", help="Write the report as JSON.",
                     show_default=False),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option("--output", "-o", help="json: the report on stdout (default: summary on "
                     "stderr only).", show_default=False),
    ] = None,
    *,
    platform_options: PlatformValues | None = None,
) -> None:
    """Re-deliver captured deliveries to --to exactly as the platform would.

    Exit 0 only when every delivery was accepted, 6 otherwise (a target where nothing
    answers is given up within seconds), 2 for bad input or nothing to replay (unless
    --allow-empty); Ctrl-C (130) or SIGTERM (143) still writes --report and the summary of
    what was done. Each file is read as it was when the replay started.

    \b
    Examples:
      notifyctl replay capture.jsonl --to http://127.0.0.1:8080/hook
      notifyctl replay --fixture pelion/notifications --to http://127.0.0.1:8080/hook
      CIRCLE_KEY=... notifyctl replay events.jsonl --provider circle \\
          --sign-key-env CIRCLE_KEY --to http://127.0.0.1:8080/circle --report out.json
      notifyctl replay capture.jsonl --pick 3,7-9 --dry-run --to http://127.0.0.1:8080/hook
      notifyctl replay capture.jsonl --where '.device == "0176abc"' --to http://127.0.0.1:8080/hook
      notifyctl replay capture.jsonl --loop 0 --speed 10 --to http://127.0.0.1:8080/hook
      notifyctl replay --fixture sigfox/uplinks --pick 1 --patch '.device = "BEEF01"' \\
          --dry-run --to http://127.0.0.1:8080/hook
    """
    from notifyctl import output
    from notifyctl.errors import UsageError

    out = output.current()
    if list_fixtures:
        from notifyctl.replay import fixtures

        names = fixtures.available()
        if output_format == "json" or not out.stdout_is_tty:
            out.json(names)
        else:
            out.table(("fixture", "what"), names.items())
        return
    if output_format not in (None, "json", "table"):
        raise UsageError(f"--output {output_format!r}: use json or table")
    if not to:
        raise UsageError("--to URL is required (where to deliver)")
    if realtime and speed is not None:
        raise UsageError("--realtime and --speed exclude each other (--realtime is --speed 1)")
    if not 0 <= duplicates <= 1:
        raise UsageError("--duplicates must be between 0 and 1")
    if loop is not None and loop < 0:
        raise UsageError(f"--loop {loop}: must be 0 (until interrupted) or a number of passes")
    if rate is not None and not rate > 0:  # NaN too
        raise UsageError(f"--rate {rate:g}: must be greater than 0 (events per second)")
    if speed is not None and not speed > 0:  # NaN too
        raise UsageError(f"--speed {speed:g}: must be greater than 0 (2 is twice as fast)")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--request-timeout {timeout:g}: must be greater than 0 seconds")
    if insecure:
        out.warn("TLS certificates are not verified (--insecure)")
    _run(
        files=files or [], to=to, provider=provider, fixture=fixture, input_format=input_format,
        skip_invalid=skip_invalid, allow_empty=allow_empty,
        headers=header or [], header_env=header_env or [], sign_key_env=sign_key_env,
        max_attempts=max_attempts, retry_base=retry_base, concurrency=concurrency, rate=rate,
        platform_options=platform_options or PlatformValues("replay"),
        speed=1.0 if realtime else speed, duplicates=duplicates,
        shuffle=shuffle_window if shuffle else 0, seed=seed, limit=limit, timeout=timeout,
        insecure=insecure, ca_bundle=ca_bundle, report_file=report_file,
        output_format=output_format, pick=pick, where=compile_where(where), dry_run=dry_run,
        loop=loop, patch=_compile_patch(patch),
    )


def _compile_patch(expression: str | None) -> Any:
    """--patch compiled once (exit 2 on a bad expression), or None without one."""
    if expression is None:
        return None
    from notifyctl.replay.patch import Patch

    return Patch.compile(expression)


NO_PLATFORM = "none"  # the report's provider when nothing was captured and none was named


def _run(**args: Any) -> None:
    import json

    from notifyctl import output
    from notifyctl.contract.deliver import InputStats
    from notifyctl.errors import DeliveryFailed, UsageError
    from notifyctl.replay import fixtures, inputs
    from notifyctl.replay.report import Report, histogram_lines, summary_rows
    from notifyctl.replay.select import Selection

    out = output.current()
    paths: list[str | inputs.Source] = list(inputs.expand(args["files"]))
    if args["fixture"]:
        paths.insert(0, fixtures.source(args["fixture"]))
    if not paths:
        raise UsageError("nothing to replay", hint="name capture files, or use --fixture NAME "
                         "(see --list-fixtures)")
    stats = InputStats()
    source = inputs.read_inputs(paths, fmt=args["input_format"], skip_invalid=args["skip_invalid"],
                                stats=stats, limit=args["limit"])
    ranges = _pick_ranges(args["pick"], paths)
    first, name = _platform_name(args, source, paths, stats)
    args["origin"] = first.where if first is not None else None  # the platform's line
    stopped: Interrupted | None = None
    selection = Selection()
    if name is None:  # an empty input, allowed: no platform's rules to run
        report = Report(NO_PLATFORM, args["to"])
        report.finished = report.started
    else:
        items = _selected(args, name, ranges,
                          itertools.chain([first] if first is not None else [], source),
                          selection, stats)
        if args["dry_run"]:
            if not _dry_run(_rules(args, name, stats), items):
                out.info(_nothing_message(paths, stats) + selection.why_empty())
            for problem in stats.problems:  # --skip-invalid: say what would be left out
                out.warn(f"skipped: {problem}")
            return
        def again(stats: InputStats) -> Iterable[Item]:
            return _selected(args, name, ranges, inputs.read_inputs(
                paths, fmt=args["input_format"], skip_invalid=args["skip_invalid"],
                stats=stats, limit=args["limit"]), selection, stats)

        report, stopped = _deliver(args, name, items, stats,
                                   again if args["loop"] is not None else None)
    data = report.as_dict()
    if args["report_file"]:
        try:
            with open(args["report_file"], "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2)
                handle.write("\n")
        except OSError as exc:
            raise UsageError(f"--report {args['report_file']}: {exc.strerror}") from exc
    if args["output_format"] == "json":
        out.json(data)
    if not out.quiet:
        _summary(out, data, summary_rows(data), histogram_lines(data))
    if stopped is not None:
        raise stopped
    if not report.ok:
        bad = report.failed + report.gone + report.refused
        raise DeliveryFailed(
            f"{bad} of {report.deliveries + report.refused} deliveries were not accepted"
            + (f"; {report.stopped}" if report.stopped else ""),
        )
    if report.events + report.refused == 0 and not args["allow_empty"]:
        raise UsageError(_nothing_message(paths, stats) + selection.why_empty(),
                         hint="pass --allow-empty where an empty input is expected")


def _platform_name(args: dict[str, Any], source: Iterator[Item], paths: list[Any],
                   stats: InputStats) -> tuple[Item | None, str | None]:
    """Whose rules: --provider, NOTIFYCTL_PROVIDER, the fixture's platform, else the first
    captured item's (read here, and returned so it is still delivered). None: the input is
    empty and --allow-empty said that is fine."""
    from notifyctl import registry
    from notifyctl.errors import UsageError

    name = args["provider"] or os.environ.get("NOTIFYCTL_PROVIDER")
    if not name and args["fixture"]:
        name = args["fixture"].split("/", 1)[0]
    if name:
        return None, name
    first = next(source, None)
    if first is None:
        if not args["allow_empty"]:
            raise UsageError(_nothing_message(paths, stats),
                             hint="pass --allow-empty where an empty input is expected")
        return None, None
    if not first.provider:
        raise UsageError("which platform's rules? pass --provider "
                         f"({', '.join(registry.names('rules'))})")
    return first, first.provider


def _pick_ranges(spec: str | None, paths: list[Any]) -> list[tuple[int, int]] | None:
    """--pick parsed and checked against the input's length (exit 2 naming the option)."""
    if spec is None:
        return None
    from notifyctl.replay.select import check_pick, parse_pick

    ranges = parse_pick(spec)
    check_pick(spec, ranges, [p if isinstance(p, str) else p.name for p in paths],
               [p if isinstance(p, str) else p.path for p in paths])
    return ranges


def _selected(args: dict[str, Any], name: str, ranges: list[tuple[int, int]] | None,
              items: Iterable[Item], selection: Any, stats: InputStats) -> Iterable[Item]:
    """Lines of platform ``name`` only (when the capture named it), --pick, --where (decoded
    with its receiver), then --patch."""
    from notifyctl.replay import patch, select

    if args["origin"] is not None:
        items = select.one_platform(items, name, args["origin"],
                                    skip_invalid=args["skip_invalid"], stats=stats)
    if ranges is not None:
        selection.options.append("--pick")
        items = select.picked(items, ranges, selection)
    if args["where"] is not None:
        selection.options.append("--where")
        items = select.matching(items, select.receiver_decoder(name), args["where"], selection)
    if args["patch"] is not None:
        items = patch.patched(items, patch.Patcher(args["patch"], name),
                              skip_invalid=args["skip_invalid"], stats=stats)
    return items


def _dry_run(rules: Any, items: Iterable[Item]) -> int:
    """One JSON line per delivery the rules would send (first attempt), secrets masked;
    returns how many."""
    from notifyctl import output
    from notifyctl.contract.deliver import Refused
    from notifyctl.redaction import mask_headers, mask_query

    out, planned = output.current(), 0
    for request in rules.requests(iter(items)):
        if isinstance(request, Refused):
            out.warn(f"{request.where}: not sent: {request.reason}")
            continue
        out.jsonl([{"where": request.where, "method": request.method,
                  "url": mask_query(request.url),
                  "headers": mask_headers(rules.attempt_headers(request, 1)),
                  "body_bytes": len(rules.attempt_body(request, 1)),
                    "events": request.events}])
        planned += 1
    return planned


def _rules(args: dict[str, Any], name: str, stats: InputStats) -> Any:
    """Platform ``name``'s rules, configured from the options."""
    from notifyctl import output, registry
    from notifyctl.cli.common import stored_signing_secret
    from notifyctl.contract.deliver import RuleOptions
    from notifyctl.headers import from_options
    from notifyctl.replay import engine
    from notifyctl.secrets import from_env

    headers = list(from_options(args["headers"], args["header_env"]).items())
    sign_key = from_env("--sign-key-env", args["sign_key_env"], allow_empty=False,
                         hint="it must hold the signing key (never pass a key on the command line)")
    platform = registry.get(name, "rules")
    options = RuleOptions(
        target=args["to"], headers=headers, sign_key=sign_key or stored_signing_secret(platform),
        sign_key_env=args["sign_key_env"], max_attempts=args["max_attempts"],
        retry_base=args["retry_base"], timeout=args["timeout"],
        skip_invalid=args["skip_invalid"], stats=stats,
        extra=args["platform_options"].take(platform), notify=output.current().info,
    )
    return engine.load_rules(name, options)


def _sent(done: dict[str, int]) -> bool:
    """A pass that found nothing to send ends the loop (an empty selection loops no more)."""
    return bool(done["deliveries"] or done["refused"])


def _deliver(args: dict[str, Any], name: str, items: Iterable[Item], stats: InputStats,
             again: Callable[[InputStats], Iterable[Item]] | None = None,
             ) -> tuple[Report, Interrupted | None]:
    """Deliver ``items`` by platform ``name``'s rules and, with --loop (``again`` reads the
    input afresh), the passes after the first, until --loop N passes, a signal, or a stop the
    run cannot go past (410 Gone, an unreachable target). All passes run on one event loop, so
    a signal between two passes is the runner's too (the report is still written). Returns the
    report and the signal that stopped the run, if one did (the attempt in flight is counted
    as interrupted)."""
    from notifyctl import output, signals
    from notifyctl.contract.deliver import InputStats
    from notifyctl.errors import Interrupted
    from notifyctl.replay import engine
    from notifyctl.replay.report import Report

    chosen = _rules(args, name, stats)
    progress, every = _progress_for(output.current())
    opts = engine.Options(
        concurrency=args["concurrency"], rate=args["rate"], speed=args["speed"],
        duplicates=args["duplicates"], shuffle=args["shuffle"], seed=args["seed"],
        insecure=args["insecure"], ca_bundle=args["ca_bundle"], progress=progress,
        progress_interval=every,
    )
    report = Report(chosen.name, args["to"])

    async def one_pass(rules: Any, pass_items: Iterable[Item], pass_stats: InputStats) -> None:
        try:
            await engine.replay(pass_items, args["to"], rules, opts, stats=pass_stats,
                                report=report)
        finally:
            if again is not None:
                report.end_pass()  # a pass counts, even one a signal cut short

    async def passes() -> None:
        await one_pass(chosen, items, stats)
        while again is not None and report.stopped is None and _sent(report.passes[-1]) and (
                args["loop"] == 0 or len(report.passes) < args["loop"]):
            pass_stats = InputStats()
            await one_pass(_rules(args, name, pass_stats), again(pass_stats), pass_stats)

    stopped: Interrupted | None = None
    try:
        signals.run(passes)
    except Interrupted as exc:
        stopped, report.stopped = exc, exc.message
    finally:
        if progress is _progress:
            sys.stderr.write("\r\x1b[K")
    return report, stopped


def _nothing_message(paths: list[Any], stats: Any) -> str:
    """``nothing to replay in FILE``: no delivery came out of the input."""
    names = [path if isinstance(path, str) else path.name for path in paths]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    why = f": {stats.invalid} malformed line(s) skipped" if stats.invalid else ""
    return f"nothing to replay in {shown}{why}"


STATUS_EVERY = 5.0  # seconds between status lines when stderr is not a terminal


def _progress_for(out: Any) -> tuple[Callable[[Report], None] | None, float]:
    """A live line on a terminal; a status line every few seconds otherwise (so a short run
    prints none); nothing with -q."""
    if out.quiet:
        return None, 0.0
    if sys.stderr.isatty() and not out.json_log:
        return _progress, 0.25
    return _status, STATUS_EVERY


def _progress(report: Report) -> None:
    sys.stderr.write("\r\x1b[K" + report.progress_line())
    sys.stderr.flush()


def _status(report: Report) -> None:
    from notifyctl import output

    output.current().info(f"replay: {report.progress_line()}  {report.elapsed:.0f} s",
                          event="progress")


def _summary(out: Any, data: dict[str, Any], rows: list[tuple[str, str]],
             histogram: list[str]) -> None:
    from notifyctl.output import inert_str

    width = max(len(name) for name, _ in rows)
    lines = [f"replay {data['provider']} -> {inert_str(data['target'])}"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    if histogram:
        lines.append("  latency histogram")
        lines += [f"    {line}" for line in histogram]
    for problem in data["problems"][:5]:
        lines.append(f"  ! {inert_str(problem)}")
    if len(data["problems"]) > 5:
        lines.append(f"  ! ... {len(data['problems']) - 5} more in --report")
    if out.json_log:  # one object, the report's figures with it
        out.record("info", "summary", lines[0], summary=data)
        return
    out.err.write("\n".join(lines) + "\n")
    out.err.flush()
