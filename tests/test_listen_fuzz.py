"""Property: nothing a sender can put in a request (method, path, query, headers, body) makes any
``listen`` handler raise or answer 5xx, with or without its check configured. A 5xx makes
platforms retry for days; a raise is a 500. The bulk drives handlers directly; a smaller run
sends raw bytes through a real listener (non-UTF-8 headers included) to cover the server path,
where the only 5xx are the documented 503s (capture write failed, shutting down).

The receivers come from the registry: every registered platform with a receiver is fuzzed with
and without its key and with and without its own ``listen`` options, so a new platform is
covered without an edit here."""

from __future__ import annotations

import base64
import json
import socket
import string
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from notifyctl import registry
from notifyctl.contract import Opt
from notifyctl.contract.receive import Handler, Request
from notifyctl.errors import UsageError
from notifyctl.events import read_capture
from notifyctl.listen import BackgroundListener, Settings
from notifyctl.listen.handlers import make_handler
from notifyctl.listen.server import ListenDelivery, Receiver
from notifyctl.listen.view import NullSink, Seen, lines_of
from notifyctl.providers.circle.signing import circle_sign
from notifyctl.signing import standard_sign

KEY = "whsec_" + base64.b64encode(b"fuzzing-secret").decode()
USER, PASSWORD = "cb-user", "cb-pass"
PASSWORD_ENV = "FUZZ_CALLBACK_PASSWORD"
AT = "2026-11-23T09:00:00.000Z"
NS_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS_V2 = "http://nphase.com/unifiedwebservice/v2"

# Values for the listen options platforms declare (by dest), ones their receivers accept. An
# option not listed gets one from its declaration (``sample``); list it here when that value
# is not one the receiver takes.
SAMPLES: dict[str, Any] = {"downlink_data": "0102030405060708", "callback_username": USER,
                           "callback_password_env": PASSWORD_ENV}


def sample(opt: Opt) -> Any:
    if opt.dest in SAMPLES:
        return SAMPLES[opt.dest]
    if opt.choices:
        value: Any = opt.choices[0]
    elif opt.kind is bool:
        value = not opt.default
    else:
        value = opt.kind(1) if opt.kind in (int, float) else "fuzz"
    return [value] if opt.multiple else value


def refuses_without_key(name: str) -> bool:
    """Whether the platform's receiver cannot start without a key (circle's, generic's); any
    other refusal of a bare configuration is a bug."""
    try:
        make_handler(Settings(provider=name))
    except UsageError as exc:
        assert "--verify-key-env" in str(exc), exc
        return True
    return False


def configurations() -> dict[str, dict[str, Any]]:
    """Every configuration a run of each registered receiver can have: with and without its
    key, with and without its own listen options (``Settings`` keywords by name)."""
    found: dict[str, dict[str, Any]] = {}
    for name in registry.names("receiver"):
        declared = registry.get(name).options_for("listen")
        options = {opt.dest: sample(opt) for opt in declared}
        bare = not refuses_without_key(name)
        for key in ((False, True) if bare else (True,)):
            for with_options in ((False, True) if options else (False,)):
                label = name + ("+key" if key else "") + ("+options" if with_options else "")
                found[label] = {**({"verify_key": KEY} if key else {}),
                                **({"options": options} if with_options else {})}
    return found


CONFIGS = configurations()


