"""ThingSpace wire formats (SOAP CallbackRequest and REST JSON), service names and ports."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifyctl import xmlsafe
from notifyctl.errors import UsageError, WireError
from notifyctl.providers.thingspace import rewrite, services, soap, wire
from notifyctl.providers.thingspace.soap import NS_ENV, NS_V2, NS_XSI

# The ResumeTrackingNotification sample of the reference (protocols/platforms.md A1).
SOAP_SAMPLE = b"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
 <s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <CallbackRequest xmlns="http://nphase.com/unifiedwebservice/v2">
   <Username/><Password/><RequestId>2c90bd28-ece4-42ef-9f02-7e3bd4fbff33</RequestId>
   <Device><Kind>Mdn</Kind><Identifier>3124705797</Identifier></Device>
   <Data><CarrierService xsi:nil="true"/><ExternalProvisioningChange xsi:nil="true"/>
    <PromoChange xsi:nil="true"/><Usage xsi:nil="true"/><SMSDelivery xsi:nil="true"/>
    <PRLInformation xsi:nil="true"/><DeviceSuspendStatus xsi:nil="true"/><Fault xsi:nil="true"/>
    <Comment>Device will be auto resumed on - 3/15/2017 12:00:00 AM</Comment>
    <Summary xsi:nil="true"/><Status xsi:nil="true"/></Data>
  </CallbackRequest></s:Body></s:Envelope>"""
REST_DEVICE = (b'{"username":"","password":"","requestId":"a28892ea-6503-4aa7-bfa2-4cd45d42f61b",'
               b'"deviceIds":[{"id":"22211315718","kind":"ESN"}],"deviceResponse":'
               b'{"changeIdentifierResponse":{"deviceIds":[{"id":"A1000001999990","kind":"iccid"}],'
               b'"servicePlan":"M2M_4G"}},"status":"Success","callbackCount":1,'
               b'"maxCallbackThreshold":4}')
REST_NIDD = (b'{"username":"user","password":"pwd",'
             b'"requestId":"a0fff7d6-6b30-45eb-84d7-0bc103d319c0",'
             b'"deviceIds":[{"id":"490154203237518","kind":"IMEI"}],"niddResponse":'
             b'{"niddMONotificationResponse":{"accountName":"9999080353-00001","message":"QUJD",'
             b'"deviceIds":[{"id":"490154203237518","kind":"IMEI"},{"id":"9998501090","kind":"MDN"}]}},'
             b'"callbackCount":1,"maxCallbackThreshold":4}')


def test_soap_sample_decodes() -> None:
    callback = wire.decode_callback(SOAP_SAMPLE)
    assert callback.form == "soap"
    assert callback.kind == "ResumeTrackingNotification"
    assert callback.request_id == "2c90bd28-ece4-42ef-9f02-7e3bd4fbff33"
    assert callback.devices == [wire.DeviceId("Mdn", "3124705797")]
    assert callback.fields == ["Comment"]
    assert callback.payload == {"Comment": "Device will be auto resumed on - 3/15/2017 12:00:00 AM"}
    assert callback.credentials_match("", "")
    [event] = wire.decode(SOAP_SAMPLE)
    assert (event.provider, event.kind, event.device, event.id) == (
        "thingspace", "ResumeTrackingNotification", "3124705797",
        "2c90bd28-ece4-42ef-9f02-7e3bd4fbff33")
    line = json.loads(msgspec.json.encode(event))
    assert line["raw"]["Device"] == {"Kind": "Mdn", "Identifier": "3124705797"}


