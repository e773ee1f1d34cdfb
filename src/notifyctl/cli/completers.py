"""TAB completion of option values: fixtures, Circle event types, ThingSpace services, event
kinds, and the providers a receiver speaks.

Each completer runs on every TAB, so it reads small data modules only (the fixture index, each
platform's ``kinds``, ThingSpace's service list) and the config file without PyYAML; a test
checks that no network stack, keyring or YAML gets imported.
"""

from __future__ import annotations

import os

import typer

from notifyctl import registry


def _matching(names: tuple[str, ...] | list[str], incomplete: str) -> list[str]:
    return [name for name in dict.fromkeys(names) if name.startswith(incomplete)]


def _profile_settings(ctx: typer.Context) -> dict[str, str]:
    """The settings of the profile this command line would use, read without PyYAML."""
    from notifyctl.config import ENV_PROFILE, config_path, profiles_for_completion

    root = ctx.find_root().params
    default, profiles = profiles_for_completion(config_path(root.get("config")))
    name = root.get("profile_name") or os.environ.get(ENV_PROFILE) or default
    return profiles.get(name or "", {})


def _provider(ctx: typer.Context) -> str | None:
    """The provider this command line would use (flag > environment > profile), if known."""
    from notifyctl.config import ENV_SETTINGS

    name = (ctx.params.get("provider") or os.environ.get(ENV_SETTINGS["provider"])
            or _profile_settings(ctx).get("provider"))
    return name.lower() if isinstance(name, str) else None


def complete_kind(ctx: typer.Context, incomplete: str) -> list[str]:
    """``tail --kind``: the resolved provider's kinds, else every platform's."""
    platforms = registry.platforms()
    provider = _provider(ctx)
    chosen = [platforms[provider]] if provider in platforms else list(platforms.values())
    return _matching([kind for platform in chosen for kind in platform.kinds], incomplete)


def complete_event_type(incomplete: str) -> list[str]:
    """``register --event-type``: Circle's event types."""
    from notifyctl.providers.circle.kinds import EVENT_TYPES

    return _matching(EVENT_TYPES, incomplete)


def complete_service(ctx: typer.Context, incomplete: str) -> list[str]:
    """``--service``: ThingSpace's services for the profile's api (both APIs' when unknown)."""
    from notifyctl.providers.thingspace import services

    api = _profile_settings(ctx).get("api", "").lower()
    names = services.SERVICES.get(api) or (*services.REST_SERVICES, *services.SOAP_SERVICES)
    return sorted(_matching(names, incomplete))


def complete_fixture(incomplete: str) -> list[str]:
    """``replay --fixture``: the built-in fixtures' names (``pelion/notifications``)."""
    from notifyctl.errors import UsageError
    from notifyctl.replay import fixtures

    try:
        return _matching(list(fixtures.available()), incomplete)
    except UsageError:  # a broken installation completes nothing rather than failing TAB
        return []


def complete_receiver_provider(incomplete: str) -> list[str]:
    """``listen --provider``: every platform with a receiver (generic: Standard Webhooks)."""
    return _matching(registry.names("receiver"), incomplete)
