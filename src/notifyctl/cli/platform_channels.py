"""``register``/``unregister``/``list`` for Sigfox, Logitech Circle and Iottly: what
``cli/channels.py`` hands over once the resolved provider is one of them. Each platform's logic
lives in ``providers/<name>/commands.py``; this module only maps the options onto it.

Iottly webhooks exist in its dashboard only (no public API), so the three commands exit 2 and
say where to do it, pointing at ``notifyctl iottly check-webhooks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notifyctl.config import Connection
    from notifyctl.http import NetOptions

PLATFORMS = ("sigfox", "circle", "iottly")


@dataclass
class RegisterOptions:
    """The register options these platforms read (the others belong to pelion/thingspace)."""

    headers: dict[str, str] = field(default_factory=dict)
    device_type: str | None = None
    type: str = "data/uplink"
    channel: str = "url"
    method: str = "POST"
    body_template: str | None = None
    content_type: str | None = None
    line_pattern: str | None = None
    send_duplicate: bool = False
    sni: bool = True
    payload_config: str | None = None
    event_types: list[str] = field(default_factory=list)
    yes_motion: bool = False
    user_data: str | None = None
    auth_key_env: str | None = None
    echo_id: bool = True  # sigfox: the new id alone on stdout (the text output's data)


def _iottly(command: str) -> None:
    from notifyctl.errors import UsageError

    raise UsageError(
        f"Iottly webhooks cannot be managed through an API: '{command}' is done in the "
        "dashboard (Project settings -> Configure webhooks)",
        hint="check a YAML description of them first with 'notifyctl iottly check-webhooks "
        "FILE'",
    )


def register(conn: Connection, net: NetOptions, url: str,
             opts: RegisterOptions) -> dict[str, Any]:
    """Register on Sigfox or Circle; what was registered (no secret)."""
    if conn.provider == "iottly":
        _iottly("register")
    if conn.provider == "circle":
        from notifyctl.providers.circle import commands as circle

        return circle.register(conn, net, url, opts.event_types, yes_motion=opts.yes_motion,
                               user_data=opts.user_data, auth_key_env=opts.auth_key_env)
    from notifyctl.providers.sigfox import commands as sigfox
    from notifyctl.providers.sigfox.spec import CallbackSpec

    spec = CallbackSpec(
        type=opts.type, channel=opts.channel, url=url, method=opts.method,
        headers=opts.headers, body_template=opts.body_template,
        content_type=opts.content_type, line_pattern=opts.line_pattern,
        send_duplicate=opts.send_duplicate, send_sni=opts.sni,
        payload_config=opts.payload_config,
    )
    return sigfox.register(conn, net, opts.device_type, spec, echo_id=opts.echo_id)


def unregister(conn: Connection, net: NetOptions, callback_id: str | None,
               device_type: str | None) -> dict[str, Any]:
    """Unregister on Sigfox or Circle; what was removed."""
    from notifyctl.errors import UsageError

    if conn.provider == "iottly":
        _iottly("unregister")
    if conn.provider == "circle":
        from notifyctl.providers.circle import commands as circle

        return circle.unregister(conn, net)
    from notifyctl.providers.sigfox import commands as sigfox

    if not callback_id:
        raise UsageError("sigfox: which callback? 'notifyctl unregister ID --device-type DT'",
                         hint="'notifyctl list --device-type DT' shows the ids")
    return sigfox.unregister(conn, net, device_type, callback_id)


def list_channels(conn: Connection, net: NetOptions, device_type: str | None, fmt: str) -> None:
    from notifyctl.errors import UsageError

    if conn.provider == "iottly":
        _iottly("list")
    if conn.provider == "circle":
        raise UsageError("Circle has no API that lists server notifications",
                         hint="'notifyctl register' overwrites the registration; "
                         "'notifyctl unregister' removes it")
    from notifyctl.providers.sigfox import commands as sigfox

    sigfox.show(sigfox.list_callbacks(conn, net, device_type), fmt)
