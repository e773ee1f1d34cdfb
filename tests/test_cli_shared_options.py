"""The options and checks commands share (``cli/common.py``) behave the same in every command:
``-o`` values, ``--...-env VAR`` options, and one declaration per shared option."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(("args", "choices"), [
    (["list", "--provider", "pelion"], "table or json"),
    (["profile", "list"], "table or json"),
    (["profile", "show"], "table or json"),
    (["iottly", "check-webhooks", "hooks.yaml"], "table or json"),
    (["tail", "--sandbox"], "table or jsonl"),
])
def test_output_accepts_only_its_formats(cli: Any, args: list[str], choices: str) -> None:
    cli("profile", "add", "p", "--provider", "pelion")
    result = cli(*args, "-o", "csv")
    assert result.exit_code == 2
    assert f"--output 'csv': choose {choices}" in result.stderr


def test_auth_status_output_is_checked(cli: Any) -> None:
    cli("profile", "add", "p", "--provider", "pelion")
    result = cli("auth", "status", "-o", "yaml")
    assert result.exit_code == 2 and "choose table or json" in result.stderr


@pytest.mark.parametrize(("args", "allowed_empty"), [
    (["replay", "--fixture", "generic/standard-webhooks", "--to", "http://127.0.0.1:9/",
      "--sign-key-env", "SHARED_OPT_VAR"], False),
    (["replay", "--fixture", "iottly/telemetry", "--to", "http://127.0.0.1:9/",
      "--provider", "thingspace", "--callback-password-env", "SHARED_OPT_VAR"], True),
    (["listen", "--provider", "circle", "--verify-key-env", "SHARED_OPT_VAR",
      "--timeout", "1"], False),
])
def test_env_options_name_the_missing_variable(cli: Any, monkeypatch: pytest.MonkeyPatch,
                                               args: list[str], allowed_empty: bool) -> None:
    monkeypatch.delenv("SHARED_OPT_VAR", raising=False)
    unset = cli(*args)
    assert unset.exit_code == 2
    assert "the environment variable SHARED_OPT_VAR is not set" in unset.stderr
    if not allowed_empty:
        monkeypatch.setenv("SHARED_OPT_VAR", "")
        empty = cli(*args)
        assert empty.exit_code == 2 and "is not set or empty" in empty.stderr


def _params(*path: str) -> dict[str, tuple[Any, ...]]:
    import typer

    from notifyctl.cli import app
    from notifyctl.cli.state import GLOBALS

    # As main() does: the command line decides which platforms' options a command carries.
    GLOBALS.argv = list(path)
    command: Any = typer.main.get_command(app)
    for name in path:  # get_command, not .commands: the root builds subcommands on demand
        command = command.get_command(typer._click.Context(command), name)
    return {p.name: (tuple(p.opts), p.default, p.help if hasattr(p, "help") else None)
            for p in command.params}


def test_sigfox_callback_commands_take_the_same_options() -> None:
    enable = _params("sigfox", "enable")
    assert list(enable) == ["callback_id", "device_type", "provider", "api_url", "account",
                            "timeout", "insecure", "ca_bundle"]
    assert _params("sigfox", "disable") == enable == _params("sigfox", "downlink")


@pytest.mark.parametrize(("name", "commands"), [
    ("header", [("register",), ("replay",)]),
    ("device_type", [("register",), ("unregister",), ("list",), ("sigfox", "undelivered")]),
    ("callback_username", [("register",), ("replay",), ("listen",)]),
    ("timeout", [("tail",), ("listen",)]),
    ("fmt", [("tail",), ("listen",)]),
    ("insecure", [("replay",), ("tail",), ("list",)]),
])
def test_a_shared_option_is_declared_once(name: str, commands: list[tuple[str, ...]]) -> None:
    declared = {_params(*path)[name] for path in commands}
    assert len(declared) == 1, declared
