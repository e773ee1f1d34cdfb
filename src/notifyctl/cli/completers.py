"""TAB completion of option values: fixtures, event kinds, the providers a receiver speaks, and
platform options whose candidates depend on the profile (``Opt.completer``); options with
fixed ``Opt.choices`` complete from the declaration itself (``cli/platform_options.py``).

Each completer runs on every TAB, so it reads small data modules only (the fixture index, each
platform's ``kinds``, a platform's completer module) and the config file without PyYAML; a test
checks that no network stack, keyring or YAML gets imported.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

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


def declared(target: str) -> Callable[[typer.Context, str], list[str]]:
    """TAB for a platform option with its own ``Opt.completer`` (``"module:function"``),
    called with the profile's settings; imported only when TAB asks."""

    def complete(ctx: typer.Context, incomplete: str) -> list[str]:
        module, _, attribute = target.partition(":")
        function = getattr(importlib.import_module(module), attribute)
        return list(function(_profile_settings(ctx), incomplete))

    return complete


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
