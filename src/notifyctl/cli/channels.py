"""``notifyctl register``, ``unregister`` and ``list``: the notification channel of an API key.

Thin commands: resolve the connection once, then hand over by platform: Pelion to
``providers.pelion.api`` here, ThingSpace (one listener per service) to
``providers.thingspace.commands``, Sigfox (callbacks per device type), Circle (server
notifications) and Iottly (dashboard only: exit 2) to ``cli.platform_channels``.

``register`` and ``unregister`` get back what was registered or removed (a dict without any
secret) and print it as JSON with ``-o json``; otherwise the one-line message on stderr stays
the whole output. ``unregister --ignore-not-found`` turns "nothing to remove" (any platform's
not-found, exit 4) into exit 0 with a note, for teardown scripts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from notifyctl.cli.common import (
    AccountOpt,
    ApiUrlOpt,
    CaBundleOpt,
    CallbackUsernameOpt,
    ContentTypeOpt,
    DeviceTypeOpt,
    HeaderEnvOpt,
    HeaderOpt,
    InsecureOpt,
    NetTimeoutOpt,
    ProviderOpt,
    TableJsonOpt,
    connection,
    table_format,
)
from notifyctl.cli.completers import complete_event_type, complete_service

if TYPE_CHECKING:
    from notifyctl.config import Connection
    from notifyctl.http import NetOptions
    from notifyctl.providers.pelion.api import PelionApi

def _api(conn: Connection, net: NetOptions) -> PelionApi:
    """Pelion's management client; every other platform was routed elsewhere before this."""
    from notifyctl import secrets
    from notifyctl.providers.pelion.api import PelionApi

    return PelionApi(conn.api_url, secrets.require(conn.profile, "api_key"), net)


ResultOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", help="text (default: a message on stderr) or json (what was "
                 "registered or removed, on stdout).", show_default=False),
]


def _result_format(fmt: str | None) -> str:
    """``-o``'s value: text (today's message only) unless json is asked for explicitly."""
    from notifyctl.errors import UsageError

    chosen = (fmt or "text").lower()
    if chosen not in ("text", "json"):
        raise UsageError(f"--output {fmt!r}: choose text or json")
    return chosen


def _print_result(result: dict[str, Any], fmt: str) -> None:
    from notifyctl import output

    if fmt == "json":
        output.current().json(result)


ServiceOpt = Annotated[
    str | None,
    typer.Option("--service", help="thingspace: the callback service, e.g. DeviceUsage.",
                 autocompletion=complete_service, show_default=False),
]


