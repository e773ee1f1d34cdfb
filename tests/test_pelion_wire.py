"""The Pelion NotificationMessage codec: every kind, payload rendering, errors, chunking.

Message bodies are the shapes of protocols/pelion.md section 3 (KAFKA, S21 and PY examples);
TLV payloads are built by hand from the header bits (see test_pelion_tlv.py for the breakdown).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifyctl.errors import UsageError, WireError
from notifyctl.events import Event, encode_jsonl
from notifyctl.providers.pelion import wire

EP = "01767982c9250000000000010011579e"
UID = "0d8e08c3-2311-4ede-aa53-fdaff2b3fad3"
AT = "2026-11-23T09:00:00.000Z"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def body(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def note(**fields: Any) -> dict[str, Any]:
    """A notification item with the usual fields, overridable (None removes one)."""
    item = {"ep": EP, "path": "/3200/0/5501", "ct": "text/plain", "payload": "NDA2",
            "max-age": 0, "uid": UID, "timestamp": 1614180566644, "original-ep": "dev-1"}
    item.update(fields)
    return {key: value for key, value in item.items() if value is not None}


def one(item: dict[str, Any] | str, key: str = "notifications") -> Event:
    [event] = wire.decode(body({key: [item]}), received_at=AT)
    return event


# ---- every kind ----------------------------------------------------------------------------


def test_notification() -> None:
    event = one(note())
    assert event.provider == "pelion"
    assert event.kind == "notification"
    assert event.device == EP
    assert event.id == UID
    assert event.path == "/3200/0/5501"
    assert event.payload == "406"
    assert event.payload_b64 is None
    assert event.content_type == "text/plain"
    assert event.time == "2021-02-24T15:29:26.644Z"
    assert msgspec.json.decode(event.raw) == note()


def test_registration_and_reg_update() -> None:
    item = {"ep": "015f3850a657000000000001001002ab", "original-ep": "my-device-123",
            "ept": "Light", "q": False, "uid": "r-1",
            "resources": [{"path": "/sen/light", "ct": "text/plain", "obs": True,
                           "rt": "light_sensor", "if": "sensor"}]}
    events = wire.decode(body({"registrations": [item], "reg-updates": [item]}), received_at=AT)
    assert [e.kind for e in events] == ["registration", "reg-update"]
    for event in events:
        assert event.device == "015f3850a657000000000001001002ab"  # the ep, not original-ep
        assert event.id == "r-1"
        assert event.time == AT  # no timestamp: the receive time
        assert msgspec.json.decode(event.raw) == item


def test_registration_timestamp_as_string() -> None:
    event = one({"ep": "e", "timestamp": "1614180566644"}, "registrations")
    assert event.time == "2021-02-24T15:29:26.644Z"


@pytest.mark.parametrize("key", ["de-registrations", "registrations-expired"])
def test_gone_devices_as_strings(key: str) -> None:
    events = wire.decode(body({key: ["a", "b"]}), received_at=AT)
    assert [(e.kind, e.device, e.time, e.id) for e in events] == [
        (wire.KINDS[key], "a", AT, None), (wire.KINDS[key], "b", AT, None)]
    assert events[0].raw == msgspec.Raw(b'"a"')


@pytest.mark.parametrize("key", ["de-registrations", "registrations-expired"])
def test_gone_devices_as_objects(key: str) -> None:
    item = {"ep": "015f3850", "uid": "u-9", "timestamp": 1614180566644, "original-ep": "dev"}
    event = one(item, key)
    assert (event.kind, event.device, event.id) == (wire.KINDS[key], "015f3850", "u-9")
    assert event.time == "2021-02-24T15:29:26.644Z"


def test_async_responses() -> None:
    ok = {"id": "123e4567-e89b-12d3-a456-426655440000", "status": 200,
          "payload": "dmFsdWUxCg==", "ct": "text/plain", "max-age": 600}
    failed = {"id": "123e4567-e89b-12d3-a456-426655440001", "status": 504, "error": "TIMEOUT"}
    first, second = wire.decode(body({"async-responses": [ok, failed]}), received_at=AT)
    assert (first.kind, first.id, first.status, first.payload) == (
        "async-response", ok["id"], 200, "value1\n")
    assert (second.id, second.status, second.payload, second.payload_b64) == (
        failed["id"], 504, None, None)
    assert first.device is None
    assert second.time == AT


def test_events_follow_document_order_across_arrays() -> None:
    message = {"de-registrations": ["gone"], "notifications": [note(uid="n1"), note(uid="n2")],
               "registrations": [{"ep": "new"}]}
    kinds = [(e.kind, e.device if e.kind != "notification" else e.id)
             for e in wire.decode(body(message))]
    assert kinds == [("de-registration", "gone"), ("notification", "n1"),
                     ("notification", "n2"), ("registration", "new")]


def test_unknown_top_level_keys_are_ignored_whatever_their_shape() -> None:
    message = {"future": {"x": 1}, "notifications": [note(uid="a")], "count": 3,
               "registrations": [{"ep": "r"}], "also": "text", "empty": None}
    events = wire.decode(body(message))
    assert [e.kind for e in events] == ["notification", "registration"]


def test_empty_and_null_arrays() -> None:
    assert wire.decode(b"{}") == []
    assert wire.decode(b'{"notifications":[],"registrations":null}') == []


def test_str_body_and_whitespace() -> None:
    text = json.dumps({"notifications": [note()]}, indent=2)
    [event] = wire.decode(text)
    assert event.payload == "406"
    assert b"\n" in bytes(event.raw)  # raw is the item exactly as received


# ---- numbers or strings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (1614180566644, "2021-02-24T15:29:26.644Z"),
        ("1614180566644", "2021-02-24T15:29:26.644Z"),
        (1614180566644.0, "2021-02-24T15:29:26.644Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        ("2021-02-24T15:29:26.644Z", "2021-02-24T15:29:26.644Z"),
        ("2021-02-24T16:29:26+01:00", "2021-02-24T15:29:26.000Z"),
        ("2021-02-24T15:29:26", "2021-02-24T15:29:26.000Z"),  # no zone: UTC
        (None, AT),
    ],
)
def test_timestamps(stamp: Any, expected: str) -> None:
    assert one(note(timestamp=stamp)).time == expected


def test_timestamps_sharing_a_millisecond_and_missing_ones() -> None:
    items = [note(timestamp=5), note(timestamp=5), note(timestamp=None), note(timestamp=1005)]
    times = [e.time for e in wire.decode(body({"notifications": items}), received_at=AT)]
    assert times == ["1970-01-01T00:00:00.005Z", "1970-01-01T00:00:00.005Z", AT,
                     "1970-01-01T00:00:01.005Z"]


def test_no_received_at_means_no_time() -> None:
    [event] = wire.decode(body({"notifications": [note(timestamp=None)]}))
    assert event.time is None


@pytest.mark.parametrize("max_age", [0, "0", 600, "600", 1.5, None])
def test_max_age_number_or_string(max_age: Any) -> None:
    assert one(note(**{"max-age": max_age})).payload == "406"


# ---- payloads --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ct",
    ["text/plain", "text/plain; charset=utf-8", "TEXT/CSV", "application/json",
     "application/senml+json", "application/vnd.oma.lwm2m+json", "application/xml",
     "application/link-format"],
)
def test_text_payloads(ct: str) -> None:
    event = one(note(ct=ct, payload=b64('{"v": "żółw"}'.encode())))
    assert event.payload == '{"v": "żółw"}'
    assert event.payload_b64 is None


def test_text_type_with_invalid_utf8_keeps_base64() -> None:
    event = one(note(payload=b64(b"\xff\xfe")))
    assert (event.payload, event.payload_b64) == (None, "//4=")


@pytest.mark.parametrize("ct", ["application/octet-stream", "application/cbor", None])
def test_binary_payloads_stay_base64(ct: str | None) -> None:
    event = one(note(ct=ct, payload=b64(b"406")))
    assert (event.payload, event.payload_b64) == (None, "NDA2")


def test_no_payload() -> None:
    event = one(note(payload=None))
    assert (event.payload, event.payload_b64) == (None, None)


def test_empty_payload_is_empty_text() -> None:
    assert one(note(payload="")).payload == ""


# Object instance 0 of the Device object: resource 0 "Acme", multiple resource 6 with
# instances 0 = 1 and 1 = 5, a 16-bit id resource 300 = 0x0196 (406).
TLV = bytes.fromhex(
    "08 00 16"  # 00 0 01 000: object instance 0, 8-bit length 22
    "C4 00 41 63 6D 65"  # 11 0 00 100: resource 0, 4 bytes "Acme"
    "86 06 41 00 01 41 01 05"  # 10 0 00 110: multiple resource 6, 6 bytes
    "E2 01 2C 01 96"  # 11 1 00 010: resource 300 (16-bit id), 2 bytes
    "C1 09 64"  # resource 9, 1 byte: 100
)


@pytest.mark.parametrize("ct", ["application/vnd.oma.lwm2m+tlv", "application/nanoservice-tlv",
                                "application/vnd.oma.lwm2m+TLV"])
def test_tlv_payload(ct: str) -> None:
    event = one(note(ct=ct, payload=b64(TLV)))
    assert event.payload_b64 == b64(TLV)
    assert event.payload == [{"type": "object-instance", "id": 0, "children": [
        {"type": "resource", "id": 0, "hex": "41636d65", "value": "Acme", "int": 0x41636D65},
        {"type": "multiple-resource", "id": 6, "children": [
            {"type": "resource-instance", "id": 0, "hex": "01", "value": 1},
            {"type": "resource-instance", "id": 1, "hex": "05", "value": 5}]},
        {"type": "resource", "id": 300, "hex": "0196", "value": 406},
        {"type": "resource", "id": 9, "hex": "64", "value": 100},
    ]}]
    line = json.loads(encode_jsonl([event]))
    assert line["payload"][0]["children"][2]["value"] == 406


def test_malformed_tlv_payload_keeps_base64() -> None:
    event = one(note(ct="application/vnd.oma.lwm2m+tlv", payload=b64(TLV[:-1])))
    assert (event.payload, event.payload_b64) == (None, b64(TLV[:-1]))


# ---- errors name the array, index and field --------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"", "malformed JSON"),
        (b'{"notifications": [', "malformed JSON"),
        (b"[]", "top level: expected `object`, got `array`"),
        (b'"text"', "top level: expected `object`, got `str`"),
        (b'{"notifications": {}}', "notifications: expected an array"),
        (b'{"x": 1, "registrations": "ep"}', "registrations: expected an array"),
        (body({"notifications": [note(), note(), note(), note(payload="@@@@")]}),
         "notifications[3].payload: not base64"),
        (body({"notifications": [note(payload="NDA")]}), "notifications[0].payload: not base64"),
        (body({"notifications": [note(payload="ż")]}), "notifications[0].payload: not base64"),
        (body({"notifications": [note(ep=None)]}), "notifications[0].ep: missing"),
        (body({"notifications": [note(path=None)]}), "notifications[0].path: missing"),
        (body({"notifications": [note(path=5)]}),
         "notifications[0].path: expected `str`, got `int`"),
        (body({"notifications": [note(timestamp=True)]}), "notifications[0].timestamp: expected"),
        (body({"notifications": [note(timestamp="yesterday")]}),
         "notifications[0].timestamp: not a time"),
        (body({"notifications": [note(timestamp="--5")]}),
         "notifications[0].timestamp: not a time"),
        (body({"notifications": [note(timestamp="²")]}), "notifications[0].timestamp: not a time"),
        (body({"notifications": [note(timestamp="9" * 30)]}),
         "notifications[0].timestamp: not a time"),
        (body({"notifications": [note(timestamp=10**20)]}),
         "notifications[0].timestamp: out of range"),
        (body({"notifications": [note(**{"max-age": [1]})]}), "notifications[0].max-age: expected"),
        (body({"notifications": ["ep"]}), "notifications[0]: expected `object`, got `str`"),
        (body({"registrations": [{"ep": "a"}, {"ept": "x"}]}), "registrations[1].ep: missing"),
        (body({"reg-updates": [{"ep": "a", "resources": [1]}]}),
         "reg-updates[0].resources[0]: expected `object`, got `int`"),
        (body({"de-registrations": ["a", 7]}), "de-registrations[1]: expected `str | object`"),
        (body({"registrations-expired": [{"uid": "x"}]}), "registrations-expired[0].ep: missing"),
        (body({"async-responses": [{"id": "1", "status": "200"}]}),
         "async-responses[0].status: expected `int | null`, got `str`"),
        (body({"async-responses": [{"status": 200}]}), "async-responses[0].id: missing"),
        (body({"async-responses": [{"id": "1", "payload": "!"}]}),
         "async-responses[0].payload: not base64"),
        (b'{"notifications": [' + b"[" * 5000 + b"]" * 5000 + b"]}", "nested too deeply"),
        (b'{"notifications": [{"ep": "\xff", "path": "/"}]}',
         "notifications[0]: a string is not valid UTF-8"),
        (b'{"\xff": 1}', "a string is not valid UTF-8"),
    ],
)
def test_errors_name_the_field(message: bytes, expected: str) -> None:
    with pytest.raises(WireError) as caught:
        wire.decode(message)
    assert expected in str(caught.value)
    with pytest.raises(WireError):  # items() validates the same way
        wire.items(message)


def test_nan_timestamp() -> None:
    with pytest.raises(WireError, match=r"notifications\[0\]\.timestamp"):
        wire.decode(b'{"notifications":[{"ep":"e","path":"/","timestamp":1e999}]}')


# ---- items, encode, chunking -----------------------------------------------------------------


def flatten(messages: list[bytes]) -> list[tuple[str, Any]]:
    return [pair for message in messages for pair in wire.items(message)]


def test_items_keep_raw_bytes_and_order() -> None:
    message = b'{"registrations":[{"ep":"r", "q":false}],"notifications":[{"ep":"e","path":"/"}]}'
    assert wire.items(message) == [
        ("registrations", msgspec.Raw(b'{"ep":"r", "q":false}')),
        ("notifications", msgspec.Raw(b'{"ep":"e","path":"/"}')),
    ]


@pytest.mark.parametrize("message", [
    b'{"registrations":[{"ep":"r", "q":false}],"notifications":[{"ep":"e","path":"/"}]}',
    b'{"x": "not an array", "notifications": [], "de-registrations": ["a", {"ep": "b"}]}',
    b'{"notifications": null, "async-responses": [{"id": "1", "status": 200}]}',
    b"{}",
])
def test_count_is_the_number_of_items_types_checked(message: bytes) -> None:
    assert wire.count(message) == len(wire.items(message, check="types"))


@pytest.mark.parametrize("message", [
    b"[]", b'{"notifications": {}}', b'{"notifications": [{"ep": "e", "path": 5}]}',
    b'{"registrations": [{"ept": "x"}]}', b'{"notifications": [', b'{"de-registrations": [7]}',
])
def test_count_refuses_what_items_refuses(message: bytes) -> None:
    with pytest.raises(WireError) as counted:
        wire.count(message)
    with pytest.raises(WireError) as listed:
        wire.items(message, check="types")
    assert str(counted.value) == str(listed.value)


@pytest.mark.parametrize(
    ("count", "size", "expected"),
    [(0, 3, []), (1, 3, [1]), (3, 3, [3]), (4, 3, [3, 1]), (6, 3, [3, 3]), (7, 3, [3, 3, 1]),
     (5, 1, [1, 1, 1, 1, 1])],
)
def test_encode_chunks_at_exactly_max_chunk_size(count: int, size: int,
                                                 expected: list[int]) -> None:
    pairs = [("notifications", note(uid=str(i))) for i in range(count)]
    messages = list(wire.encode(pairs, max_chunk_size=size))
    assert [len(wire.items(m)) for m in messages] == expected
    for message in messages:
        assert list(json.loads(message)) == ["notifications"]  # one shared array
        assert b" " not in message  # compact
    assert [e.id for m in messages for e in wire.decode(m)] == [str(i) for i in range(count)]


def test_encode_starts_a_message_when_a_key_would_repeat() -> None:
    pairs = [("notifications", note(uid="1")), ("notifications", note(uid="2")),
             ("de-registrations", "gone"), ("notifications", note(uid="3")),
             ("registrations", {"ep": "r"})]
    messages = list(wire.encode(pairs, max_chunk_size=10))
    assert [list(json.loads(m)) for m in messages] == [
        ["notifications", "de-registrations"], ["notifications", "registrations"]]
    assert [(e.kind, e.id or e.device) for m in messages for e in wire.decode(m)] == [
        ("notification", "1"), ("notification", "2"), ("de-registration", "gone"),
        ("notification", "3"), ("registration", "r")]


def test_encode_round_trips_raw_items_byte_for_byte() -> None:
    message = body({"notifications": [note(uid=str(i)) for i in range(25)],
                    "de-registrations": ["a", "b"],
                    "async-responses": [{"id": "x", "status": 200}]})
    pairs = wire.items(message)
    assert list(wire.encode(pairs, max_chunk_size=10000)) == [message]
    messages = list(wire.encode(pairs, max_chunk_size=10))
    assert [len(wire.items(m)) for m in messages] == [10, 10, 8]  # 25 + 2 + 1 items
    assert flatten(messages) == pairs
    assert [e for m in messages for e in wire.decode(m, received_at=AT)] == wire.decode(
        message, received_at=AT)


def test_encode_rejects_bad_arguments() -> None:
    with pytest.raises(UsageError, match="max_chunk_size"):
        list(wire.encode([("notifications", {})], max_chunk_size=0))
    with pytest.raises(UsageError, match="'pings'"):
        list(wire.encode([("pings", {})]))
    with pytest.raises(UsageError, match="cannot encode"):
        list(wire.encode([("notifications", object())]))


def test_event_from_item() -> None:
    event = wire.event_from_item("notifications", note(), received_at=AT)
    assert event.payload == "406"
    assert msgspec.json.decode(event.raw) == note()
    [(key, raw)] = wire.items(body({"de-registrations": ["gone"]}))
    assert wire.event_from_item(key, raw, received_at=AT) == Event(
        "pelion", "de-registration", "gone", AT, raw=msgspec.Raw(b'"gone"'))
    with pytest.raises(WireError, match=r"notifications item\.payload: not base64"):
        wire.event_from_item("notifications", note(payload="%"))
    with pytest.raises(WireError, match="pings: not a NotificationMessage array"):
        wire.event_from_item("pings", {})
    with pytest.raises(WireError, match="not JSON data"):
        wire.event_from_item("notifications", {1j})


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"", True), (b"{}", True), (b" { }\r\n", True), ("{}", True), (b"\n", True),
     (b'{"notifications":[]}', False), (b"[]", False), (b"{", False), (b"null", False),
     (b'{"a":1}', False), (b"{" + b" " * 100 + b"}", False), (b'{"\xff":1}', False)],
)
def test_is_verification(data: bytes | str, expected: bool) -> None:
    assert wire.is_verification(data) is expected


def test_encode_jsonl() -> None:
    message = body({"notifications": [note(uid="a"), note(uid="b", ct="application/cbor")],
                    "de-registrations": ["gone"]})
    out = encode_jsonl(wire.decode(message, received_at=AT))
    lines = [json.loads(line) for line in out.splitlines()]
    assert out.endswith(b"\n") and len(lines) == 3
    assert lines[0] == {"provider": "pelion", "kind": "notification", "device": EP,
                        "time": "2021-02-24T15:29:26.644Z", "id": "a", "path": "/3200/0/5501",
                        "payload": "406", "content_type": "text/plain", "raw": note(uid="a")}
    assert lines[1]["payload_b64"] == "NDA2" and "payload" not in lines[1]
    assert lines[2] == {"provider": "pelion", "kind": "de-registration", "device": "gone",
                        "time": AT, "raw": "gone"}
    assert encode_jsonl([]) == b""


# ---- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_wire_error(data: bytes) -> None:
    assert isinstance(wire.is_verification(data), bool)
    try:
        events = wire.decode(data)
    except WireError:
        return
    assert all(isinstance(event, Event) for event in events)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["ep", "path", "payload", "ct", "uid", "timestamp", "max-age", "id",
                         "status", "resources", "x"]), inner, max_size=5),
    max_leaves=10,
)
messages = st.dictionaries(st.sampled_from([*wire.KINDS, "other"]),
                           st.lists(json_values, max_size=3) | json_values, max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages)
def test_any_json_shape_decodes_or_raises_wire_error(message: dict[str, Any]) -> None:
    try:
        wire.decode(body(message))
    except WireError as exc:
        assert str(exc)


payload_cases = st.sampled_from([
    ("text/plain", b"406"), ("application/json", b'{"a":1}'), ("application/octet-stream",
                                                                  b"\x00\xff"),
    ("application/vnd.oma.lwm2m+tlv", TLV), (None, b"x"), ("text/plain", b"\xff"),
])
stamps = st.one_of(st.none(), st.integers(0, 4102444800000),
                   st.integers(0, 4102444800000).map(str))
notification_items = st.builds(
    lambda ep, uid, stamp, case: note(ep=ep, uid=uid, timestamp=stamp, ct=case[0],
                                      payload=b64(case[1])),
    st.text(min_size=1, max_size=6), st.text(max_size=6), stamps, payload_cases)
gone_items = st.text(max_size=6) | st.builds(
    lambda ep, stamp: {"ep": ep, "timestamp": stamp} if stamp is not None else {"ep": ep},
    st.text(max_size=6), stamps)
valid_pairs = st.lists(
    st.one_of(
        st.tuples(st.just("notifications"), notification_items),
        st.tuples(st.sampled_from(["registrations", "reg-updates"]),
                  st.builds(lambda ep: {"ep": ep, "resources": [{"path": "/1"}]}, st.text())),
        st.tuples(st.sampled_from(["de-registrations", "registrations-expired"]), gone_items),
        st.tuples(st.just("async-responses"),
                  st.builds(lambda i, s: {"id": i, "status": s}, st.text(), st.integers(100, 599))),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(valid_pairs, st.integers(1, 5))
def test_encode_of_items_round_trips(pairs: list[tuple[str, Any]], size: int) -> None:
    messages = list(wire.encode(pairs, max_chunk_size=size))
    assert all(len(wire.items(m)) <= size for m in messages)
    events = [e for m in messages for e in wire.decode(m, received_at=AT)]
    assert [(e.kind, msgspec.json.decode(e.raw)) for e in events] == [
        (wire.KINDS[key], item) for key, item in pairs]
    # And re-chunking what items() returns gives the same items, byte for byte.
    raw_pairs = flatten(messages)
    assert flatten(list(wire.encode(raw_pairs, max_chunk_size=size + 1))) == raw_pairs


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_decodes_or_raises_wire_error(text: str) -> None:
    for candidate in (text, '{"notifications":[{"ep":"' + text + '","path":"/"}]}'):
        try:
            wire.decode(candidate)
        except WireError as exc:
            assert str(exc)
        assert isinstance(wire.is_verification(candidate), bool)


def test_lone_surrogate_text() -> None:
    with pytest.raises(WireError, match="not UTF-8 text at character 1"):
        wire.decode('{\ud800}')
