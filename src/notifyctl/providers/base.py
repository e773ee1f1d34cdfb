"""The provider registry: which platforms exist, their defaults and secrets, and how to load one.

The table below is cheap data, read by ``--help``, completion and config validation without
importing any provider code. A provider's implementation module is imported only by
``load_provider`` when a command actually needs it. Third-party packages add platforms through
the ``notifyctl.providers`` entry-point group, consulted only for names not built in; each entry
point must resolve to a ``ProviderInfo``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType

from notifyctl.errors import UsageError

ENTRY_POINT_GROUP = "notifyctl.providers"


@dataclass(frozen=True)
class Setting:
    """A setting a profile of one platform may hold beyond provider/api_url/account, and the
    values it accepts, so a mistake is refused when the profile is written or read, not when a
    command first uses it."""

    meaning: str
    # Accepted values, compared ignoring case; empty: any text (within ``prefixes``).
    choices: tuple[str, ...] = ()
    # The value must start with one of these (a path, a URL scheme); empty: no constraint.
    prefixes: tuple[str, ...] = ()
    # The value a profile without the setting gets (its first choice when there are choices).
    default: str | None = None

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not acceptable (naming the valid values), or None when it is."""
        if isinstance(value, (dict, list)) or value is None:
            return "must be a plain value"
        text = str(value).strip()
        if self.choices and text.lower() not in (choice.lower() for choice in self.choices):
            return f"{text!r} is not one of {', '.join(self.choices)}"
        if self.prefixes and not text.startswith(self.prefixes):
            return f"{text!r} must start with {' or '.join(map(repr, self.prefixes))}"
        return None


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
    # Settings beyond provider/api_url/account that a profile may hold; any other is refused.
    settings: dict[str, Setting] = field(default_factory=dict)
    # Secrets a profile may store but needs only in some setups (a secret -> (setting, value):
    # needed only when the setting has that value; a secret -> None: never required).
    conditional_secrets: dict[str, tuple[str, str] | None] = field(default_factory=dict)

    def required_secrets(self, settings: Mapping[str, object]) -> tuple[str, ...]:
        """The secrets a profile with ``settings`` cannot work without."""

        def needed(secret: str) -> bool:
            if secret not in self.conditional_secrets:
                return True
            condition = self.conditional_secrets[secret]
            if condition is None:
                return False
            key, wanted = condition
            value = settings.get(key) or self.settings[key].default
            return str(value).strip().lower() == wanted

        return tuple(secret for secret in self.secrets if needed(secret))

    def setting_problem(self, key: str, value: object) -> str | None:
        """Why ``key: value`` cannot be in a profile of this platform, or None when it can."""
        from notifyctl.suggest import did_you_mean

        setting = self.settings.get(key)
        if setting is None:
            valid = ", ".join(("provider", "api_url", "account", *self.settings))
            return (f"not a {self.name} setting ({did_you_mean(key, self.settings)}"
                    f"a {self.name} profile holds {valid})")
        # A plugin may still describe a setting with plain text: any value is its business.
        return setting.problem(value) if isinstance(setting, Setting) else None


_METHODS = ("POST", "PUT", "PATCH", "DELETE")

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
            {"api": Setting("which management API: the REST API or SOAP (UWS)",
                            choices=("rest", "soap"), default="rest")},
            # The REST API's OAuth2 client; callback_password only for --callback-username.
            {"client_id": ("api", "rest"), "client_secret": ("api", "rest"),
             "callback_password": None},
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
            # The server-notification route is an assumption (providers/circle/api.py).
            {"server_notifications_path": Setting("path of Register/Unregister Server "
                                                  "Notifications", prefixes=("/",)),
             "server_notifications_register_method": Setting(
                 "HTTP method registering a server notification", choices=_METHODS),
             "server_notifications_unregister_method": Setting(
                 "HTTP method unregistering a server notification", choices=_METHODS)},
        ),
        ProviderInfo(
            "iottly",
            "Iottly",
            "https://api.cloud.iottly.com/v1.0",
            ("api_key",),
            "notifyctl.providers.iottly",
            {"stream_url": Setting("the stream API's URL when it is not derived from api_url",
                                   prefixes=("wss://", "ws://", "https://", "http://"))},
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
        from notifyctl.suggest import did_you_mean

        names = provider_names()
        raise UsageError(f"unknown provider {name!r}",
                         hint=f"{did_you_mean(name, names)}valid providers: {', '.join(names)}")
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