@pytest.fixture(scope="module", autouse=True)
def password_env() -> Iterator[None]:
    """The variable a --callback-password-env style option names, for the receivers that read
    one as they start."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, PASSWORD)
        yield

# Field names the decoders look for, so generated bodies reach past the first type check.
KEYS = [
    "notifications", "registrations", "reg-updates", "de-registrations", "registrations-expired",
    "async-responses", "ep", "path", "payload", "ct", "max-age", "id", "status", "timestamp",
    "resources", "ept", "q", "original-ep", "error", "type", "eventType", "eventData",
    "accessoryId", "activityId", "startTime", "data", "msg", "from", "device", "deviceId",
    "device_id", "time", "seqNumber", "ack", "infoCode", "temp", "batt", "username",
    "password", "requestId", "deviceIds", "kind", "deviceResponse", "niddResponse",
    "callbackCount", "maxCallbackThreshold", "message", "line",
]
XML_NAMES = ["Username", "Password", "RequestId", "Device", "Identifier", "Kind", "Data",
             "Comment", "Status", "Fault", "DeviceResponse", "CarrierInformation", "device",
             "time", "data", "seqNumber"]
CONTENT_TYPES = ["", "application/json", "application/json; charset=utf-16", "text/plain",
                 "application/xml", "text/xml; charset=latin-1", "application/soap+xml",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                 "application/octet-stream", "*/*", ";;;", "json/xml x-www-form-urlencoded"]
HEADER_NAMES = ["Content-Type", "Authorization", "X-Logi-Verify", "webhook-id",
                "webhook-timestamp", "webhook-signature", "Content-Encoding", "Accept",
                "Transfer-Encoding", "X-Forwarded-For"]

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.text(max_size=24) | st.sampled_from(["", "1614265330", "1e300", "/3303/0/5700",
                                                      "AQID", "true", "0", "ESN", USER,
                                                      "application/vnd.oma.lwm2m+tlv",
                                                      "text/plain", "wAvA", "ZGF0YQ=="]))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6),
    max_leaves=20,
)
xml_elements = st.recursive(
    st.text(max_size=20).map(escape),
    lambda inner: st.lists(st.tuples(st.sampled_from(XML_NAMES), st.booleans(), inner),
                           max_size=4).map(lambda kids: "".join(
                               f'<{n} xsi:nil="true"/>' if nil else f"<{n}>{text}</{n}>"
                               for n, nil, text in kids)),
    max_leaves=10,
)
soap = xml_elements.map(lambda inner: (
    f'<s:Envelope xmlns:s="{NS_ENV}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    f'<s:Body><CallbackRequest xmlns="{NS_V2}"><Username>{USER}</Username>'
    f"<Password>{PASSWORD}</Password>{inner}</CallbackRequest></s:Body></s:Envelope>").encode())
def objects(*keys: str) -> st.SearchStrategy[dict[Any, Any]]:
    return st.dictionaries(st.sampled_from(keys), scalars | json_values, max_size=len(keys))


# The shapes the decoders accept, with any value in any field.
pelion_items = st.fixed_dictionaries(
    {"ep": st.text(max_size=10)},
    optional={"path": st.sampled_from(["/3303/0/5700", "/3/0", "/"]) | st.text(max_size=12),
              "payload": st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
              | st.text(max_size=10),
              "ct": st.sampled_from(["text/plain", "application/vnd.oma.lwm2m+tlv",
                                     "application/json", "application/octet-stream"])
              | st.text(max_size=10),
              "max-age": st.integers(), "id": st.text(max_size=10),
              "status": st.integers(), "error": st.text(max_size=10),
              "ept": st.text(max_size=10), "timestamp": scalars})
pelion_batches = st.dictionaries(
    st.sampled_from(["notifications", "async-responses", "registrations", "reg-updates",
                     "de-registrations", "registrations-expired"]),
    st.lists(pelion_items | st.text(max_size=10), max_size=3) | json_values,
    min_size=1, max_size=3)
circle_events = st.fixed_dictionaries(
    {"eventType": st.text(max_size=20)},
    optional={"eventData": objects("accessoryId", "activityId", "startTime") | json_values})
bodies = st.one_of(
    pelion_batches.map(lambda v: json.dumps(v).encode()),
    circle_events.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=400),
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8).map(
        lambda v: json.dumps(v).encode()),
    xml_elements.map(lambda inner: f"<root>{inner}</root>".encode()),
    soap,
    st.lists(st.tuples(st.sampled_from(KEYS), st.text(max_size=12)), max_size=5).map(
        lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()),
    st.lists(st.text(alphabet="0123456789ABCDEF;xyz", max_size=30), max_size=5).map(
        lambda lines: "\n".join(lines).encode()),
)
header_values = st.one_of(
    st.text(max_size=60),
    st.text(max_size=4).map(lambda s: s * 3000),  # huge
    st.sampled_from(["", " ", "v1,", "v1,abc v2,def", "Bearer", "Bearer ", "9" * 400,
                     "evt.with.dots", "gzip", "chunked", "\u00e9\u00e9", "1614265330.5"]),
)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]) | st.text(
    alphabet=string.ascii_letters, min_size=1, max_size=10)


def provider_of(config: str) -> str:
    return config.partition("+")[0]


@cache
def handler(config: str) -> Handler:
    return make_handler(Settings(provider=provider_of(config), **CONFIGS[config]))


def sign(config: str, headers: CIMultiDict[str], body: bytes, msg_id: str) -> None:
    """The check's headers as a genuine sender sets them (so decoding runs after it)."""
    provider = provider_of(config)
    if provider == "circle":
        headers["X-Logi-Verify"] = circle_sign(KEY, body)
    elif provider == "generic":
        import time

        stamp = int(time.time())
        headers.update({"webhook-id": msg_id or "msg", "webhook-timestamp": str(stamp),
                        "webhook-signature": standard_sign(KEY, msg_id or "msg", stamp, body)})
    elif provider != "thingspace":
        headers["Authorization"] = f"Bearer {KEY}"


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, Request]:
    config = draw(st.sampled_from(sorted(CONFIGS)))
    body = draw(bodies)
    headers: CIMultiDict[str] = CIMultiDict(draw(st.lists(
        st.tuples(st.sampled_from(HEADER_NAMES) | st.text(string.ascii_letters + "-",
                                                            min_size=1, max_size=20),
                  header_values), max_size=6)))
    headers["Content-Type"] = draw(st.sampled_from(CONTENT_TYPES) | st.text(max_size=30))
    if draw(st.booleans()):
        sign(config, headers, body, draw(st.text(max_size=30)))
    path = "/" + draw(st.text(max_size=40))
    query = draw(st.text(max_size=60) | st.sampled_from(["device=ABC&data=01&ack=true",
                                                         "seqNumber=x&time=99999999999999"]))
    return config, Request(draw(methods), path, query, headers, body, AT)


