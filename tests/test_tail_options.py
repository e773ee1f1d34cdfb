"""``tail`` refuses mistakes before connecting (exit 2, one line saying what is valid): another
platform's option (``--stream`` on Pelion, ``--path`` on Circle/Iottly), a sandbox option without
``--sandbox``, and a ``--path`` glob that could never match a Pelion resource path."""

from __future__ import annotations

from typing import Any

import pytest

DEAD = "http://127.0.0.1:9"  # nothing listens: a refusal must come before any connection


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", "ak_options")


def refused(result: Any) -> str:
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return str(lines[0])


def test_stream_is_refused_on_pelion(cli: Any) -> None:
    message = refused(cli("tail", "--provider", "pelion", "--api-url", DEAD, "--stream", "temp"))
    assert "--stream is an iottly option, not for pelion" in message
    sandboxed = refused(cli("tail", "--sandbox", "--stream", "temp"))
    assert "--stream is an iottly option, not for pelion" in sandboxed


def test_path_without_a_leading_slash_is_refused_with_the_fix(cli: Any) -> None:
    message = refused(cli("tail", "--provider", "pelion", "--api-url", DEAD,
                          "--path", "/3/0/*", "--path", "3303/*"))
    assert "'3303/*'" in message and "start with '/'" in message and "'/3303/*'" in message
    assert refused(cli("tail", "--sandbox", "--path", "3303/*"))


def test_path_is_refused_where_events_have_no_path(cli: Any) -> None:
    added = cli("profile", "add", "circ", "--provider", "circle", "--api-url", DEAD)
    assert added.exit_code == 0, added.stderr
    message = refused(cli("-p", "circ", "tail", "--path", "/3303/*"))
    assert "--path is a pelion option, not for circle" in message


def test_sandbox_options_need_sandbox(cli: Any) -> None:
    message = refused(cli("tail", "--provider", "pelion", "--api-url", DEAD, "--rate", "5"))
    assert "--rate is a --sandbox option" in message


def test_kind_must_be_one_of_the_platforms_kinds(cli: Any) -> None:
    message = refused(cli("tail", "--provider", "pelion", "--api-url", DEAD,
                          "--kind", "activity_created"))
    assert "--kind 'activity_created': not a pelion event kind" in message
    assert "notification" in message  # the valid kinds are listed


def test_sandbox_refuses_a_platform_without_a_stream(cli: Any) -> None:
    message = refused(cli("tail", "--sandbox", "--provider", "sigfox"))
    assert "sigfox has no live stream to tail" in message
