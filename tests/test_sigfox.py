"""Sigfox: callback spec and template checks, the client against the emulator on a real port,
delivery decoding/rendering round trips, BIDIR answers, and the decoder on arbitrary bytes."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from aioserve import serve
from hypothesis import given, settings
from hypothesis import strategies as st

from notifyctl.errors import AuthError, InvalidRequest, NotFoundError, UsageError, WireError
from notifyctl.headers import parse_headers
from notifyctl.http import NetOptions
from notifyctl.providers.sigfox import templates, wire
from notifyctl.providers.sigfox.api import SigfoxClient
from notifyctl.providers.sigfox.emulator import SigfoxEmulator
from notifyctl.providers.sigfox.spec import TYPES, CallbackSpec

NET = NetOptions(timeout=5, retries=0)
JSON_BODY = '{"device": "{device}", "time": {time}, "data": "{data}", "seqNumber": {seqNumber}}'


# -- spec and templates ----------------------------------------------------------------------
@pytest.mark.parametrize(("name", "codes"), [
    ("data/uplink", (0, 2)), ("data/bidir", (0, 3)), ("error", (2, 0)),
    ("service/status", (1, 0)), ("service/geoloc", (1, 1)), ("service/ack", (1, 4)),
    ("service/data-advanced", (1, 6)),
])
def test_type_codes(name: str, codes: tuple[int, int]) -> None:
    body = CallbackSpec(type=name, url="https://h/cb?d={device}", method="GET").body()
    assert (body["callbackType"], body["callbackSubtype"]) == codes
    assert TYPES[name] == codes


def test_unknown_variable_lists_the_valid_ones() -> None:
    spec = CallbackSpec(type="service/status", url="https://h/cb",
                        body_template='{"d": "{data}"}')
    with pytest.raises(UsageError) as info:
        spec.body()
    text = str(info.value)
    assert "--body-template: unknown variable {data}" in text
    assert "{temp}" in text and "{batt}" in text and "{device}" in text


def test_custom_data_needs_payload_config() -> None:
    spec = CallbackSpec(url="https://h/cb", body_template="{customData#temp}")
    with pytest.raises(UsageError, match="customData#temp"):
        spec.body()
    spec.payload_config = "temp:0:int:16:big-endian ok::bool:7"
    assert spec.body()["payloadConfig"] == "temp:0:int:16:big-endian ok::bool:7"
    with pytest.raises(UsageError, match="payload-config"):
        templates.payload_config_fields("temp:0:double")


@pytest.mark.parametrize(("spec", "message"), [
    (CallbackSpec(type="data/nope", url="https://h"), "--type"),
    (CallbackSpec(channel="ftp", url="https://h"), "--channel"),
    (CallbackSpec(url="ftp://h"), "not an http"),
    (CallbackSpec(url="https://h", method="PATCH"), "--method"),
    (CallbackSpec(url="https://h", method="GET", body_template="x"), "POST or PUT"),
    (CallbackSpec(channel="batch_url", url="https://h"), "--line-pattern"),
    (CallbackSpec(url="https://h", line_pattern="{device}"), "batch_url"),
    (CallbackSpec(url="https://h", headers={"Content-Type": "x"}), "standard headers"),
    (CallbackSpec(url="https://h", headers={"X-Dev": "{nope}"}), "--header X-Dev"),
    (CallbackSpec(url="https://h", content_type="text/html"), "--content-type"),
    (CallbackSpec(type="service/data-advanced", url="https://h", body_template="{lqi}"),
     "JSON only"),
    (CallbackSpec(type="error", url="https://h", payload_config="a:0:uint:8"), "data callbacks"),
    (CallbackSpec(channel="email"), "recipient"),
])
def test_bad_specs(spec: CallbackSpec, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        spec.body()


def test_headers_option_parsing() -> None:
    assert parse_headers(["Authorization: Basic {device}", "X-A:b"]) == {
        "Authorization": "Basic {device}", "X-A": "b"}
    with pytest.raises(UsageError, match="Name: value"):
        parse_headers(["no colon"])


# -- the client against the emulator ---------------------------------------------------------
def _run(job: Any) -> Any:
    return asyncio.run(job)


async def _with_client(emulator: SigfoxEmulator, body: Any,
                       credentials: tuple[str, str] = ("login", "pw")) -> None:
    async with serve(emulator.install) as url, \
            SigfoxClient(url + "/v2", *credentials, net=NET) as client:
        await body(client)


def test_round_trip_against_emulator() -> None:
    emulator = SigfoxEmulator(credentials=("login", "pw"), device_types={"dt1"})

    async def body(client: SigfoxClient) -> None:
        url_cb = await client.create("dt1", CallbackSpec(
            type="data/bidir", url="https://h/cb?dev={device}", headers={"X-Seq": "{seqNumber}"},
            body_template=JSON_BODY, content_type="application/json", send_duplicate=True))
        batch_cb = await client.create("dt1", CallbackSpec(
            channel="batch_url", url="https://h/batch", line_pattern="{device};{time};{data};"))
        rows = {row["id"]: row for row in await client.list_callbacks("dt1")}
        assert rows[url_cb]["type"] == "data/bidir" and rows[url_cb]["channel"] == "url"
        assert rows[batch_cb]["channel"] == "batch_url"
        assert all(row["enabled"] and not row["dead"] for row in rows.values())

        await client.disable("dt1", url_cb)
        emulator.mark_dead("dt1", batch_cb)
        await client.select_downlink("dt1", url_cb)
        rows = {row["id"]: row for row in await client.list_callbacks("dt1")}
        assert rows[url_cb]["enabled"] is False and rows[url_cb]["downlink"] is True
        assert rows[batch_cb]["dead"] is True
        await client.enable("dt1", url_cb)
        assert (await client.list_callbacks("dt1"))[0]["enabled"] is True

        emulator.record_undelivered("dt1", url_cb, device="1A2B", status=500, message="boom")
        errors = await client.not_delivered("dt1", limit=10)
        assert [(e["callbackId"], e["status"]) for e in errors] == [(url_cb, 500)]

        with pytest.raises(InvalidRequest, match="only a DATA/BIDIR"):
            await client.select_downlink("dt1", batch_cb)
        await client.delete("dt1", url_cb)
        await client.delete("dt1", batch_cb)
        assert await client.list_callbacks("dt1") == []
        with pytest.raises(NotFoundError):
            await client.delete("dt1", url_cb)
        with pytest.raises(NotFoundError, match="device type"):
            await client.list_callbacks("other")

    _run(_with_client(emulator, body))


def test_emulator_refuses_what_sigfox_would() -> None:
    emulator = SigfoxEmulator()

    async def body(client: SigfoxClient) -> None:
        bad = {"channel": "URL", "callbackType": 1, "callbackSubtype": 0, "enabled": True,
               "sendDuplicate": False, "url": "https://h/{data}"}
        with pytest.raises(InvalidRequest, match=r"unknown variable \{data\}"):
            await client.create("dt", bad)
        with pytest.raises(InvalidRequest, match="callbackType"):
            await client.create("dt", {**bad, "callbackType": 9, "url": "https://h"})
        with pytest.raises(InvalidRequest, match="enabled is required"):
            await client.create("dt", {"channel": "URL", "callbackType": 0,
                                       "callbackSubtype": 2})

    _run(_with_client(emulator, body))


def test_wrong_credentials_are_an_auth_error() -> None:
    emulator = SigfoxEmulator(credentials=("login", "pw"))

    async def body(client: SigfoxClient) -> None:
        with pytest.raises(AuthError, match="HTTP 401"):
            await client.list_callbacks("dt")

    _run(_with_client(emulator, body, ("login", "wrong")))


# -- delivery decoding and rendering ---------------------------------------------------------
MESSAGE = wire.message_fields("1A2B3C", 42, "0a0b0c0d", time=1700000000, device_type_id="dt1")


def test_render_then_decode_json_form_get_and_batch() -> None:
    cb = CallbackSpec(url="https://h/cb?dev={device}&x={station}", body_template=JSON_BODY,
                      content_type="application/json").body()
    sent = wire.render_request(cb, MESSAGE)
    assert sent.method == "POST" and sent.headers["Content-Type"] == "application/json"
    assert urlsplit(sent.url).query == "dev=1A2B3C&x=0A1B"
    [event] = wire.decode(sent.body, content_type="application/json")
    assert (event.kind, event.device, event.payload, event.id) == (
        "data/uplink", "1A2B3C", "0a0b0c0d", "1A2B3C:42")
    assert event.time == "2023-11-14T22:13:20.000Z"

    status_cb = CallbackSpec(type="service/status", url="https://h",
                             body_template="device={device}&temp={temp}&batt={batt}").body()
    assert status_cb["contentType"] == wire.FORM
    form = wire.render_request(status_cb, {**MESSAGE, "temp": 21, "batt": 3.1})
    [status] = wire.decode(form.body, content_type=wire.FORM)
    assert status.kind == "service/status" and status.raw["batt"] == "3.1"

    get = wire.render_request(CallbackSpec(url="https://h/g?device={device}&data={data}&"
                                           "seqNumber={seqNumber}", method="GET").body(), MESSAGE)
    assert get.body == b""
    [from_query] = wire.decode(b"", query=urlsplit(get.url).query)
    assert from_query.device == "1A2B3C" and from_query.payload == "0a0b0c0d"

    pattern = "{device};{time};{data};"
    second = {**MESSAGE, "device": "FFFF", "seqNumber": 43}
    batch = wire.render_batch({"url": "https://h/b", "linePattern": pattern}, [MESSAGE, second])
    events = wire.decode(batch.body, line_pattern=pattern, kind="data/uplink")
    assert [e.device for e in events] == ["1A2B3C", "FFFF"]
    assert [e.payload for e in events] == ["0a0b0c0d", "0a0b0c0d"]


def test_render_reports_a_missing_variable() -> None:
    with pytest.raises(WireError, match=r"\{temp\}"):
        wire.render_request({"url": "https://h/{temp}", "httpMethod": "GET"}, MESSAGE)


@pytest.mark.parametrize(("body", "kwargs", "message"), [
    (b"\xff\xfe", {}, "not UTF-8"),
    (b'{"device": 1,', {"content_type": "application/json"}, "malformed JSON"),
    (b"[1, 2]", {"content_type": "application/json"}, r"body\[0\]"),
    (b'{"device": "A", "time": "yesterday"}', {}, "time"),
    (b"A;B\nC", {"line_pattern": "{device};{data}"}, "line 2"),
    (b"a=1&&b", {"content_type": wire.FORM}, "malformed form"),
])
def test_malformed_deliveries(body: bytes, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(WireError, match=message):
        wire.decode(body, **kwargs)


def test_bidir_answers() -> None:
    answer = wire.bidir_answer({"1A2B": "0011223344556677", "FFFF": None})
    assert json.loads(answer) == {"1A2B": {"downlinkData": "0011223344556677"},
                                  "FFFF": {"noData": True}}
    parsed = wire.parse_bidir_answer(200, answer, "application/json", devices=["1A2B"])
    assert parsed == {"1A2B": "0011223344556677"}
    assert wire.parse_bidir_answer(204, b"") == {}
    for bad in ("00112233445566", "001122334455667g", "00112233445566778"):
        with pytest.raises(WireError, match="16 hex"):
            wire.parse_bidir_answer(200, json.dumps({"D": {"downlinkData": bad}}).encode(),
                                    "application/json")
    with pytest.raises(WireError, match="Content-Type"):
        wire.parse_bidir_answer(200, answer, "text/plain")
    with pytest.raises(WireError, match="not 2xx"):
        wire.parse_bidir_answer(500, b"")
    with pytest.raises(WireError, match="16 hex"):
        wire.bidir_answer({"D": "xyz"})


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=300),
       content_type=st.sampled_from([None, "application/json", wire.FORM, "text/plain"]),
       pattern=st.sampled_from([None, "{device};{time};{data}", "{device}"]),
       query=st.text(max_size=30))
def test_decoder_on_any_bytes(body: bytes, content_type: str | None, pattern: str | None,
                              query: str) -> None:
    try:
        events = wire.decode(body, content_type=content_type, line_pattern=pattern, query=query)
    except WireError:
        return
    assert all(event.provider == "sigfox" for event in events)
