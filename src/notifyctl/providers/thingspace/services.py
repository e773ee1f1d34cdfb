"""The ThingSpace callback services notifyctl knows, and the ports a callback URL may use.

Two lists, because the platform's two APIs spell the services differently: the SOAP (UWS)
CallbackRegistrationService documents eleven names, the REST API thirteen (``AlertsService``,
``PromoChanges``, ``NiddService``, ``StateService``; its own register page spells
``AlertService``, so both spellings pass). A name outside the list is refused unless the caller
allows it (``--allow-unknown-service``): the platform adds services faster than any list.

The platform only registers URLs on ports 80, 443, 9001-9006, 28200-28220 and 50551-50559; a
URL on any other port gets a warning, not an error, since sandboxes and tunnels use others.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from notifyctl.errors import UsageError

SOAP_SERVICES: tuple[str, ...] = (
    "AlertService",
    "CarrierService",
    "DevicePRLInformation",
    "DeviceService",
    "DeviceSuspensionStatus",
    "DeviceUsage",
    "EnhancedConnectivityService",
    "ExternalProvisioningChanges",
    "PromoChange",
    "ResumeTrackingNotification",
    "SMSDeliveryConfirmation",
)
REST_SERVICES: tuple[str, ...] = (
    "AlertService",
    "AlertsService",
    "CarrierService",
    "DevicePRLInformation",
    "DeviceService",
    "DeviceSuspensionStatus",
    "DeviceUsage",
    "EnhancedConnectivityService",
    "ExternalProvisioningChanges",
    "NiddService",
    "PromoChanges",
    "ResumeTrackingNotification",
    "SMSDeliveryConfirmation",
    "StateService",
)
SERVICES: dict[str, tuple[str, ...]] = {"soap": SOAP_SERVICES, "rest": REST_SERVICES}
APIS = tuple(SERVICES)

# Inclusive ranges, as the Register Callback Listener page lists them.
ALLOWED_PORT_RANGES: tuple[tuple[int, int], ...] = (
    (80, 80),
    (443, 443),
    (9001, 9006),
    (28200, 28220),
    (50551, 50559),
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def complete(settings: Mapping[str, Any], incomplete: str) -> list[str]:
    """TAB for ``--service``: the services of the profile's ``api`` (both APIs' when unknown)."""
    api = str(settings.get("api") or "").lower()
    names = SERVICES.get(api) or (*REST_SERVICES, *SOAP_SERVICES)
    return sorted(name for name in set(names) if name.startswith(incomplete))


def known_services(api: str = "rest") -> tuple[str, ...]:
    """The documented service names of ``api`` ("soap" or "rest")."""
    try:
        return SERVICES[api]
    except KeyError:
        raise UsageError(f"unknown ThingSpace api {api!r}", hint="use soap or rest") from None


def validate_service(name: str, api: str = "rest", *, allow_unknown: bool = False) -> str:
    """Return ``name`` when the platform knows it (or ``allow_unknown``); else a UsageError."""
    names = known_services(api)
    if not name or not name.isascii() or not name.isalnum():
        # It lands in a URL path and an XML element: letters and digits only, as every
        # documented name is.
        raise UsageError(f"invalid service name {name!r}: letters and digits only")
    if name in names or allow_unknown:
        return name
    close = [known for known in names if known.lower() == name.lower()]
    hint = f"did you mean {close[0]}?" if close else f"known {api} services: {', '.join(names)}"
    raise UsageError(
        f"unknown ThingSpace service {name!r}",
        hint=f"{hint} (pass --allow-unknown-service to send it anyway)",
    )


def port_allowed(port: int) -> bool:
    return any(low <= port <= high for low, high in ALLOWED_PORT_RANGES)


def allowed_ports_text() -> str:
    return ", ".join(str(low) if low == high else f"{low}-{high}"
                     for low, high in ALLOWED_PORT_RANGES)


def callback_url_port(url: str) -> int:
    """The port a callback URL points at; a URL that is not absolute http(s) is a UsageError."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise UsageError(f"callback URL {url!r} is not an absolute http:// or https:// URL")
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"callback URL {url!r} has an invalid port") from exc
    return port if port is not None else _DEFAULT_PORTS[parts.scheme]


def port_warning(url: str) -> str | None:
    """Warning text when ThingSpace would refuse the URL's port, else None."""
    port = callback_url_port(url)
    if port_allowed(port):
        return None
    return (f"port {port} is not one ThingSpace allows for callbacks ({allowed_ports_text()}); "
            "the platform may refuse the registration or never deliver to it")
