"""OMA LwM2M TLV: a bounds-checked recursive parser and the matching builder.

A TLV record (OMA-TS-LightweightM2M, "TLV" content format) is::

    header byte | identifier (1 or 2 bytes) | length (0-3 bytes) | value

Header bits 7-6 give the type (00 object instance, 01 resource instance, 10 multiple resource,
11 resource with value), bit 5 says the identifier is 16-bit (else 8-bit), bits 4-3 give the
length field (00: the length is bits 2-0; 01/10/11: an 8/16/24-bit big-endian length follows).
Object instances and multiple resources contain TLV records; the other two types are leaves.

The parser renders each record as a plain dict so it can be printed as JSON:

- nested records: ``{"type": "object-instance" | "multiple-resource", "id": n, "children": [...]}``
- leaf records: ``{"type": "resource" | "resource-instance", "id": n, "hex": "...", "value": ...}``

TLV carries no value types (those live in the object model), so ``hex`` (the value bytes in
lowercase hex) is the lossless, authoritative value. ``value`` is a deterministic reading of it:

1. one byte -> signed integer (booleans and small integers are one byte);
2. valid UTF-8 whose characters are printable (tab, CR, LF allowed), including empty -> text;
   when such text is 2, 4 or 8 bytes long, ``int`` also holds its integer reading;
3. 2, 4 or 8 bytes -> signed big-endian integer (LwM2M integers are 1, 2, 4 or 8 bytes);
4. anything else -> no ``value`` key, ``hex`` only (opaque data, floats of odd width...).

Malformed input (truncated header, identifier or length, a length running past its container,
nesting deeper than ``max_depth``) raises ``TlvError``, a ``WireError`` carrying the byte offset.
The parser never raises anything else, whatever the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from notifyctl.errors import WireError

OBJECT_INSTANCE = "object-instance"
RESOURCE_INSTANCE = "resource-instance"
MULTIPLE_RESOURCE = "multiple-resource"
RESOURCE = "resource"
# Index = header bits 7-6.
TYPES = (OBJECT_INSTANCE, RESOURCE_INSTANCE, MULTIPLE_RESOURCE, RESOURCE)
TYPE_BITS = {name: index for index, name in enumerate(TYPES)}
NESTED = frozenset({OBJECT_INSTANCE, MULTIPLE_RESOURCE})
# LwM2M nests at most object instance > multiple resource > resource instance; a little slack
# for odd devices, while a hostile payload cannot drive the recursion far.
MAX_DEPTH = 8
MAX_LENGTH = 0xFFFFFF  # the 24-bit length field
INT_WIDTHS = frozenset({1, 2, 4, 8})
# Whitespace that text values may contain although str.isprintable() rejects it.
_TEXT_WHITESPACE = str.maketrans("", "", "\t\r\n")


class TlvError(WireError):
    """Malformed TLV; ``offset`` is the byte (from the start of the TLV data) where it broke."""

    def __init__(self, offset: int, what: str) -> None:
        super().__init__(f"malformed TLV at byte {offset}: {what}")
        self.offset = offset
        self.what = what


def parse(
    data: bytes | bytearray | memoryview, *, max_depth: int = MAX_DEPTH
) -> list[dict[str, Any]]:
    """Parse a sequence of TLV records (the whole payload) into nodes; see the module docstring."""
    buf = bytes(data)
    return _parse(buf, 0, len(buf), 1, max_depth)


def _parse(buf: bytes, start: int, end: int, depth: int, max_depth: int) -> list[dict[str, Any]]:
    if depth > max_depth:
        raise TlvError(start, f"records nested deeper than {max_depth} levels")
    nodes: list[dict[str, Any]] = []
    pos = start
    while pos < end:
        header = buf[pos]
        pos += 1
        kind = TYPES[header >> 6]
        id_width = 2 if header & 0x20 else 1
        length_width = (header >> 3) & 0x03
        if id_width > end - pos:
            raise TlvError(pos, f"identifier truncated: {id_width} bytes needed, {end - pos} left")
        ident = int.from_bytes(buf[pos : pos + id_width], "big")
        pos += id_width
        if length_width == 0:
            length = header & 0x07
        else:
            if length_width > end - pos:
                raise TlvError(
                    pos, f"length field truncated: {length_width} bytes needed, {end - pos} left"
                )
            length = int.from_bytes(buf[pos : pos + length_width], "big")
            pos += length_width
        if length > end - pos:
            raise TlvError(
                pos, f"value of {length} bytes runs past the end ({end - pos} left)"
            )
        value_end = pos + length
        if kind in NESTED:
            children = _parse(buf, pos, value_end, depth + 1, max_depth)
            nodes.append({"type": kind, "id": ident, "children": children})
        else:
            nodes.append(leaf(kind, ident, buf[pos:value_end]))
        pos = value_end
    return nodes


def leaf(kind: str, ident: int, value: bytes) -> dict[str, Any]:
    """Render one leaf record by the rules of the module docstring."""
    node: dict[str, Any] = {"type": kind, "id": ident, "hex": value.hex()}
    width = len(value)
    if width == 1:
        node["value"] = int.from_bytes(value, "big", signed=True)
        return node
    text = _printable_text(value)
    if text is not None:
        node["value"] = text
        if width in INT_WIDTHS:
            node["int"] = int.from_bytes(value, "big", signed=True)
    elif width in INT_WIDTHS:
        node["value"] = int.from_bytes(value, "big", signed=True)
    return node


def _printable_text(value: bytes) -> str | None:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.translate(_TEXT_WHITESPACE).isprintable() else None


def record(kind: str, ident: int, value: bytes) -> bytes:
    """One TLV record with the smallest identifier and length fields that fit.

    For a nested type, ``value`` is the concatenation of its child records.
    """
    if kind not in TYPE_BITS:
        raise ValueError(f"unknown TLV type {kind!r}")
    if not 0 <= ident <= 0xFFFF:
        raise ValueError(f"TLV identifier {ident} is outside 0..65535")
    length = len(value)
    if length > MAX_LENGTH:
        raise ValueError(f"TLV value of {length} bytes exceeds the 24-bit length field")
    header = TYPE_BITS[kind] << 6
    id_width = 1
    if ident > 0xFF:
        header |= 0x20
        id_width = 2
    if length <= 0x07:
        header |= length
        length_bytes = b""
    else:
        length_width = 1 if length <= 0xFF else 2 if length <= 0xFFFF else 3
        header |= length_width << 3
        length_bytes = length.to_bytes(length_width, "big")
    return bytes([header]) + ident.to_bytes(id_width, "big") + length_bytes + value


def build(nodes: Iterable[Mapping[str, Any]]) -> bytes:
    """Inverse of ``parse``: nodes with ``children`` (nested) or ``hex`` (leaves) to TLV bytes."""
    out = bytearray()
    for node in nodes:
        kind = node["type"]
        if kind in NESTED:
            value = build(node.get("children", ()))
        else:
            value = bytes.fromhex(node.get("hex", ""))
        out += record(kind, int(node["id"]), value)
    return bytes(out)