def register(
    url: Annotated[str, typer.Argument(help="Callback URL (HTTPS strongly advised).")],
    header: HeaderOpt = None,
    header_env: HeaderEnvOpt = None,
    max_chunk_size: Annotated[
        int | None,
        typer.Option("--max-chunk-size", help="Events per delivery, 100..10000 (platform default"
                     " 10000).", show_default=False),
    ] = None,
    include_uid: Annotated[
        bool, typer.Option("--include-uid", help="Add a uid to each event (for de-duplication).")
    ] = False,
    include_timestamp: Annotated[
        bool, typer.Option("--include-timestamp", help="Add the receive time to each event.")
    ] = False,
    include_original_ep: Annotated[
        bool, typer.Option("--include-original-ep", help="Add the device's original endpoint"
                           " name.")
    ] = False,
    deregistrations_as_object: Annotated[
        bool, typer.Option("--deregistrations-as-object",
                           help="De-registrations as objects instead of plain device ids.")
    ] = False,
    service: ServiceOpt = None,
    allow_unknown_service: Annotated[
        bool, typer.Option("--allow-unknown-service",
                           help="thingspace: send a service name not in the known list.")
    ] = False,
    callback_username: CallbackUsernameOpt = None,
    callback_password_env: Annotated[
        str | None,
        typer.Option("--callback-password-env", metavar="VAR", help="thingspace: variable "
                     "holding its password (else the keyring's callback_password, or a prompt).",
                     show_default=False),
    ] = None,
    device_type: DeviceTypeOpt = None,
    callback_type: Annotated[
        str, typer.Option("--type", help="sigfox: data/uplink, data/bidir, error, "
                          "service/status, service/geoloc, service/ack, service/data-advanced.")
    ] = "data/uplink",
    channel: Annotated[
        str, typer.Option("--channel", help="sigfox: url, batch_url or email.")
    ] = "url",
    method: Annotated[str, typer.Option("--method", help="sigfox: GET, POST or PUT.")] = "POST",
    body_template: Annotated[
        str | None, typer.Option("--body-template", help="sigfox: body with {variables} "
                                 "(checked against the type's variables).", show_default=False),
    ] = None,
    content_type: ContentTypeOpt = None,
    line_pattern: Annotated[
        str | None, typer.Option("--line-pattern", help="sigfox batch_url: each message's "
                                 "line, e.g. '{device};{time};{data}'.", show_default=False),
    ] = None,
    send_duplicate: Annotated[
        bool, typer.Option("--send-duplicate", help="sigfox: also send duplicate messages.")
    ] = False,
    sni: Annotated[bool, typer.Option("--sni/--no-sni", help="sigfox: send TLS SNI.")] = True,
    payload_config: Annotated[
        str | None, typer.Option("--payload-config", help="sigfox: 'name:byte:type[:len]' "
                                 "fields, usable as {customData#name}.", show_default=False),
    ] = None,
    event_type: Annotated[
        list[str] | None, typer.Option("--event-type", help="circle: an event type to receive "
                                       "(repeatable).", autocompletion=complete_event_type,
                                       show_default=False),
    ] = None,
    yes_motion: Annotated[
        bool, typer.Option("--yes-motion", help="circle: really register the high-frequency "
                           "motion events.")
    ] = False,
    user_data: Annotated[
        str | None, typer.Option("--user-data", help="circle: JSON echoed in every delivery.",
                                 show_default=False),
    ] = None,
    auth_key_env: Annotated[
        str | None, typer.Option("--auth-key-env", metavar="VAR", help="circle: variable "
                                 "holding the authKey (default: generate one, store it in the "
                                 "keyring, show it once).", show_default=False),
    ] = None,
    fmt: ResultOpt = None,
    provider: ProviderOpt = None,
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    timeout: NetTimeoutOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
) -> None:
    """Register (or replace) the callback URL events are delivered to.

    The platform verifies the URL with a PUT of '{}' and the headers before accepting it.

    \b
    Examples:
      notifyctl -p prod register https://hooks.example.com/pelion \\
          --header "X-Source: pelion-prod" --include-uid --max-chunk-size 500
      notifyctl -p ts register https://hooks.example.com:9001/ts --service DeviceUsage \\
          --callback-username hook --callback-password-env HOOK_PASSWORD
      notifyctl -p sfx register 'https://hooks.example.com/sf?id={device}' --device-type DT \\
          --body-template '{"d":"{data}","t":{time}}' --content-type application/json
      notifyctl -p circle register https://hooks.example.com/circle \\
          --event-type activity_created --event-type activity_finished
    """
    from notifyctl import output
    from notifyctl.cli import platform_channels as platforms
    from notifyctl.headers import from_options
    from notifyctl.http import net_options

    chosen = _result_format(fmt)
    # One resolution picks who serves the command: Sigfox/Circle/Iottly, ThingSpace or Pelion.
    conn = connection(provider, api_url, account)
    _refuse_foreign_options(conn.provider, {
        ("pelion",): {"--max-chunk-size": max_chunk_size is not None,
                      "--include-uid": include_uid, "--include-timestamp": include_timestamp,
                      "--include-original-ep": include_original_ep,
                      "--deregistrations-as-object": deregistrations_as_object},
        ("thingspace",): {"--service": service is not None,
                          "--allow-unknown-service": allow_unknown_service,
                          "--callback-username": callback_username is not None,
                          "--callback-password-env": callback_password_env is not None},
        ("sigfox",): {"--device-type": device_type is not None,
                      "--type": callback_type != "data/uplink", "--channel": channel != "url",
                      "--method": method != "POST", "--body-template": body_template is not None,
                      "--content-type": content_type is not None,
                      "--line-pattern": line_pattern is not None,
                      "--send-duplicate": send_duplicate, "--no-sni": not sni,
                      "--payload-config": payload_config is not None},
        ("circle",): {"--event-type": bool(event_type), "--yes-motion": yes_motion,
                      "--user-data": user_data is not None,
                      "--auth-key-env": auth_key_env is not None},
        ("pelion", "sigfox"): {"--header": bool(header), "--header-env": bool(header_env)},
    })
    headers = from_options(header, header_env)
    if conn.provider in platforms.PLATFORMS:
        _print_result(platforms.register(
            conn, net_options(timeout, insecure, ca_bundle), url, platforms.RegisterOptions(
                headers, device_type, callback_type, channel, method, body_template,
                content_type, line_pattern, send_duplicate, sni, payload_config,
                event_type or [], yes_motion, user_data, auth_key_env, echo_id=chosen == "text")),
            chosen)
        return
    if conn.provider == "thingspace":
        from notifyctl.providers.thingspace import commands

        _print_result(commands.register(
            conn, net_options(timeout, insecure, ca_bundle), url, service,
            allow_unknown=allow_unknown_service, callback_username=callback_username,
            callback_password_env=callback_password_env), chosen)
        return
    from notifyctl.providers.pelion.api import Serialization, validate_webhook

    serialization = Serialization(
        max_chunk_size, include_uid, include_timestamp, include_original_ep,
        deregistrations_as_object,
    )
    serialization.validate()
    warnings = validate_webhook(url, headers)
    net = net_options(timeout, insecure, ca_bundle)
    with _api(conn, net) as api:
        for warning in warnings:
            output.current().warn(warning)
        api.put_callback(url, headers, serialization)
    output.current().success(f"registered callback {output.inert_str(url)}")
    _print_result(_pelion_registered(url, headers, serialization), chosen)


