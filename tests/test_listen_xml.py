"""``notifyctl.xmlsafe``: DTDs, entity declarations and external entities are refused before any
expansion (fast, bounded memory); namespaces come out in ElementTree's ``{uri}local`` form."""

from __future__ import annotations

import tracemalloc

import pytest

from notifyctl import xmlsafe
from notifyctl.errors import WireError


def billion_laughs(levels: int = 10) -> bytes:
    entities = "".join(
        f'<!ENTITY e{i} "{("&e" + str(i - 1) + ";") * 10 if i else "lol"}">' for i in range(levels)
    )
    return f'<?xml version="1.0"?><!DOCTYPE d [{entities}]><d>&e{levels - 1};</d>'.encode()


def test_entity_bomb_refused_quickly_in_bounded_memory() -> None:
    tracemalloc.start()
    with pytest.raises(xmlsafe.XMLRefused, match="DOCTYPE"):
        xmlsafe.parse(billion_laughs())
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Refused before any expansion: 10**10 "lol"s would be ~30 GB (and take minutes).
    assert peak < 1_000_000


@pytest.mark.parametrize("document", [
    b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/">%p;]><x/>',
    b"<x>&undeclared;</x>",
    b"<x><y></x>",
    b"",
    b"\xff\xfe<x/>",
    b"<a>" * 300 + b"</a>" * 300,
])
def test_refused_or_malformed(document: bytes) -> None:
    with pytest.raises(xmlsafe.XMLRefused) as caught:
        xmlsafe.parse(document)
    assert isinstance(caught.value, WireError)  # exit code 2 / HTTP 400 for callers


def test_soap_envelope_with_namespaces() -> None:
    root = xmlsafe.parse(
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<CallbackRequest xmlns="http://nphase.com/unifiedwebservice/v2"><Username>u</Username>'
        b"<Password/><Comment>a &amp; b &#65;</Comment></CallbackRequest></s:Body></s:Envelope>"
    )
    assert root.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"
    request = root[0][0]
    assert xmlsafe.local(request.tag) == "CallbackRequest"
    assert xmlsafe.child_text(request, "Username") == "u"
    assert xmlsafe.child_text(request, "Password") is None
    assert xmlsafe.child_text(request, "Comment") == "a & b A"