def test_soap_prefixes_do_not_matter_namespaces_do() -> None:
    prefixed = (f'<e:Envelope xmlns:e="{NS_ENV}"><e:Body><v:CallbackRequest xmlns:v="{NS_V2}" '
                f'xmlns:i="{NS_XSI}"><v:Username>u</v:Username><v:Password>p</v:Password>'
                "<v:RequestId>r</v:RequestId><v:Device><v:Kind>IMEI</v:Kind>"
                "<v:Identifier>42</v:Identifier></v:Device><v:Data><v:CarrierService i:nil='true'/>"
                "<v:Usage><v:Bytes>7</v:Bytes></v:Usage></v:Data></v:CallbackRequest></e:Body>"
                "</e:Envelope>").encode()
    callback = wire.decode_callback(prefixed)
    assert (callback.kind, callback.payload, callback.username) == (
        "DeviceUsage", {"Usage": {"Bytes": "7"}}, "u")
    assert callback.raw["Password"] == "***"
    unqualified = SOAP_SAMPLE.replace(b' xmlns="http://nphase.com/unifiedwebservice/v2"', b"")
    with pytest.raises(WireError, match="no Body/CallbackRequest in namespace"):
        wire.decode_callback(unqualified)
    soap12 = SOAP_SAMPLE.replace(NS_ENV.encode(), b"http://www.w3.org/2003/05/soap-envelope")
    with pytest.raises(WireError, match=r"not .*Envelope"):
        wire.decode_callback(soap12)


@pytest.mark.parametrize("body", [
    b"<not-closed>",
    b"\x00\x01 binary",
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
    b'&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><s:Envelope '
    b'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&c;&c;&c;</s:Body></s:Envelope>',
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
    b"<a>" * 200 + b"</a>" * 200,
])
def test_hostile_soap_is_refused_quickly(body: bytes) -> None:
    with pytest.raises(WireError):
        wire.decode(body, "text/xml")


def test_rest_samples_decode() -> None:
    device = wire.decode_callback(REST_DEVICE)
    assert (device.form, device.kind, device.status, device.callback_count,
            device.max_callback_threshold) == ("rest", "deviceResponse", "Success", 1, 4)
    assert device.payload["changeIdentifierResponse"]["servicePlan"] == "M2M_4G"
    assert device.devices == [wire.DeviceId("ESN", "22211315718")]
    [event] = wire.decode(REST_NIDD, "application/json")
    assert (event.kind, event.device, event.id) == (
        "niddResponse", "490154203237518", "a0fff7d6-6b30-45eb-84d7-0bc103d319c0")
    assert event.raw["password"] == "***" and event.raw["username"] == "user"
    assert b"pwd" not in msgspec.json.encode(event)
    fault = wire.encode_rest("r", [wire.DeviceId("IMEI", "1")],
                             fault={"faultcode": "E1", "faultstring": "boom"})
    assert wire.decode_callback(fault).kind == "fault"
    assert wire.decode_callback(fault).payload == {"faultcode": "E1", "faultstring": "boom"}