def _pelion_registered(url: str, headers: dict[str, str], serialization: Any) -> dict[str, Any]:
    """What ``register -o json`` shows for Pelion: header values masked, query tokens too."""
    from notifyctl.redaction import mask_headers, mask_query

    return {"provider": "pelion", "type": "callback", "url": mask_query(url),
            "headers": mask_headers(headers), "serialization": serialization.body()}


def _refuse_foreign_options(provider: str, given: dict[tuple[str, ...], dict[str, bool]]) -> None:
    """An option of another platform is an error, not silently ignored: the user meant it."""
    from notifyctl.errors import UsageError

    for owners, options in given.items():
        used = [name for name, present in options.items() if present]
        if used and provider not in owners:
            raise UsageError(f"{used[0]} is a {' and '.join(owners)} option, not for {provider}",
                             hint="see 'notifyctl register --help'")


def unregister(
    callback_id: Annotated[
        str | None, typer.Argument(help="sigfox: the callback id.", show_default=False)
    ] = None,
    device_type: DeviceTypeOpt = None,
    websocket: Annotated[
        bool, typer.Option("--websocket", help="Delete the WebSocket channel instead.")
    ] = False,
    service: ServiceOpt = None,
    ignore_not_found: Annotated[
        bool, typer.Option("--ignore-not-found", help="Exit 0 (with a note) when there is "
                           "nothing to remove, for teardown scripts.")
    ] = False,
    fmt: ResultOpt = None,
    provider: ProviderOpt = None,
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    timeout: NetTimeoutOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
) -> None:
    """Delete the callback channel (or, with --websocket, the WebSocket channel).

    Events queued for the channel are lost.

    \b
    Examples:
      notifyctl -p prod unregister
      notifyctl -p prod unregister --websocket --ignore-not-found -o json
      notifyctl -p ts unregister --service DeviceUsage
      notifyctl -p sfx unregister CALLBACK_ID --device-type DT
    """
    from notifyctl import output
    from notifyctl.errors import NotFoundError
    from notifyctl.http import net_options

    chosen = _result_format(fmt)
    net = net_options(timeout, insecure, ca_bundle)
    conn = connection(provider, api_url, account)
    try:
        result = _unregister(conn, net, callback_id, device_type, websocket, service)
    except NotFoundError as exc:
        if not ignore_not_found:
            raise
        output.current().info(f"nothing to remove ({exc}); --ignore-not-found: exit 0")
        result = {"provider": conn.provider, "removed": False, "reason": exc.message}
    _print_result(result, chosen)