def check_outcome(config: str, request: Request) -> None:
    provider = provider_of(config)
    outcome = handler(config).handle(request)
    assert 100 <= outcome.status < 500, outcome
    # What the server does next must not fail on it either: answer, show, capture.
    receiver = Receiver(Settings(provider=provider, strict=True), handler(config), NullSink(),
                        None)
    status = receiver._answer(outcome)[0]
    assert 100 <= status < 500
    assert status == 401 or outcome.verified is not False
    seen = Seen(provider, outcome.kind, request.method, request.path, status, AT,
                outcome.verified, outcome.error, outcome.events)
    msgspec.json.encode(lines_of(seen))
    msgspec.json.encode(ListenDelivery.capture(
        provider, "callback", outcome.capture_body or request.body, method=request.method,
        path=request.path, headers=request.headers, at=AT))


def test_every_receiver_is_fuzzed_with_and_without_its_key_and_options() -> None:
    assert {config.partition("+")[0] for config in CONFIGS} == set(registry.names("receiver"))
    assert {"pelion", "pelion+key", "circle+key", "generic+key", "iottly", "iottly+key",
            "sigfox", "sigfox+key", "sigfox+options", "sigfox+key+options", "thingspace",
            "thingspace+options"} <= set(CONFIGS)


def test_circle_and_generic_refuse_to_start_without_their_key() -> None:
    for provider in ("circle", "generic"):
        with pytest.raises(UsageError, match="--verify-key-env"):
            make_handler(Settings(provider=provider))


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=requests())
def test_no_request_makes_a_handler_raise_or_answer_5xx(case: tuple[str, Request]) -> None:
    check_outcome(*case)


