"""``notifyctl trigger``: inject built-in fixtures into a running sandbox (``notifyctl.trigger``).

Thin: parse, find the sandbox's URL (``--sandbox``, else the active connection's API URL
without its platform's path under the sandbox), call the engine, report.
"""

from __future__ import annotations

from typing import Annotated

import typer

from notifyctl.cli.common import CaBundleOpt, InsecureOpt, NetTimeoutOpt
from notifyctl.cli.completers import complete_fixture


def trigger(
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="FIXTURE...", help="Fixtures to inject, PLATFORM/KIND (see "
                       "--list).", autocompletion=complete_fixture, show_default=False),
    ] = None,
    list_fixtures: Annotated[
        bool, typer.Option("--list", help="List the fixtures a sandbox can be triggered with.")
    ] = False,
    sandbox: Annotated[
        str | None,
        typer.Option("--sandbox", metavar="URL", help="The running sandbox (default: the "
                     "profile's api_url, without the platform's path under the sandbox).",
                     show_default=False),
    ] = None,
    count: Annotated[
        int, typer.Option("--count", "-n", help="Inject the fixtures N times over.")
    ] = 1,
    device: Annotated[
        str | None,
        typer.Option("--device", metavar="ID", help="Set every event's device to ID (in the form "
                     "the fixture's platform names its devices).",
                     show_default=False),
    ] = None,
    timeout: NetTimeoutOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
    output_format: Annotated[
        str | None,
        typer.Option("--output", "-o", help="json: what was injected, on stdout (default: a "
                     "line per fixture on stderr).", show_default=False),
    ] = None,
) -> None:
    """Inject fixture events into a running sandbox, so a tail or a registered callback
    reacts in one command.

    Every fixture is checked (and --device set in it) before anything is sent; a URL that is
    not a notifyctl sandbox is exit 2, one where nothing answers exit 5.

    \b
    Examples (each one runs against the sandbox as written; tests run them):
      notifyctl trigger --list
      notifyctl trigger pelion/notifications --sandbox http://127.0.0.1:8099
      notifyctl trigger circle/motion_started --device cam-7 --count 3 \\
          --sandbox http://127.0.0.1:8099
      notifyctl trigger iottly/telemetry sigfox/uplinks --sandbox http://127.0.0.1:8099 -o json
    """
    from notifyctl import output
    from notifyctl import trigger as engine
    from notifyctl.errors import UsageError
    from notifyctl.http import net_options

    out = output.current()
    if list_fixtures:
        names_found = engine.available()
        if output_format == "json" or not out.stdout_is_tty:
            out.json(names_found)
        else:
            out.table(("fixture", "what"), names_found.items())
        return
    if output_format not in (None, "json"):
        raise UsageError(f"--output {output_format!r}: use json")
    if not names:
        raise UsageError("name the fixtures to inject (PLATFORM/KIND)",
                         hint="list them with 'notifyctl trigger --list'")
    injections = engine.plan(names, device, count)
    url = engine.sandbox_url(sandbox or _profile_sandbox())
    done = engine.trigger(url, injections, net_options(timeout, insecure, ca_bundle))
    if output_format == "json":
        out.json({"sandbox": url, "fixtures": [vars(each) for each in done]})
    for each in done:
        out.info(f"{each.fixture}: {each.queued} event(s) queued in the sandbox at {url} "
                 f"({each.requests} request(s))")


def _profile_sandbox() -> str:
    """Without --sandbox: the active connection's API URL, less its platform's path under the
    sandbox (``.../v1.0`` for a platform whose API lives there)."""
    from notifyctl import registry
    from notifyctl.cli.common import connection
    from notifyctl.errors import UsageError

    try:
        resolved = connection()
    except UsageError:
        raise UsageError("which sandbox? pass --sandbox URL (the URL 'notifyctl sandbox' "
                         "prints)", hint="or use a profile whose api_url is the sandbox's") \
            from None
    path = registry.get(resolved.provider).sandbox_path
    url = resolved.api_url.rstrip("/")
    return url[: -len(path)] if path and url.endswith(path) else url