@pytest.mark.parametrize(("body", "message"), [
    (b"[1,2]", "not a JSON object"),
    (b'{"deviceIds": {"id": "1"}}', "deviceIds is not a list"),
    (b'{"deviceIds": [{"kind": "IMEI"}]}', r"deviceIds\[0\] has no string id"),
    (b'{"callbackCount": "1"}', "callbackCount is not an integer"),
    (b'{"requestId": 5}', "requestId is not a string"),
    (b"{broken", "malformed JSON"),
])
def test_malformed_rest_callbacks(body: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        wire.decode_callback(body)


def test_sniff() -> None:
    assert wire.sniff(b"  <x/>") == "soap"
    assert wire.sniff(b"\xef\xbb\xbf{}") == "rest"
    assert wire.sniff(b"{}", "text/xml; charset=utf-8") == "soap"
    with pytest.raises(WireError, match="neither"):
        wire.sniff(b"hello")


@pytest.mark.parametrize("service", sorted(wire.SERVICE_FIELD))
def test_soap_encode_matches_the_reference_shape(service: str) -> None:
    field = wire.SERVICE_FIELD[service]
    body = wire.encode_soap("rid", wire.DeviceId("MEID", "A1"), {field: {"X": "1 < 2"}},
                            username="cbu", password="cbp")
    root = xmlsafe.parse(body)
    request = root.find(f"{{{NS_ENV}}}Body/{{{NS_V2}}}CallbackRequest")
    assert request is not None
    assert [c.tag for c in request] == [f"{{{NS_V2}}}{n}" for n in (
        "Username", "Password", "RequestId", "Device", "Data")]
    data = request.find(f"{{{NS_V2}}}Data")
    assert [xmlsafe.local(c.tag) for c in data] == list(wire.DATA_FIELDS)  # type: ignore[union-attr]
    filled = [xmlsafe.local(c.tag) for c in data if c.get(f"{{{NS_XSI}}}nil") != "true"]  # type: ignore[union-attr]
    assert filled == [field]
    callback = wire.decode_callback(body)
    assert (callback.kind, callback.payload, callback.request_id) == (
        service, {field: {"X": "1 < 2"}}, "rid")
    assert callback.credentials_match("cbu", "cbp") and not callback.credentials_match("cbu", "x")


def test_soap_encode_unknown_child_sits_before_the_trailer() -> None:
    body = wire.encode_soap("r", wire.DeviceId("IMEI", "1"), {"SmsMessage": {"Text": "hi"}})
    data = xmlsafe.parse(body).find(f"{{{NS_ENV}}}Body/{{{NS_V2}}}CallbackRequest/{{{NS_V2}}}Data")
    names = [xmlsafe.local(c.tag) for c in data]  # type: ignore[union-attr]
    assert names[-4:] == ["SmsMessage", "Comment", "Summary", "Status"]
    assert wire.decode_callback(body).kind == "SmsMessage"
    with pytest.raises(WireError):
        wire.encode_soap("r", wire.DeviceId("IMEI", "1"), {"bad name": "x"})


def test_with_credentials_soap_changes_only_those_bytes() -> None:
    out = rewrite.with_credentials(SOAP_SAMPLE, "bob", "p<&>\"é")
    assert out == SOAP_SAMPLE.replace(b"<Username/><Password/>",
                                      b"<Username>bob</Username>"
                                      b"<Password>p&lt;&amp;&gt;\"&#233;</Password>")
    callback = wire.decode_callback(out)
    assert callback.credentials_match("bob", "p<&>\"é")
    # None keeps the captured value; a prefixed, non-empty element is replaced in place.
    again = rewrite.with_credentials(out, None, "new")
    assert wire.decode_callback(again).credentials_match("bob", "new")
    prefixed = wire.encode_soap("r", wire.DeviceId("IMEI", "1"), {"Usage": "x"},
                                username="a", password="b").replace(b"<CallbackRequest xmlns=",
                                                                   b"<CallbackRequest xmlns:q=")
    prefixed = prefixed.replace(b"<", b"<q:").replace(b"<q:/", b"</q:").replace(
        b"<q:s:", b"<s:").replace(b"</q:s:", b"</s:").replace(b"q:xmlns", b"xmlns")
    assert wire.decode_callback(prefixed).username == "a"
    rewritten = rewrite.with_credentials(prefixed, "c", "d")
    assert b"<q:Username>c</q:Username><q:Password>d</q:Password>" in rewritten
    assert wire.decode_callback(rewritten).credentials_match("c", "d")


def test_with_credentials_inserts_missing_fields() -> None:
    body = SOAP_SAMPLE.replace(b"<Username/><Password/>", b"")
    out = rewrite.with_credentials(body, "u", "p")
    request = xmlsafe.parse(out).find(f"{{{NS_ENV}}}Body/{{{NS_V2}}}CallbackRequest")
    assert [xmlsafe.local(c.tag) for c in request][:3] == ["Username", "Password", "RequestId"]  # type: ignore[union-attr]
    assert wire.decode_callback(out).credentials_match("u", "p")
    with pytest.raises(WireError, match="control characters"):
        rewrite.with_credentials(SOAP_SAMPLE, "a\x01b", None)


def test_with_credentials_rest_and_callback_count() -> None:
    out = rewrite.with_credentials(REST_NIDD, "alice", None)
    doc = json.loads(out)
    assert (doc["username"], doc["password"]) == ("alice", "pwd")
    assert list(doc) == list(json.loads(REST_NIDD))  # key order kept
    counted = wire.decode_callback(rewrite.with_callback_count(REST_DEVICE, 3))
    assert counted.callback_count == 3
    assert rewrite.with_callback_count(SOAP_SAMPLE, 3) == SOAP_SAMPLE
    with pytest.raises(WireError):
        rewrite.with_credentials(b"[]", "u", "p", "application/json")


XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"),
                                 blacklist_characters="\ufffe\uffff"), max_size=40)


