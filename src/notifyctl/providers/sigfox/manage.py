"""Sigfox's ``channels`` capability and the callback operations of ``notifyctl sigfox ...``:
callbacks of a device type, created, listed, deleted, enabled or disabled, chosen for
downlinks, and the undelivered list; returns data, prints nothing. The callback is checked
(``spec.CallbackSpec.body``) before anything is sent.

Callbacks belong to a device type, so every operation takes ``--device-type ID``. The API login
and password come through the context (``username``/``password``), never from options.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from notifyctl.contract.manage import Change, Listing, ManageContext
from notifyctl.errors import UsageError

if TYPE_CHECKING:
    from notifyctl.providers.sigfox.api import SigfoxClient

T = TypeVar("T")
Records = list[dict[str, Any]]  # ("list" is a method name inside the class)
COLUMNS = ("id", "type", "channel", "target", "method", "enabled", "dead", "downlink")


def device_type(value: str | None) -> str:
    if not value:
        raise UsageError("--device-type ID is required for sigfox (callbacks belong to a "
                         "device type)")
    return value


class SigfoxChannels:
    def __init__(self, context: ManageContext) -> None:
        self.context = context

    @property
    def device_type(self) -> str:
        return device_type(self.context.options.get("device_type"))

    def _run(self, call: Callable[[SigfoxClient], Awaitable[T]]) -> T:
        from notifyctl.providers.sigfox.api import SigfoxClient

        context = self.context
        api = SigfoxClient(context.connection.api_url, context.secret("username"),
                           context.secret("password"), context.net)
        return api.run(call)

    def register(self, url: str, headers: Mapping[str, str]) -> Change:
        """Create the callback; its id is also ``stdout``, alone on a line for scripts."""
        from notifyctl.output import inert_str
        from notifyctl.providers.sigfox.spec import CallbackSpec
        from notifyctl.redaction import mask_headers, mask_query

        options = self.context.options
        spec = CallbackSpec(
            type=options["type"], channel=options["channel"], url=url,
            method=options["method"] or "POST", headers=dict(headers),
            body_template=options["body_template"], content_type=options["content_type"],
            line_pattern=options["line_pattern"], send_duplicate=options["send_duplicate"],
            send_sni=options["sni"], payload_config=options["payload_config"],
        )
        spec.body()  # a bad option is exit 2 before the credentials are even read
        dt = self.device_type
        callback_id = self._run(lambda api: api.create(dt, spec))
        return Change(
            f"created {spec.type} callback {callback_id} on device type {inert_str(dt)}",
            {"provider": "sigfox", "id": callback_id, "device_type": dt, "type": spec.type,
             "channel": spec.channel, "url": mask_query(spec.url or ""), "method": spec.method,
             "headers": mask_headers(spec.headers)},
            stdout=callback_id)

    def unregister(self, target: str | None) -> Change:
        from notifyctl.output import inert_str

        if not target:
            raise UsageError("sigfox: which callback? 'notifyctl unregister ID --device-type DT'",
                             hint="'notifyctl list --device-type DT' shows the ids")
        dt = self.device_type
        self._run(lambda api: api.delete(dt, target))
        return Change(f"deleted callback {inert_str(target)}",
                      {"provider": "sigfox", "id": target, "device_type": dt, "removed": True})

    def list(self) -> Listing:
        dt = self.device_type
        records = self._run(lambda api: api.list_callbacks(dt))
        rows = [[_cell(row.get(c)) for c in COLUMNS] for row in records]
        return Listing(records, COLUMNS, rows)

    def set_enabled(self, callback_id: str, enabled: bool) -> Change:
        from notifyctl.output import inert_str

        dt = self.device_type
        self._run(lambda api: api.enable(dt, callback_id, enabled))
        return Change(f"{'enabled' if enabled else 'disabled'} callback "
                      f"{inert_str(callback_id)}")

    def select_downlink(self, callback_id: str) -> Change:
        from notifyctl.output import inert_str

        dt = self.device_type
        self._run(lambda api: api.select_downlink(dt, callback_id))
        return Change(f"callback {inert_str(callback_id)} now answers downlinks")

    def not_delivered(self, limit: int | None = None) -> Records:
        dt = self.device_type
        return self._run(lambda api: api.not_delivered(dt, limit=limit))


def make(context: ManageContext) -> SigfoxChannels:
    return SigfoxChannels(context)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)
