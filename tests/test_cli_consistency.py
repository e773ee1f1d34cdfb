"""One meaning per option name, one error style, the same ``-o`` words, and a "did you mean"
for mistyped names, across every command (issue 11 item 15)."""

from __future__ import annotations

from typing import Any

import pytest

from test_cli_shared_options import _params


@pytest.mark.parametrize("path", [
    ("register",), ("unregister",), ("list",), ("replay",), ("sigfox", "enable"),
    ("sigfox", "undelivered"),
])
def test_the_per_request_bound_is_request_timeout_everywhere(path: tuple[str, ...]) -> None:
    opts = _params(*path)["timeout"][0]
    assert opts == ("--request-timeout",)


@pytest.mark.parametrize("path", [("tail",), ("listen",), ("iottly", "exec")])
def test_timeout_means_stop_after_s_seconds(path: tuple[str, ...]) -> None:
    opts, _default, help_text = _params(*path)["timeout"]
    assert opts == ("--timeout",)
    assert "per" not in help_text.lower()


def test_the_old_per_request_timeout_is_refused_with_the_new_name(cli: Any) -> None:
    result = cli("list", "--provider", "pelion", "--timeout", "5")
    assert result.exit_code == 2
    assert "--request-timeout" in result.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["regster"], "did you mean 'register'? see 'notifyctl --help'"),
    (["profile", "ad"], "see 'notifyctl profile --help'"),
    (["list", "--provider", "pelion", "--bogus"], "see 'notifyctl list --help'"),
    (["tail", "--count"], "requires an argument"),
    (["sandbox", "--port", "abc"], "see 'notifyctl sandbox --help'"),
])
def test_usage_errors_are_one_error_line(cli: Any, args: list[str], expected: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and expected in line
    assert "Usage:" not in result.stderr


@pytest.mark.parametrize("args", [
    ["list", "--provider", "Pelion"],
    ["list", "--provider", "pelio"],
    ["profile", "add", "x", "--provider", "PELION"],
])
def test_a_mistyped_provider_gets_a_suggestion(cli: Any, args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert "unknown provider" in result.stderr and "did you mean 'pelion'?" in result.stderr


def test_a_mistyped_profile_gets_a_suggestion(cli: Any) -> None:
    cli("profile", "add", "production", "--provider", "pelion")
    result = cli("-p", "prodution", "profile", "show")
    assert result.exit_code == 2 and "did you mean 'production'?" in result.stderr


def test_streams_take_json_for_jsonl(cli: Any) -> None:
    result = cli("tail", "--sandbox", "-o", "json", "--count", "2")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2  # JSON lines, one event a line


def test_listen_takes_json_for_jsonl_like_tail(cli: Any) -> None:
    result = cli("listen", "--provider", "iottly", "-o", "json", "--timeout", "0.2")
    assert result.exit_code == 0, result.stderr
    assert cli("listen", "--provider", "iottly", "-o", "csv").exit_code == 2


def test_documents_refuse_jsonl_in_one_line_saying_what_to_use(cli: Any) -> None:
    cli("profile", "add", "p", "--provider", "pelion")
    result = cli("profile", "list", "-o", "jsonl")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "choose table or json" in line and "one JSON document" in line
    assert cli("profile", "list", "-o", "JSON").exit_code == 0


def test_platform_subcommands_take_provider_and_account(cli: Any, sandbox: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFYCTL_USERNAME", "api-login")
    monkeypatch.setenv("NOTIFYCTL_PASSWORD", "sfx-password")
    result = cli("sigfox", "undelivered", "--provider", "sigfox", "--account", "acme",
                 "--api-url", f"{sandbox.url}/v2", "--device-type", "5a1b2c3d4e5f")
    assert result.exit_code == 0, result.stderr
    assert result.json() == []


@pytest.mark.parametrize("args", [
    ["sigfox", "enable", "cb1", "--provider", "pelion"],
    ["sigfox", "undelivered", "--provider", "circle"],
    ["iottly", "exec", "--provider", "sigfox", "dev_1", "true"],
])
def test_another_platform_is_a_usage_error(cli: Any, args: list[str]) -> None:
    result = cli(*args, "--account", "acme")
    assert result.exit_code == 2
    assert "works on" in result.stderr and "only" in result.stderr