@settings(max_examples=60, deadline=None)
@given(username=XML_TEXT, password=XML_TEXT, ident=XML_TEXT.filter(lambda s: s.strip() == s and s))
def test_round_trips_hold_for_any_text(username: str, password: str, ident: str) -> None:
    device = wire.DeviceId("IMEI", ident)
    soap_body = wire.encode_soap("r", device, {"Usage": "x"})
    soap_cb = wire.decode_callback(rewrite.with_credentials(soap_body, username, password))
    assert soap_cb.credentials_match(username, password)
    assert soap_cb.devices == [device]
    rest_body = wire.encode_rest("r", [device], response={"deviceResponse": {}},
                                 username=username, password=password)
    rest_cb = wire.decode_callback(rest_body)
    assert rest_cb.credentials_match(username, password) and rest_cb.devices == [device]


def test_soap_emulator_envelopes_parse_back() -> None:
    body = soap.response_envelope("LogIn", {"SessionToken": "t<1>"}, token="t<1>")
    assert soap.login_token(body) == "t<1>"
    fault = soap.fault_envelope("SessionToken.Expired", "expired")
    with pytest.raises(soap.SessionExpired):
        soap.response(fault, "GetCallbackRegistrations")
    with pytest.raises(soap.BadCredentials):
        soap.response(soap.fault_envelope("Whatever", "nope"), "LogIn")
    with pytest.raises(soap.SoapFault):
        soap.response(soap.fault_envelope("Server", "down"), "LogIn")
    call = soap.parse_request(soap.register("tok", "acct", "DeviceUsage", "http://x/", "", ""),
                              soap.CALLBACK_SERVICE, None)
    assert call == soap.Call("RegisterCallback", "tok", {
        "AccountName": "acct", "ServiceName": "DeviceUsage", "Url": "http://x/", "Username": "",
        "Password": ""})


# ---- services -----------------------------------------------------------------------------------

def test_service_validation() -> None:
    assert services.validate_service("DeviceUsage", "soap") == "DeviceUsage"
    assert services.validate_service("NiddService", "rest") == "NiddService"
    with pytest.raises(UsageError, match="unknown ThingSpace service") as info:
        services.validate_service("NiddService", "soap")
    assert "--allow-unknown-service" in str(info.value)
    with pytest.raises(UsageError, match="did you mean DeviceUsage"):
        services.validate_service("deviceusage")
    assert services.validate_service("FutureService", allow_unknown=True) == "FutureService"
    with pytest.raises(UsageError, match="letters and digits"):
        services.validate_service("../x", allow_unknown=True)
    with pytest.raises(UsageError, match="soap or rest"):
        services.known_services("grpc")
    assert len(services.SOAP_SERVICES) == 11


@pytest.mark.parametrize(("url", "warns"), [
    ("https://h.example/cb", False), ("http://h.example/cb", False),
    ("https://h.example:9001/", False), ("https://h.example:9006/", False),
    ("https://h.example:9007/", True), ("https://h.example:28200/", False),
    ("https://h.example:28221/", True), ("http://h.example:50559/", False),
    ("http://h.example:50560/", True), ("http://127.0.0.1:8080/", True),
])
def test_port_warning(url: str, warns: bool) -> None:
    warning = services.port_warning(url)
    assert (warning is not None) == warns
    if warning:
        assert "80, 443, 9001-9006, 28200-28220, 50551-50559" in warning


@pytest.mark.parametrize("url", ["ftp://h/x", "h.example/cb", "https://h.example:99999/"])
def test_bad_callback_urls(url: str) -> None:
    with pytest.raises(UsageError, match="callback URL"):
        services.port_warning(url)
