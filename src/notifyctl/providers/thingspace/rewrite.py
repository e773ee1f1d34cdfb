"""Edits of captured ThingSpace callback bodies for ``replay`` and the sandbox's retries.

``with_credentials`` sets the username/password a receiver checks; ``with_callback_count``
sets a REST body's ``callbackCount``. A SOAP body is edited in place: the bytes of the
``Username``/``Password`` elements are replaced (prefixes kept) and nothing else moves, so a
capture stays recognisable; a missing element is inserted first in ``CallbackRequest``. The body
is validated with ``notifyctl.xmlsafe`` first (no DTDs, no entities), and only then scanned a
second time with expat for the byte offsets. REST bodies are re-serialised, keys in order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from xml.parsers import expat

from notifyctl.errors import WireError
from notifyctl.providers.thingspace.soap import NS_V2
from notifyctl.providers.thingspace.wire import (
    callback_request,
    decode_rest,
    sniff,
    xml_text,
)

_CR = f"{NS_V2}}}CallbackRequest"  # expat's "uri}local" spelling


def with_credentials(body: bytes, username: str | None = None, password: str | None = None,
                     content_type: str | None = None) -> bytes:
    """The body with its username and/or password replaced (None keeps the captured one)."""
    if sniff(body, content_type) == "rest":
        return _rest_rewrite(body, {"username": username, "password": password})
    return _soap_rewrite(body, {"Username": username, "Password": password})


def with_callback_count(body: bytes, count: int) -> bytes:
    """A REST body with ``callbackCount`` set (the sandbox's retries); SOAP bodies unchanged."""
    if sniff(body) == "soap":
        return body
    return _rest_rewrite(body, {"callbackCount": count})


def _rest_rewrite(body: bytes, values: Mapping[str, Any]) -> bytes:
    decode_rest(body)  # validates the shape first
    doc = json.loads(body)
    for key, value in values.items():
        if value is not None:
            doc[key] = value
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _tag_end(body: bytes, start: int) -> int:
    """Index just past the ``>`` closing the tag that starts at ``start`` (quotes honoured)."""
    quote = 0
    for index in range(start + 1, len(body)):
        byte = body[index]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in b"\"'":
            quote = byte
        elif byte == 0x3E:  # ">"
            return index + 1
    raise WireError("SOAP callback: unterminated tag")


def _soap_rewrite(body: bytes, values: Mapping[str, str | None]) -> bytes:
    callback_request(body)  # validated (no DTD, right shape) before the offset pass below
    spans: dict[str, tuple[int, int, bytes]] = {}
    request_tag: list[int] = []
    stack: list[str] = []
    parser = expat.ParserCreate(namespace_separator="}")

    def start(name: str, _attrs: dict[str, str]) -> None:
        stack.append(name)
        if len(stack) == 3 and name == _CR and not request_tag:
            request_tag.append(parser.CurrentByteIndex)
        elif len(stack) == 4 and stack[2] == _CR:
            local = name.rpartition("}")[2]
            if local in values and name.startswith(NS_V2 + "}") and local not in spans:
                spans[local] = (parser.CurrentByteIndex, -1, b"")

    def end(name: str) -> None:
        if len(stack) == 4 and stack[2] == _CR:
            local = name.rpartition("}")[2]
            if local in spans and spans[local][1] == -1:
                begin = spans[local][0]
                tag_end = _tag_end(body, begin)
                stop = tag_end if body[tag_end - 2:tag_end] == b"/>" else \
                    _tag_end(body, parser.CurrentByteIndex)
                spans[local] = (begin, stop, _qname(body, begin))
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(body, True)
    request_start = request_tag[0]
    prefix = _qname(body, request_start).rpartition(b":")[0]
    prefix = prefix + b":" if prefix else b""
    edits: list[tuple[int, int, bytes]] = []
    inserted = b""  # missing fields go first in CallbackRequest, in schema order
    for local, value in values.items():
        if value is None:
            continue
        text = xml_text(value).encode("ascii", "xmlcharrefreplace")
        if local in spans:
            begin, stop, qname = spans[local]
            edits.append((begin, stop, b"<" + qname + b">" + text + b"</" + qname + b">"))
        else:
            qname = prefix + local.encode()
            inserted += b"<" + qname + b">" + text + b"</" + qname + b">"
    if inserted:
        insert_at = _tag_end(body, request_start)
        edits.append((insert_at, insert_at, inserted))
    out = body
    for begin, stop, replacement in sorted(edits, key=lambda edit: edit[0], reverse=True):
        out = out[:begin] + replacement + out[stop:]
    return out


def _qname(body: bytes, start: int) -> bytes:
    """The element name as written (with its prefix) in the tag starting at ``start``."""
    index = start + 1
    while index < len(body) and body[index] not in b" \t\r\n/>":
        index += 1
    return body[start + 1:index]
