"""The provider registry: which platforms exist, their defaults and secrets, and how to load one.

The table below is cheap data, read by ``--help``, completion and config validation without
importing any provider code. A provider's implementation module is imported only by
``load_provider`` when a command actually needs it. Third-party packages add platforms through
the ``notifyctl.providers`` entry-point group, consulted only for names not built in; each entry
point must resolve to a ``ProviderInfo``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

from notifyctl.errors import UsageError

ENTRY_POINT_GROUP = "notifyctl.providers"


@dataclass(frozen=True)
class ProviderInfo:
    """What notifyctl knows about a platform before importing any of its code."""

    name: str
    title: str
    default_api_url: str
    # Secret names (keys of notifyctl.secrets.SECRET_ENV) the platform's login needs.
    secrets: tuple[str, ...]
    # Dotted path of the package implementing api/wire/stream/emulator for this platform.
    module: str
    # Settings beyond provider/api_url/account that a profile may hold, with their meaning.
    settings: dict[str, str] = field(default_factory=dict)


BUILTIN: dict[str, ProviderInfo] = {
    info.name: info
    for info in (
        ProviderInfo(
            "pelion",
            "Pelion / Izuma Device Management",
            "https://api.us-east-1.mbedcloud.com",
            ("api_key",),
            "notifyctl.providers.pelion",
        ),
        ProviderInfo(
            "thingspace",
            "Verizon ThingSpace M2M",
            "https://thingspace.verizon.com/api",
            # callback_password: what ThingSpace sends to the callback URL; keyring only.
            ("username", "password", "client_id", "client_secret", "callback_password"),
            "notifyctl.providers.thingspace",
            {"api": "soap or rest (default rest)"},
        ),
        ProviderInfo(
            "sigfox",
            "Sigfox backend API v2",
            "https://api.sigfox.com/v2",
            ("username", "password"),
            "notifyctl.providers.sigfox",
        ),
        ProviderInfo(
            "circle",
            "Logitech Circle",
            "https://api.circle.logi.com",
            ("api_key", "access_token"),
            "notifyctl.providers.circle",
        ),
        ProviderInfo(
            "iottly",
            "Iottly",
            "https://api.cloud.iottly.com/v1.0",
            ("api_key",),
            "notifyctl.providers.iottly",
        ),
    )
}


def provider_names() -> list[str]:
    """Built-in names first, then any installed through entry points."""
    return [*BUILTIN, *(name for name in _plugin_infos() if name not in BUILTIN)]


def is_known(name: str) -> bool:
    """True for a built-in name without scanning entry points; plugins are scanned otherwise."""
    return name in BUILTIN or name in _plugin_infos()


def get_info(name: str) -> ProviderInfo:
    """Look a provider up by name; an unknown name is a usage error listing the valid ones."""
    info = BUILTIN.get(name) or _plugin_infos().get(name)
    if info is None:
        raise UsageError(
            f"unknown provider {name!r}",
            hint=f"valid providers: {', '.join(provider_names())}",
        )
    return info


def load_provider(name: str) -> ModuleType:
    """Import and return the implementation package of provider ``name``."""
    info = get_info(name)
    try:
        return importlib.import_module(info.module)
    except ModuleNotFoundError as exc:
        if exc.name and info.module.startswith(exc.name):
            raise UsageError(
                f"provider {name!r} is not implemented in this version of notifyctl"
            ) from exc
        raise


def _plugin_infos() -> dict[str, ProviderInfo]:
    from importlib.metadata import entry_points

    found: dict[str, ProviderInfo] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        info = ep.load()
        if isinstance(info, ProviderInfo):
            found[info.name] = info
    return found