def _unregister(conn: Connection, net: NetOptions, callback_id: str | None,
                device_type: str | None, websocket: bool, service: str | None) -> dict[str, Any]:
    """Remove what ``unregister`` names on the connection's platform; what was removed."""
    from notifyctl import output
    from notifyctl.cli import platform_channels as platforms

    if conn.provider in platforms.PLATFORMS:
        return platforms.unregister(conn, net, callback_id, device_type)
    if conn.provider == "thingspace":
        from notifyctl.providers.thingspace import commands

        return commands.unregister(conn, net, service)
    with _api(conn, net) as api:
        if websocket:
            api.delete_websocket_channel()
        else:
            api.delete_callback()
    output.current().success(f"deleted the {'WebSocket' if websocket else 'callback'} channel")
    return {"provider": "pelion", "type": "websocket" if websocket else "callback",
            "removed": True}


def list_channels(
    fmt: TableJsonOpt = None,
    device_type: DeviceTypeOpt = None,
    provider: ProviderOpt = None,
    api_url: ApiUrlOpt = None,
    account: AccountOpt = None,
    timeout: NetTimeoutOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
) -> None:
    """Show the notification channel this API key has, if any, and its settings.

    \b
    Examples:
      notifyctl -p prod list
      notifyctl -p prod list -o json | jq '.[0].type'
      notifyctl -p sfx list --device-type DT   (enable/disable: notifyctl sigfox --help)
    """
    from notifyctl import output
    from notifyctl.http import net_options
    from notifyctl.redaction import mask_headers

    out = output.current()
    chosen = table_format(fmt)
    net = net_options(timeout, insecure, ca_bundle)
    from notifyctl.cli import platform_channels as platforms

    conn = connection(provider, api_url, account)
    if conn.provider in platforms.PLATFORMS:
        platforms.list_channels(conn, net, device_type, chosen)
        return
    if conn.provider == "thingspace":
        from notifyctl.providers.thingspace import commands

        commands.show(commands.list_registrations(conn, net), chosen)
        return
    with _api(conn, net) as api:
        records = api.describe()
    for record in records:
        # Header values are often credentials for the receiver: never show them in full.
        if isinstance(record.get("headers"), dict):
            record["headers"] = mask_headers(record["headers"])
    if chosen == "json":
        out.json(records)
        return
    out.table(
        ["type", "url", "headers", "status", "queue", "serialization"],
        [[r.get("type"), r.get("url"), _compact(r.get("headers")), r.get("status"),
          r.get("queue_size"), _summary(r.get("serialization"))] for r in records],
    )


def _summary(serialization: Any) -> str:
    """``chunk 500, include_uid`` rather than the whole JSON: the options that are on."""
    if not isinstance(serialization, dict):
        return ""
    parts = []
    if serialization.get("max_chunk_size") is not None:
        parts.append(f"chunk {serialization['max_chunk_size']}")
    cfg = serialization.get("cfg")
    if isinstance(cfg, dict):
        parts.extend(str(k) for k, v in cfg.items() if v is True or str(v).lower() == "true")
    return ", ".join(parts)


def _compact(value: Any) -> str:
    import json

    if value in (None, {}, []):
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
