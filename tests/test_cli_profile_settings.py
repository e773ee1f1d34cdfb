"""A profile holds only the settings its provider declares (their platform declaration), with
values it accepts: ``profile add --set`` and reading the config file refuse anything else at
once, naming the key and the valid keys or values (exit 2), instead of failing at first use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notifyctl.registry import platforms


@pytest.mark.parametrize(("provider", "assignment", "message"), [
    ("thingspace", "api=sooap", "--set api: 'sooap' is not one of rest, soap"),
    ("pelion", "foo=bar", "--set foo: not a pelion setting (a pelion profile holds provider, "
     "api_url, account)"),
    ("thingspace", "apy=soap", "did you mean 'api'?"),
    ("circle", "server_notifications_register_method=GET", "is not one of POST, PUT, PATCH"),
    ("circle", "server_notifications_path=api/x", "'api/x' must start with '/'"),
    ("iottly", "stream_url=ftp://x", "must start with 'wss://' or 'ws://'"),
])
def test_profile_add_refuses_what_the_provider_does_not_take(
        cli: Any, config_file: Path, provider: str, assignment: str, message: str) -> None:
    result = cli("profile", "add", "p", "--provider", provider, "--set", assignment)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not config_file.exists()


@pytest.mark.parametrize(("provider", "assignment"), [
    ("thingspace", "api=SOAP"),
    ("circle", "server_notifications_register_method=put"),
    ("circle", "server_notifications_path=/api/x"),
    ("iottly", "stream_url=wss://stream.example/v1/stream"),
])
def test_profile_add_takes_declared_settings(cli: Any, provider: str, assignment: str) -> None:
    result = cli("profile", "add", "p", "--provider", provider, "--set", assignment)
    assert result.exit_code == 0, result.stderr


def test_loading_the_file_refuses_unknown_keys_and_bad_values(cli: Any,
                                                             config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("profiles:\n  ts:\n    provider: thingspace\n    api: sooap\n")
    bad_value = cli("profile", "list")
    assert bad_value.exit_code == 2
    assert f"{config_file}: profiles.ts.api: 'sooap' is not one of rest, soap" in bad_value.stderr
    config_file.write_text("profiles:\n  p:\n    provider: pelion\n    foo: bar\n")
    unknown = cli("-p", "p", "list")
    assert unknown.exit_code == 2 and "profiles.p.foo: not a pelion setting" in unknown.stderr


def test_every_setting_the_code_reads_is_declared() -> None:
    """``conn.settings.get(KEY)`` anywhere in the source must name a declared setting of some
    provider, or loading a profile that holds it would be refused."""
    import re

    source = Path(__file__).parents[1] / "src" / "notifyctl"
    read = {match for path in source.rglob("*.py")
            for match in re.findall(r"settings\.get\(\s*\"(\w+)\"", path.read_text())}
    declared = {"provider", "api_url", "account"}
    declared |= {key for info in platforms().values() for key in info.settings}
    assert read and read <= declared, read - declared


def test_declared_values_are_those_the_platform_code_accepts() -> None:
    """The registry's choices must not drift from what each platform's code accepts."""
    from notifyctl.errors import ConfigError
    from notifyctl.providers.circle.api import ServerNotificationsRoute
    from notifyctl.providers.thingspace import services

    api = platforms()["thingspace"].settings["api"]
    assert sorted(api.choices) == sorted(services.APIS) and api.default == "rest"
    circle = platforms()["circle"].settings
    for key in ("server_notifications_register_method", "server_notifications_unregister_method"):
        for method in circle[key].choices:
            ServerNotificationsRoute.from_settings({key: method})
        assert circle[key].problem("GET")
        with pytest.raises(ConfigError):
            ServerNotificationsRoute.from_settings({key: "GET"})
