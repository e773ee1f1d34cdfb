"""The LwM2M TLV parser against records built by hand from the header-bit rules of the spec.

Header byte: bits 7-6 type (00 object instance, 01 resource instance, 10 multiple resource,
11 resource), bit 5 16-bit identifier, bits 4-3 length field width (00: length in bits 2-0),
bits 2-0 the length when it fits. Each byte string below is annotated with that breakdown.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifyctl.errors import WireError
from notifyctl.providers.pelion import tlv

# The Device object (3) instance from the LwM2M TLV examples, one record per line.
DEVICE = bytes.fromhex(
    # 0xC8 = 11 0 01 000: resource, 8-bit id, 8-bit length follows
    "C8 00 14" + b"Open Mobile Alliance".hex()
    + "C8 01 16" + b"Lightweight M2M Client".hex()
    + "C8 02 09" + b"345000123".hex()
    # 0xC3 = 11 0 00 011: resource, length 3 in the header
    + "C3 03" + b"1.0".hex()
    # 0x86 = 10 0 00 110: multiple resource 6, 6 bytes of resource instances
    + "86 06"
    + "41 00 01"  # 0x41 = 01 0 00 001: resource instance 0, 1 byte: 1
    + "41 01 05"  # resource instance 1: 5
    # 0x88 = 10 0 01 000: multiple resource 7, 8-bit length (8)
    + "88 07 08"
    + "42 00 0E D8"  # 0x42: resource instance 0, 2 bytes: 3800
    + "42 01 13 88"  # resource instance 1: 5000
    + "C1 09 64"  # resource 9, 1 byte: 100
)


def test_device_object_example() -> None:
    nodes = tlv.parse(DEVICE)
    assert nodes == [
        {"type": "resource", "id": 0, "hex": b"Open Mobile Alliance".hex(),
         "value": "Open Mobile Alliance"},
        {"type": "resource", "id": 1, "hex": b"Lightweight M2M Client".hex(),
         "value": "Lightweight M2M Client"},
        {"type": "resource", "id": 2, "hex": b"345000123".hex(), "value": "345000123"},
        {"type": "resource", "id": 3, "hex": "312e30", "value": "1.0"},
        {"type": "multiple-resource", "id": 6, "children": [
            {"type": "resource-instance", "id": 0, "hex": "01", "value": 1},
            {"type": "resource-instance", "id": 1, "hex": "05", "value": 5},
        ]},
        {"type": "multiple-resource", "id": 7, "children": [
            {"type": "resource-instance", "id": 0, "hex": "0ed8", "value": 3800},
            {"type": "resource-instance", "id": 1, "hex": "1388", "value": 5000},
        ]},
        {"type": "resource", "id": 9, "hex": "64", "value": 100},
    ]


def test_object_instances_nest_multiple_resources() -> None:
    # 0x08 = 00 0 01 000: object instance 0, 8-bit length; 0x03: object instance 1, length 3.
    # 0x83 = 10 0 00 011: multiple resource 5 of 3 bytes, holding instance 0 = 127.
    inner = bytes.fromhex("C1 00 01" "83 05 41 00 7F")
    data = bytes([0x08, 0x00, len(inner)]) + inner + bytes.fromhex("03 01 C1 00 FF")
    assert tlv.parse(data) == [
        {"type": "object-instance", "id": 0, "children": [
            {"type": "resource", "id": 0, "hex": "01", "value": 1},
            {"type": "multiple-resource", "id": 5, "children": [
                {"type": "resource-instance", "id": 0, "hex": "7f", "value": 127},
            ]},
        ]},
        {"type": "object-instance", "id": 1, "children": [
            {"type": "resource", "id": 0, "hex": "ff", "value": -1},
        ]},
    ]


def test_sixteen_bit_identifier() -> None:
    # 0xE1 = 11 1 00 001: resource, 16-bit id 0x012C = 300, length 1.
    assert tlv.parse(bytes.fromhex("E1 01 2C 05")) == [
        {"type": "resource", "id": 300, "hex": "05", "value": 5}
    ]
    # 0x28 = 00 1 01 000: object instance with 16-bit id 0xFFFF and an 8-bit length of 0.
    assert tlv.parse(bytes.fromhex("28 FF FF 00")) == [
        {"type": "object-instance", "id": 65535, "children": []}
    ]


@pytest.mark.parametrize(
    ("header", "length_field", "size"),
    [
        (0xC8, b"\x0a", 10),  # 11 0 01 000: 8-bit length
        (0xD0, b"\x01\x00", 256),  # 11 0 10 000: 16-bit length
        (0xD8, b"\x01\x00\x01", 65537),  # 11 0 11 000: 24-bit length
        (0xD8, b"\x00\x00\x03", 3),  # a 24-bit field holding a small length is still valid
    ],
)
def test_length_field_widths(header: int, length_field: bytes, size: int) -> None:
    value = (bytes(range(256)) * (size // 256 + 1))[:size]
    data = bytes([header, 0x05]) + length_field + value
    [node] = tlv.parse(data)
    assert node["type"] == "resource"
    assert node["id"] == 5
    assert bytes.fromhex(node["hex"]) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"", {"value": ""}),
        (b"A", {"value": 65}),  # one byte is an integer even when printable
        (b"\x80", {"value": -128}),
        (b"OK", {"value": "OK", "int": 0x4F4B}),  # printable: text first, integer alongside
        (b"\x0e\xd8", {"value": 3800}),
        (b"\x00\x00\x01\x96", {"value": 406}),
        (b"\xff\xff\xff\xff\xff\xff\xff\xfe", {"value": -2}),
        (b"406", {"value": "406"}),
        (b"line 1\nline 2\t", {"value": "line 1\nline 2\t"}),
        ("żółw".encode(), {"value": "żółw"}),
        (b"\xff\x00\x01", {}),  # odd width, not text: hex only
        (b"\x01\x02\x03\x04\x05", {}),
        (b"\x00\x00\x00", {}),  # NULs are not printable text
    ],
)
def test_leaf_rendering(value: bytes, expected: dict[str, Any]) -> None:
    assert tlv.leaf("resource", 1, value) == {"type": "resource", "id": 1, "hex": value.hex(),
                                              **expected}


@pytest.mark.parametrize(
    ("data", "offset", "what"),
    [
        (b"\xc8", 1, "identifier truncated"),
        (b"\xe1\x01", 1, "identifier truncated"),  # 16-bit id, one byte left
        (b"\xc8\x00", 2, "length field truncated"),
        (b"\xd0\x00\x01", 2, "length field truncated"),  # 16-bit length, one byte left
        (b"\xd8\x00\x00\x00", 2, "length field truncated"),
        (b"\xc8\x00\x05ab", 3, "value of 5 bytes runs past the end"),
        (b"\xc3\x00ab", 2, "value of 3 bytes runs past the end"),
        (b"\xc1\x00\x01\xc8", 4, "identifier truncated"),  # a second record cut short
        # An object instance of 4 bytes whose resource claims 5: its value (byte 5) has 1 byte.
        (b"\x04\x00\xc8\x00\x05\x01\x02\x03\x04\x05", 5, "value of 5 bytes runs past the end"),
    ],
)
def test_malformed_records_name_the_byte(data: bytes, offset: int, what: str) -> None:
    with pytest.raises(tlv.TlvError) as caught:
        tlv.parse(data)
    assert caught.value.offset == offset
    assert what in str(caught.value)
    assert f"byte {offset}" in str(caught.value)
    assert isinstance(caught.value, WireError)


def nest(depth: int) -> bytes:
    """``depth`` object instances inside each other, the innermost holding one resource."""
    data = b"\xc1\x00\x01"
    for _ in range(depth):
        data = bytes([0x08, 0x00, len(data)]) + data
    return data


def test_depth_limit() -> None:
    assert tlv.parse(nest(tlv.MAX_DEPTH - 1))  # records at MAX_DEPTH levels are fine
    with pytest.raises(tlv.TlvError) as caught:
        tlv.parse(nest(tlv.MAX_DEPTH))
    assert "nested deeper" in str(caught.value)
    assert caught.value.offset == 3 * tlv.MAX_DEPTH  # where the too-deep level starts


def test_record_picks_minimal_fields() -> None:
    assert tlv.record("resource", 9, b"\x64") == bytes.fromhex("C1 09 64")
    assert tlv.record("resource", 300, b"\x05") == bytes.fromhex("E1 01 2C 05")
    assert tlv.record("multiple-resource", 7, bytes(8)) == bytes.fromhex("88 07 08") + bytes(8)
    assert tlv.record("resource", 1, bytes(256))[:4] == bytes.fromhex("D0 01 01 00")
    assert tlv.record("resource", 1, bytes(0x10000))[:5] == bytes.fromhex("D8 01 01 00 00")
    with pytest.raises(ValueError, match="identifier"):
        tlv.record("resource", 70000, b"")
    with pytest.raises(ValueError, match="unknown TLV type"):
        tlv.record("object", 1, b"")


def test_build_is_the_inverse_of_parse() -> None:
    assert tlv.build(tlv.parse(DEVICE)) == DEVICE


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_parse_or_raise_tlv_error(data: bytes) -> None:
    try:
        nodes = tlv.parse(data)
    except tlv.TlvError as exc:
        assert 0 <= exc.offset <= len(data)
    else:
        # Whatever parsed re-encodes (minimal fields) to bytes that parse the same.
        assert tlv.parse(tlv.build(nodes)) == nodes


leaves = st.builds(
    lambda kind, ident, value: {"type": kind, "id": ident, "hex": value.hex()},
    st.sampled_from(["resource", "resource-instance"]),
    st.integers(0, 0xFFFF),
    st.binary(max_size=300),
)
trees = st.recursive(
    leaves,
    lambda children: st.builds(
        lambda kind, ident, kids: {"type": kind, "id": ident, "children": kids},
        st.sampled_from(["object-instance", "multiple-resource"]),
        st.integers(0, 0xFFFF),
        st.lists(children, max_size=4),
    ),
    max_leaves=12,
)


def shape(node: dict[str, Any]) -> dict[str, Any]:
    """A node without the derived ``value``/``int`` readings."""
    if "children" in node:
        return {**node, "children": [shape(child) for child in node["children"]]}
    return {key: node[key] for key in ("type", "id", "hex")}


@settings(max_examples=200, deadline=None)
@given(st.lists(trees, max_size=4))
def test_build_then_parse_round_trips(nodes: list[dict[str, Any]]) -> None:
    parsed = tlv.parse(tlv.build(nodes), max_depth=64)
    assert [shape(node) for node in parsed] == nodes
