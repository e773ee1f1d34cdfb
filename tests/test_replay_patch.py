"""``replay --patch EXPR`` and replay's bad input (a line of another platform, --speed/--rate
that are not numbers of passes), against a recording receiver on 127.0.0.1: what arrives is
the patched body, signed and sized after the patch; a body the platform would refuse is a
FILE:LINE error before anything is sent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from recorder import Recorder

from notifyctl.signing import standard_verify

CIRCLE = "circle/motion_started"
KEY = "circle-auth-key"


def circle_sig(body: bytes) -> str:
    return base64.b64encode(hmac.new(KEY.encode(), body, hashlib.sha256).digest()).decode()


def capture(path: Path, provider: str, bodies: list[tuple[str, str]]) -> Path:
    """A capture of (content type, body) deliveries."""
    path.write_text("".join(json.dumps({
        "v": 1, "provider": provider, "source": "callback", "at": "2026-11-23T09:00:00.000Z",
        "method": "POST", "path": "/in", "headers": {"Content-Type": content_type},
        "body": body}) + "\n" for content_type, body in bodies))
    return path


def test_patched_circle_bodies_are_signed_and_sized_after_the_patch(cli, monkeypatch) -> None:
    monkeypatch.setenv("CK", KEY)
    with Recorder() as rec:
        result = cli("replay", "--fixture", CIRCLE, "--sign-key-env", "CK", "--to",
                     rec.url + "/hook", "--patch", '.eventData.accessoryId = "cam-2"')
        assert result.exit_code == 0, result.stderr
        seen = rec.wait(3)
    for one in seen:
        body = json.loads(one.body)
        assert body["eventData"]["accessoryId"] == "cam-2"
        assert body["eventType"] == "motion_started"
        assert one.headers["X-Logi-Verify"] == circle_sig(one.body)
        assert int(one.headers["Content-Length"]) == len(one.body)


def test_patched_sigfox_json_is_re_rendered_with_the_new_variables(cli) -> None:
    with Recorder() as rec:
        result = cli("replay", "--fixture", "sigfox/uplinks", "--pick", "1", "--to",
                     rec.url + "/hook", "--patch", '.device = "BEEF01"')
        assert result.exit_code == 0, result.stderr
        (seen,) = rec.wait(1)
    assert "device=BEEF01" in seen.body.decode()


def test_a_patch_that_changes_nothing_keeps_the_captured_bytes_and_signature(cli) -> None:
    with Recorder() as rec:
        result = cli("replay", "--fixture", "generic/standard-webhooks", "--to",
                     rec.url + "/hook", "--patch", ".")
        assert result.exit_code == 0, result.stderr
        first = rec.wait(3)[0]
    assert first.body.startswith(b'{"type":"device.telemetry","timestamp":')
    assert first.headers["webhook-signature"].startswith("v1,Rrl2VL5t")


def test_an_edit_of_the_same_length_still_needs_a_key_for_a_captured_signature(
        cli, monkeypatch) -> None:
    # sensor-7 -> sensor-8: the length is unchanged, the captured signature no longer holds.
    patch = '.data.device |= sub("7"; "8")'
    with Recorder() as rec:
        refused = cli("replay", "--fixture", "generic/standard-webhooks", "--pick", "1",
                      "--to", rec.url + "/hook", "--patch", patch)
        assert refused.exit_code == 6, refused.stderr
        assert "no longer matches the changed body" in refused.stderr
        assert rec.requests == []
        secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
        monkeypatch.setenv("WK", secret)
        signed = cli("replay", "--fixture", "generic/standard-webhooks", "--pick", "1",
                     "--to", rec.url + "/hook", "--patch", patch,
                     "--sign", "standard-webhooks", "--sign-key-env", "WK")
        assert signed.exit_code == 0, signed.stderr
        (seen,) = rec.wait(1)
    assert json.loads(seen.body)["data"]["device"] == "sensor-8"
    assert standard_verify(secret, seen.headers, seen.body) is None


@pytest.mark.parametrize(("fixture", "patch", "says"), [
    ("pelion/notifications", ".notifications[0].ep = 5",
     "not a valid pelion delivery: notifications[0].ep"),
    (CIRCLE, "del(.eventType)", "not a valid circle delivery: not a Circle notification"),
    ("sigfox/uplinks", "[.time]", "not a valid sigfox delivery: a Sigfox JSON body must be"),
    ("pelion/notifications", ".notifications[]", "more than one body"),
    ("pelion/notifications", "empty", "gave no body"),
    ("pelion/notifications", ".notifications + 1", "jq: "),
])
def test_a_patch_the_platform_would_refuse_is_a_file_line_error(
        cli, monkeypatch, fixture: str, patch: str, says: str) -> None:
    monkeypatch.setenv("CK", KEY)
    with Recorder() as rec:
        result = cli("replay", "--fixture", fixture, "--sign-key-env", "CK", "--to",
                     rec.url + "/hook", "--patch", patch)
        assert result.exit_code == 2, result.stderr
        assert result.stderr.startswith(f"error: fixture {fixture}:1: --patch {patch!r}: ")
        assert says in result.stderr and "Traceback" not in result.stderr
        assert rec.requests == []


def test_a_bad_expression_is_exit_2_with_jq_message_and_the_expression(cli) -> None:
    result = cli("replay", "--fixture", CIRCLE, "--to", "http://127.0.0.1:9/",
                 "--patch", ".eventData |")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --patch '.eventData |': syntax error")


def test_a_body_that_is_not_json_cannot_be_patched_or_is_skipped(cli, tmp_path: Path) -> None:
    form = "device=1A2B3C&time=1763888400&data=0a1b&seqNumber=7"
    src = capture(tmp_path / "s.jsonl", "sigfox", [
        ("application/x-www-form-urlencoded", form),
        ("application/json", json.dumps({"device": "1A2B3C", "data": "0a1b", "time": 1}))])
    with Recorder() as rec:
        result = cli("replay", str(src), "--to", rec.url, "--patch", '.device = "X"')
        assert result.exit_code == 2
        assert (f"{src}:1: --patch '.device = \"X\"': only JSON bodies can be patched; this "
                "one is application/x-www-form-urlencoded") in result.stderr
        assert rec.requests == []
        skipped = cli("replay", str(src), "--to", rec.url, "--patch", '.device = "X"',
                      "--skip-invalid", "-o", "json")
        assert skipped.exit_code == 0, skipped.stderr
        report = skipped.json()
        assert (report["invalid"], report["deliveries"]) == (1, 1)
        assert "device=X" in rec.wait(1)[0].body.decode()


def test_dry_run_shows_the_size_after_the_patch(cli) -> None:
    args = ("replay", "--fixture", "iottly/telemetry", "--pick", "1")
    patch = ("--patch", '.msg.payload.note = "0123456789"')
    with Recorder() as rec:
        plain = cli(*args, "--dry-run", "--to", rec.url)
        planned = cli(*args, *patch, "--dry-run", "--to", rec.url)
        assert plain.exit_code == planned.exit_code == 0, planned.stderr
        assert rec.requests == []
        sent = cli(*args, *patch, "--to", rec.url)
        assert sent.exit_code == 0, sent.stderr
        (seen,) = rec.wait(1)
    assert json.loads(seen.body)["msg"]["payload"]["note"] == "0123456789"
    assert json.loads(planned.stdout)["body_bytes"] == len(seen.body)
    assert json.loads(plain.stdout)["body_bytes"] < len(seen.body)


# -- bad input -------------------------------------------------------------------------------
def test_a_line_of_another_platform_is_a_file_line_error_or_skipped(cli, tmp_path: Path
                                                                     ) -> None:
    src = tmp_path / "mixed.jsonl"
    lines: list[dict[str, Any]] = [
        {"v": 1, "provider": "iottly", "source": "callback", "at": "2026-11-23T09:00:00Z",
         "body": json.dumps({"msg": {"from": f"d{n}", "payload": n}})} for n in (1, 3)]
    lines.insert(1, {"v": 1, "provider": "pelion", "source": "callback",
                     "at": "2026-11-23T09:00:00Z", "body": '{"notifications":[]}'})
    src.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with Recorder() as rec:
        result = cli("replay", str(src), "--to", rec.url)
        assert result.exit_code == 2
        assert f"{src}:2: a pelion delivery, but this replay sends by iottly's rules" \
            in result.stderr
        skipped = cli("replay", str(src), "--to", rec.url, "--skip-invalid", "-o", "json")
        assert skipped.exit_code == 0, skipped.stderr
        assert (skipped.json()["invalid"], skipped.json()["deliveries"]) == (1, 2)
        chosen = cli("replay", str(src), "--to", rec.url, "--provider", "iottly")
        assert chosen.exit_code == 0, chosen.stderr  # asked for: every line by iottly's rules
        assert len(rec.wait(5)) == 5


@pytest.mark.parametrize("option", ["--speed", "--rate"])
def test_speed_or_rate_that_is_not_a_number_exit_2_naming_the_option(cli, option: str) -> None:
    result = cli("replay", "--fixture", "iottly/telemetry", "--to", "http://127.0.0.1:9/",
                 option, "nan")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {option} nan: must be greater than 0")


def test_thingspace_rest_bodies_are_patched_and_soap_ones_cannot_be(cli, tmp_path: Path
                                                                     ) -> None:
    rest = json.dumps({"username": "u", "password": "p", "requestId": "r-1",
                       "deviceIds": [{"id": "22211315718", "kind": "ESN"}],
                       "deviceResponse": {"status": "ok"}, "callbackCount": 1,
                       "maxCallbackThreshold": 4})
    soap = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            '<CallbackRequest xmlns="http://nphase.com/unifiedwebservice/v2"><Username>u'
            '</Username><Password>p</Password><RequestId>r-2</RequestId></CallbackRequest>'
            '</s:Body></s:Envelope>')
    src = capture(tmp_path / "t.jsonl", "thingspace",
                  [("application/json", rest), ("text/xml; charset=utf-8", soap)])
    patch = '.deviceIds[0].id = "999"'
    planned = cli("replay", str(src), "--to", "http://127.0.0.1:9/", "--patch", patch,
                  "--skip-invalid", "--dry-run")
    assert planned.exit_code == 0, planned.stderr
    assert [line["where"] for line in map(json.loads, planned.stdout.splitlines())] == [
        f"{src}:1"]
    assert f"skipped: {src}:2: --patch" in planned.stderr
    assert "this one is text/xml" in planned.stderr
    with Recorder() as rec:
        result = cli("replay", str(src), "--to", rec.url, "--patch", patch, "--pick", "1")
        assert result.exit_code == 0, result.stderr
        (seen,) = rec.wait(1)
    assert json.loads(seen.body)["deviceIds"][0]["id"] == "999"
