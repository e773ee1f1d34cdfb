"""``notifyctl sandbox``: run the local emulator of the platforms' notification channels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from notifyctl.cli.common import MetricsOpt

if TYPE_CHECKING:
    from notifyctl.contract import Platform
    from notifyctl.sandbox import Sandbox


def _announce(sandbox: Sandbox) -> None:
    from notifyctl import output, registry

    out = output.current()
    url = sandbox.url
    first, *others = [registry.get(name) for name in sandbox.emulators]
    # The first two lines are what scripts and people copy: keep them first, each on one line.
    out.notice(
        f"sandbox listening on {url}; use it with: notifyctl profile add sandbox "
        f"--provider {first.name} --api-url {url}{first.sandbox_path}"
    )
    out.notice(f"API key (a sandbox key, safe to show): export NOTIFYCTL_API_KEY={sandbox.api_key}")
    for platform in (first, *others):
        if platform is not first:
            out.info(f"{platform.title}: notifyctl profile add {platform.name}-sandbox "
                     f"--provider {platform.name} --api-url {url}{platform.sandbox_path}"
                     f"{platform.sandbox_note.replace('{url}', url)}")
        logins = _logins(platform)
        if logins:
            out.info(f"{platform.title} logins (sandbox values, safe to show): export {logins}")
    if sandbox.config.api_key is None:
        out.info("any key starting with ak_ is accepted; each key has its own channel")
    out.info(f"synthetic events: {sandbox.rate:g}/s; press Ctrl-C to stop")


def _logins(platform: Platform) -> str:
    """``VAR=sandbox ...`` for the secrets a sandbox profile of ``platform`` needs besides the
    API key printed above: the emulators accept "sandbox" for every one of them."""
    from notifyctl.secrets import SECRET_ENV

    return " ".join(f"{SECRET_ENV[secret]}=sandbox" for secret in platform.required_secrets({})
                    if secret != "api_key" and secret in SECRET_ENV)


def sandbox(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port (0 picks a free one).", min=0, max=65535)
    ] = 0,
    rate: Annotated[
        float, typer.Option("--rate", min=0, help="Synthetic events per second at most (0: none). A"
                     " ceiling: a reader that is behind is fed as fast as it reads; GET"
                     " /_sandbox/state shows the achieved_rate.")
    ] = 10.0,
    devices: Annotated[
        int, typer.Option("--devices", help="Number of synthetic devices.", min=1)
    ] = 5,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="NOTIFYCTL_SANDBOX_API_KEY",
            help="The only key the sandbox accepts (default: any ak_ key; one is printed).",
            show_default=False,
        ),
    ] = None,
    metrics: MetricsOpt = None,
) -> None:
    """Serve a local emulator of the platforms' notification channels until Ctrl-C.

    \b
    Examples (each one runs against the sandbox as written; tests run them):
      notifyctl sandbox --port 8099 --rate 20 &
      notifyctl profile add sandbox --provider pelion --api-url http://127.0.0.1:8099
      NOTIFYCTL_API_KEY=ak_demo notifyctl -p sandbox tail --count 20 -o jsonl
      curl -fsS http://127.0.0.1:8099/_sandbox/pelion/events -H 'Authorization: Bearer ak_demo' \\
        -d '{"notifications": [{"ep": "dev-1", "path": "/3303/0/5700", "payload": "MjEuNQ=="}]}'
      curl -fsS http://127.0.0.1:8099/_sandbox/thingspace/events \\
        -d '{"service": "DeviceUsage", "deviceIds": [{"kind": "IMEI", "id": "990000862471854"}]}'
      curl -fsS http://127.0.0.1:8099/_sandbox/iottly/events \\
        -d '{"device": "dev_01", "stream": "temp", "value": 21.5}'
      curl -fsS http://127.0.0.1:8099/_sandbox/faults -d '{"action": "close", "code": 1001}'
      curl -fsS http://127.0.0.1:8099/_sandbox/faults \\
        -d '{"action": "duplicate", "provider": "pelion", "count": 2}'

    Control endpoints for tests and CI (POST a JSON body): /_sandbox/pelion/events (a
    NotificationMessage; 'Authorization: Bearer KEY' for one key, else every channel),
    /_sandbox/thingspace/events ({"service", "deviceIds": [{"kind", "id"}]}),
    /_sandbox/sigfox/events ({"device", "time", "data", "seqNumber", "deviceTypeId"}),
    /_sandbox/circle/events ({"eventType", "eventData"}), /_sandbox/iottly/events ({"device",
    "stream", "value"}), /_sandbox/faults ({"action": "close", "code": 1001, "provider":
    "iottly"} restarts Iottly's stream; "drop", "stall", "http_status"; {"action": "sequence",
    "provider": "sigfox", "device": ID, "lose": K, "duplicate": K, "reorder": K} loses, then
    duplicates, then reorders that device's next Sigfox messages; {"action": "duplicate",
    "provider": "pelion", "count": K} sends the next K Pelion items twice, same uid);
    GET /_sandbox/state.
    """
    from notifyctl.cli.common import metrics_for
    from notifyctl.errors import UsageError
    from notifyctl.sandbox import Sandbox, serve

    if api_key is not None and not api_key.startswith("ak_"):
        raise UsageError("--api-key: a Pelion access key starts with 'ak_'")
    meter = metrics_for(metrics, None)
    serve(Sandbox(host=host, port=port, rate=rate, devices=devices, api_key=api_key), _announce,
          meter)
