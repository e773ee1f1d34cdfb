"""``register``, ``unregister``, ``list``, enable/disable and the undelivered list for Sigfox:
what the CLI calls once the resolved provider is ``sigfox``. Parsing stays in the CLI; the
callback is checked (``spec.CallbackSpec.body``) before anything is sent.

Callbacks belong to a device type, so every command takes ``--device-type ID``. The API login
and password come from ``notifyctl.secrets`` (``username``/``password``), never from options.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from notifyctl import output, secrets
from notifyctl.errors import UsageError

if TYPE_CHECKING:
    from notifyctl.config import Connection
    from notifyctl.http import NetOptions
    from notifyctl.providers.sigfox.api import SigfoxClient
    from notifyctl.providers.sigfox.spec import CallbackSpec

T = TypeVar("T")
COLUMNS = ("id", "type", "channel", "target", "method", "enabled", "dead", "downlink")


def device_type(value: str | None) -> str:
    if not value:
        raise UsageError("--device-type ID is required for sigfox (callbacks belong to a "
                         "device type)")
    return value


def _run(conn: Connection, net: NetOptions, call: Callable[[SigfoxClient], Awaitable[T]]) -> T:
    from notifyctl.providers.sigfox.api import SigfoxClient

    api = SigfoxClient(conn.api_url, secrets.require(conn.profile, "username"),
                       secrets.require(conn.profile, "password"), net)
    return api.run(call)


def register(conn: Connection, net: NetOptions, kind: str | None, spec: CallbackSpec, *,
             echo_id: bool = True) -> dict[str, Any]:
    """Create the callback; what was created (its id is also printed alone on stdout for
    scripts when ``echo_id``)."""
    from notifyctl.redaction import mask_headers, mask_query

    spec.body()  # a bad option is exit 2 before the credentials are even read
    dt = device_type(kind)
    callback_id = _run(conn, net, lambda api: api.create(dt, spec))
    out = output.current()
    if echo_id:
        out.out.write(callback_id + "\n")
        out.out.flush()
    out.success(f"created {spec.type} callback {callback_id} on device type "
                f"{output.inert_str(dt)}")
    return {"provider": "sigfox", "id": callback_id, "device_type": dt, "type": spec.type,
            "channel": spec.channel, "url": mask_query(spec.url or ""), "method": spec.method,
            "headers": mask_headers(spec.headers)}


def unregister(conn: Connection, net: NetOptions, kind: str | None,
               callback_id: str) -> dict[str, Any]:
    dt = device_type(kind)
    _run(conn, net, lambda api: api.delete(dt, callback_id))
    output.current().success(f"deleted callback {output.inert_str(callback_id)}")
    return {"provider": "sigfox", "id": callback_id, "device_type": dt, "removed": True}


def set_enabled(conn: Connection, net: NetOptions, kind: str | None, callback_id: str,
                enabled: bool) -> None:
    dt = device_type(kind)
    _run(conn, net, lambda api: api.enable(dt, callback_id, enabled))
    output.current().success(
        f"{'enabled' if enabled else 'disabled'} callback {output.inert_str(callback_id)}")


def list_callbacks(conn: Connection, net: NetOptions, kind: str | None) -> list[dict[str, Any]]:
    dt = device_type(kind)
    return _run(conn, net, lambda api: api.list_callbacks(dt))


def not_delivered(conn: Connection, net: NetOptions, kind: str | None,
                  limit: int | None = None) -> list[dict[str, Any]]:
    dt = device_type(kind)
    return _run(conn, net, lambda api: api.not_delivered(dt, limit=limit))


def show(rows: list[dict[str, Any]], fmt: str) -> None:
    out = output.current()
    if fmt == "json":
        out.json(rows)
        return
    out.table(list(COLUMNS), [[_cell(row.get(c)) for c in COLUMNS] for row in rows])


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def select_downlink(conn: Connection, net: NetOptions, kind: str | None,
                    callback_id: str) -> None:
    dt = device_type(kind)
    _run(conn, net, lambda api: api.select_downlink(dt, callback_id))
    output.current().success(f"callback {output.inert_str(callback_id)} now answers downlinks")
