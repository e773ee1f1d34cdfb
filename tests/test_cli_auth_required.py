"""``auth login`` and ``auth status`` fail a CI step that would otherwise pass with nothing
set: an empty secret on standard input is exit 2 naming it (nothing stored), and ``auth
status`` exits 2 (a missing secret is configuration, DESIGN.md) when a secret the profile
needs is not set, still printing the status. Which secrets a profile needs follows its
settings: ThingSpace's OAuth2 client only with ``api: rest``; ``callback_password`` never."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

KEY = "ak_required_0123456789abcdef"


def test_an_empty_line_stores_nothing_and_exits_2(cli: Any, isolated: Path) -> None:
    cli("profile", "add", "prod", "--provider", "pelion")
    result = cli("-p", "prod", "auth", "login", input="\n")
    assert result.exit_code == 2
    assert "api_key was empty on standard input; nothing stored" in result.stderr
    assert not (isolated / "keyring.json").exists() or "prod" not in (
        isolated / "keyring.json").read_text()
    assert cli("-p", "prod", "auth", "login", input="").exit_code == 2  # no line at all


def test_an_empty_required_secret_among_others_stores_none_of_them(cli: Any) -> None:
    cli("profile", "add", "sfx", "--provider", "sigfox")
    result = cli("-p", "sfx", "auth", "login", input="login\n\n")
    assert result.exit_code == 2 and "password was empty" in result.stderr
    rows = cli("-p", "sfx", "auth", "status", "-o", "json").json()["secrets"]
    assert not any(row["set"] for row in rows)


def test_a_secret_the_profile_does_without_may_be_skipped(cli: Any) -> None:
    cli("profile", "add", "ts", "--provider", "thingspace", "--set", "api=soap")
    result = cli("-p", "ts", "auth", "login", input="user\npw\n\n\n\n")
    assert result.exit_code == 0, result.stderr
    assert "skipped: client_id, client_secret, callback_password" in result.stderr
    status = cli("-p", "ts", "auth", "status", "-o", "json")
    assert status.exit_code == 0, status.stderr
    required = {r["name"]: r["required"] for r in status.json()["secrets"]}
    assert required == {"username": True, "password": True, "client_id": False,
                        "client_secret": False, "callback_password": False}


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_status_exits_2_naming_what_is_missing_after_printing(cli: Any, fmt: str) -> None:
    cli("profile", "add", "ts", "--provider", "thingspace")  # api defaults to rest
    cli("-p", "ts", "auth", "login", "--secret", "username", "--secret", "password",
        input="user\npw\n")
    status = cli("-p", "ts", "auth", "status", "-o", fmt)
    assert status.exit_code == 2
    assert "client_id" in status.stdout  # the status is printed all the same
    [line] = status.stderr.splitlines()
    assert line.startswith("error: profile 'ts' lacks client_id, client_secret")
    assert "NOTIFYCTL_CLIENT_ID, NOTIFYCTL_CLIENT_SECRET" in line


def test_status_exits_0_once_everything_needed_is_set(cli: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cli("profile", "add", "prod", "--provider", "pelion")
    assert cli("-p", "prod", "auth", "status").exit_code == 2
    monkeypatch.setenv("NOTIFYCTL_API_KEY", KEY)
    assert cli("-p", "prod", "auth", "status").exit_code == 0
    monkeypatch.delenv("NOTIFYCTL_API_KEY")
    assert cli("-p", "prod", "auth", "login", input=KEY + "\n").exit_code == 0
    assert cli("-p", "prod", "auth", "status").exit_code == 0
