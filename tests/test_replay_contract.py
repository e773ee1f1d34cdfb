"""What a replay promises scripts (issue 11): Pelion batches as captured unless --batch-size,
--to exact for every provider (--keep-path to keep captured paths), an empty input is exit 2
unless --allow-empty, and messages name built-in fixtures, not paths in the installation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from notifyctl.replay import fixtures
from test_replay import capture, receiver

__all__ = ["receiver"]  # the fixture, shared with test_replay


def fixture_bodies(name: str) -> list[bytes]:
    with open(fixtures.source(name).path, encoding="utf-8") as handle:
        return [json.loads(line)["body"].encode() for line in handle if line.strip()]


# ---- Pelion: batches as captured -------------------------------------------------------------


def test_pelion_delivers_each_captured_batch_as_captured(receiver: Any, cli: Any,
                                                        tmp_path: Path) -> None:
    server = receiver(strict=True)
    report = tmp_path / "r.json"
    result = cli("replay", "--fixture", "pelion/notifications", "--to", server.url + "/cb",
                 "--report", str(report))
    assert result.exit_code == 0, result.stderr
    assert server.overlaps == 0
    # "4 batches of 3": four PUTs of three, in order, each byte for byte as captured
    assert [h.body for h in server.hits] == fixture_bodies("pelion/notifications")
    assert [len(json.loads(h.body)["notifications"]) for h in server.hits] == [3, 3, 3, 3]
    assert all(h.method == "PUT" and h.path == "/cb" for h in server.hits)
    data = json.loads(report.read_text())
    assert data["settings"] == {"batches": "as captured"}
    assert (data["deliveries"], data["events"]) == (4, 12)
    assert "batches" in result.stderr and "as captured" in result.stderr


def test_pelion_batch_size_rechunks_only_when_given(receiver: Any, cli: Any) -> None:
    server = receiver(strict=True)
    result = cli("replay", "--fixture", "pelion/notifications", "--to", server.url,
                 "--batch-size", "5", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert [len(json.loads(h.body)["notifications"]) for h in server.hits] == [5, 5, 2]
    assert result.json()["settings"] == {"batches": "re-chunked to 5"}
    assert "re-chunked to 5" in result.stderr


def test_help_says_batches_are_sent_as_captured(cli: Any) -> None:
    result = cli("replay", "--help")
    assert "as captured" in " ".join(result.stdout.split())


def test_batch_size_is_refused_where_there_are_no_batches(cli: Any) -> None:
    result = cli("replay", "--fixture", "iottly/telemetry", "--to", "http://127.0.0.1:9/",
                 "--batch-size", "5")
    assert result.exit_code == 2 and "--batch-size" in result.stderr


# ---- --to is exact; --keep-path --------------------------------------------------------------


def test_generic_delivers_to_to_exactly(receiver: Any, cli: Any, tmp_path: Path) -> None:
    server = receiver()
    src = capture(tmp_path / "g.jsonl", "generic", [{"n": 1}])  # captured at /hook
    result = cli("replay", str(src), "--provider", "generic", "--to", server.url + "/gen")
    assert result.exit_code == 0, result.stderr
    assert [h.path for h in server.hits] == ["/gen"]


def test_keep_path_appends_the_captured_path_and_query(receiver: Any, cli: Any,
                                                       tmp_path: Path) -> None:
    server = receiver()
    src = tmp_path / "g.jsonl"
    src.write_text(json.dumps({"v": 1, "provider": "generic", "source": "callback",
                               "at": "2026-11-23T09:00:00.000Z", "method": "POST",
                               "path": "/webhooks?x=1", "body": '{"n": 1}'}) + "\n")
    result = cli("replay", str(src), "--to", server.url + "/gen?k=2", "--keep-path")
    assert result.exit_code == 0, result.stderr
    assert [h.path for h in server.hits] == ["/gen/webhooks?k=2&x=1"]


def test_keep_path_is_refused_where_the_platform_has_one_url(cli: Any) -> None:
    result = cli("replay", "--fixture", "pelion/notifications", "--to", "http://127.0.0.1:9/",
                 "--keep-path")
    assert result.exit_code == 2 and "--keep-path" in result.stderr


# ---- nothing to replay -------------------------------------------------------------------------


def test_an_empty_input_is_exit_2_unless_allowed(receiver: Any, cli: Any,
                                                 tmp_path: Path) -> None:
    server = receiver()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    for path, provider in ((empty, []), (empty, ["--provider", "pelion"]), (blank, [])):
        result = cli("replay", str(path), *provider, "--to", server.url)
        assert result.exit_code == 2, (path, provider, result.stderr)
        assert f"nothing to replay in {path}" in result.stderr
        assert "--allow-empty" in result.stderr
    report = tmp_path / "r.json"
    allowed = cli("replay", str(empty), "--to", server.url, "--allow-empty",
                  "--report", str(report))
    assert allowed.exit_code == 0, allowed.stderr
    assert json.loads(report.read_text())["deliveries"] == 0
    assert server.hits == []


def test_only_skipped_lines_is_nothing_to_replay(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"v": 1, broken\n')
    result = cli("replay", str(src), "--provider", "generic", "--to", "http://127.0.0.1:9/",
                 "--skip-invalid")
    assert result.exit_code == 2
    assert "nothing to replay" in result.stderr and "1 malformed" in result.stderr


# ---- fixtures are named ----------------------------------------------------------------------


def test_fixture_errors_name_the_fixture_not_a_path(cli: Any) -> None:
    installed = str(fixtures.folder("pelion"))
    refused = cli("replay", "--fixture", "pelion/notifications", "--provider", "circle",
                  "--to", "http://127.0.0.1:9/", "-o", "json")
    assert refused.exit_code == 6
    assert "fixture pelion/notifications:1: not sent" in refused.stderr
    assert all(p.startswith("fixture pelion/notifications:") for p in refused.json()["problems"])
    assert installed not in refused.stdout + refused.stderr
    bad = cli("replay", "--fixture", "pelion/notifications", "--provider", "generic",
              "--to", "http://127.0.0.1:9/", "--input-format", "har")
    assert bad.exit_code == 2
    assert "error: fixture pelion/notifications:2: not a HAR file" in bad.stderr
    assert installed not in bad.stderr
    unknown = cli("replay", "--fixture", "nope/none", "--to", "http://127.0.0.1:9/")
    assert unknown.exit_code == 2 and "'nope/none'" in unknown.stderr


# ---- platforms come from the registry (issue 12) -----------------------------------------------


def test_replay_help_lists_the_resolved_platforms_own_options(cli: Any) -> None:
    pelion = " ".join(cli("replay", "--provider", "pelion", "--help").stdout.split())
    generic = " ".join(cli("replay", "--provider", "generic", "--help").stdout.split())
    assert "--batch-size" in pelion and "--handshake" in pelion
    assert "--keep-path " not in pelion and "--sign " not in pelion
    assert "--keep-path " in generic and "--sign " in generic
    assert "--batch-size" not in generic and "--handshake" not in generic


def test_another_platforms_option_gets_the_one_refusal(cli: Any) -> None:
    # Resolved from the fixture after parsing, and from --provider before it: one message.
    for provider in ([], ["--provider", "iottly"]):
        result = cli("replay", "--fixture", "iottly/telemetry", *provider,
                     "--to", "http://127.0.0.1:9/", "--handshake")
        assert result.exit_code == 2, result.stderr
        assert "--handshake is a pelion option, not for iottly" in result.stderr


def test_fixtures_are_each_platforms_own(cli: Any) -> None:
    from notifyctl import registry

    names = fixtures.available()
    assert list(names) == sorted(names)
    with_fixtures = {name for name, p in registry.platforms().items() if p.fixtures}
    assert {name.split("/", 1)[0] for name in names} == with_fixtures
    for name in names:
        platform = name.split("/", 1)[0]
        path = Path(fixtures.source(name).path)
        assert path.is_file() and path.parent == fixtures.folder(platform)
    listed = cli("replay", "--list-fixtures", "-o", "json")
    assert listed.exit_code == 0 and listed.json() == names


def test_an_allowed_empty_input_runs_no_platforms_rules(cli: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    # Options that some platform's rules would refuse (-c with one-at-a-time delivery) do not
    # matter when nothing is delivered and no platform was named.
    result = cli("replay", str(empty), "--to", "http://127.0.0.1:9/", "--allow-empty",
                 "-c", "4", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert (result.json()["provider"], result.json()["deliveries"]) == ("none", 0)