# -- through a real listener ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def listeners(tmp_path_factory: pytest.TempPathFactory, password_env: None
              ) -> Iterator[dict[str, Any]]:
    """One strict, capturing listener per configuration (the checks fail 401 under --strict)."""
    folder = tmp_path_factory.mktemp("fuzz")
    running = {}
    for config, options in CONFIGS.items():
        save = folder / f"{config}.jsonl"
        running[config] = (BackgroundListener(Settings(
            provider=provider_of(config), strict=True, save=str(save), output="none",
            **options)).start(), save)
    yield running
    for bg, save in running.values():
        bg.stop()
        list(read_capture(save))  # every captured request is a valid capture line


def header_bytes() -> st.SearchStrategy[bytes]:
    """A header value as raw bytes, including non-UTF-8 (kept by aiohttp as surrogates)."""
    return (st.binary(max_size=60) | header_values.map(lambda s: s.encode("utf-8"))).map(
        lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\0", b"").strip()[:7000])


@st.composite
def raw_requests(draw: st.DrawFn) -> tuple[str, bytes]:
    config, request = draw(requests())
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
    target = quote(request.path.encode("utf-8", "surrogatepass"), safe="/") + "?" + quote(
        request.query.encode("utf-8", "surrogatepass"), safe="=&")
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1",
             f"Content-Length: {len(request.body)}".encode(), b"Connection: close"]
    for name, value in request.headers.items():
        if name.lower() not in ("content-length", "transfer-encoding", "host", "connection"):
            lines.append(name.encode() + b": " + value.encode("utf-8", "surrogatepass"))
    for _ in range(draw(st.integers(0, 2))):
        lines.append(draw(st.sampled_from([b"X-Raw", b"Authorization", b"webhook-id",
                                           b"X-Logi-Verify"])) + b": " + draw(header_bytes()))
    return config, b"\r\n".join(lines) + b"\r\n\r\n" + request.body


def status_of(url: str, raw: bytes) -> int:
    host, port = url.split("/")[2].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1."), answer[:80]
    return int(answer.split(b" ", 2)[1])


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=raw_requests())
@example(case=("circle+key", b"GET /? HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
               b"Connection: close\r\nContent-Encoding: GZIP\r\nContent-Type: \r\n\r\n\x00\x00"))
def test_no_request_makes_the_server_answer_5xx(listeners: dict[str, Any],
                                                case: tuple[str, bytes]) -> None:
    config, raw = case
    bg, _save = listeners[config]
    assert status_of(bg.url, raw) < 500


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_body_its_content_encoding_cannot_decode_is_400(
        listeners: dict[str, Any], encoding: str) -> None:
    """aiohttp decodes a request body by its Content-Encoding while the handler reads it; a body
    that is not what the header says was a 500 (found by the property test above)."""
    body = b"not compressed"
    for config, (bg, _save) in listeners.items():
        raw = (f"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
               f"Connection: close\r\nContent-Encoding: {encoding}\r\n"
               "Content-Type: application/json\r\n\r\n").encode() + body
        status = status_of(bg.url, raw)
        assert status == 400, (config, status)


def test_non_utf8_header_bytes_are_captured_and_shown(tmp_path: Path) -> None:
    from notifyctl.listen.view import ListSink

    save = tmp_path / "c.jsonl"
    sink = ListSink()
    body = b'{"type":"t","data":{}}'
    import time

    stamp = int(time.time())
    raw = (b"POST /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Raw: caf\xe9\xff\r\n"
           b"webhook-id: id\xff\r\nwebhook-timestamp: " + str(stamp).encode()
           + b"\r\nwebhook-signature: " + standard_sign(KEY, "id\udcff", stamp, body).encode(
               "utf-8", "surrogateescape")
           + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with BackgroundListener(Settings(provider="generic", verify_key=KEY, strict=True,
                                     save=str(save)), sink) as bg:
        assert status_of(bg.url, raw) == 200
    ((_, delivery),) = list(read_capture(save))
    assert delivery.headers["X-Raw"] == "caf\xe9\xff"  # the bytes, read as ISO-8859-1
    assert sink.lines[0]["id"] == "id\xff"
