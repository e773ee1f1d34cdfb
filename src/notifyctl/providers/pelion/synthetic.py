"""Synthetic Pelion devices for the sandbox's event generator.

``SyntheticDevices.batch(n)`` gives the next ``n`` events: mostly resource notifications
(text/plain numbers, some JSON, a few LwM2M TLV and binary payloads), occasionally a reg-update
or a de-registration. A batch draws its devices and kinds in two calls and takes text payloads
(the numbers a sensor can report, each value's base64 made once) from tables, so the sandbox
can make hundreds of thousands of events a second. Registrations are not emitted here: the
emulator sends a device's registration to a channel before that channel's first event from the
device (and again after a de-registration), so every channel sees "registration first"
whenever it was created.
Seeded, so a run is reproducible.
"""

from __future__ import annotations

import base64
import itertools
import random
from dataclasses import dataclass
from typing import Any

from notifyctl.providers.pelion import tlv

TLV_CT = "application/vnd.oma.lwm2m+tlv"
JSON_CT = "application/json"
TEXT_CT = "text/plain"
BINARY_CT = "application/octet-stream"

# (path, content type, resource type, interface) of what every synthetic device exposes.
RESOURCES = (
    ("/3303/0/5700", TEXT_CT, "temperature", "sensor"),
    ("/3304/0/5700", TEXT_CT, "humidity", "sensor"),
    ("/3/0/9", TEXT_CT, "battery", "device"),
    ("/26241/0/1", JSON_CT, "telemetry", "sensor"),
    ("/3/0", TLV_CT, "device", "device"),
    ("/5/0/0", BINARY_CT, "firmware-chunk", "firmware"),
)
# Relative weights of the event kinds; "a few" TLV and binary payloads.
_KINDS = ("text", "json", "tlv", "binary", "reg-update", "de-registration")
_WEIGHTS = (70, 15, 5, 5, 4, 1)
_CUMULATIVE = tuple(itertools.accumulate(_WEIGHTS))


@dataclass(frozen=True, slots=True)
class Device:
    ep: str
    original_ep: str
    ept: str


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _tlv_int(value: int) -> bytes:
    for width in (1, 2, 4, 8):
        try:
            return value.to_bytes(width, "big", signed=True)
        except OverflowError:
            continue
    raise OverflowError(value)


# What the text resources report: temperature 15.0-30.0 in tenths, humidity 20-80, battery
# 0-100; base64 made once per value.
_TEXT_TABLES = tuple(
    (path, [_b64(value.encode()) for value in values])
    for path, values in (
        ("/3303/0/5700", [f"{tenths / 10:.1f}" for tenths in range(150, 301)]),
        ("/3304/0/5700", [str(n) for n in range(20, 81)]),
        ("/3/0/9", [str(n) for n in range(101)]),
    )
)


def _text_payload(draw: float) -> tuple[str, str, str]:
    """One text notification from one uniform draw in [0, 1): which resource (equally likely)
    and, from what is left of the draw, which of its values."""
    scaled = draw * len(_TEXT_TABLES)
    path, values = _TEXT_TABLES[int(scaled)]
    return path, TEXT_CT, values[int((scaled - int(scaled)) * len(values))]


class SyntheticDevices:
    """``count`` fake devices and a stream of their events; see the module docstring."""

    def __init__(self, count: int, *, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self.devices = [
            Device(
                ep=f"0176{seed & 0xFFFF:04x}{index:024x}",
                original_ep=f"sandbox-device-{index + 1:03d}",
                ept="sandbox-sensor",
            )
            for index in range(max(0, count))
        ]
        self._seq = 0

    def registration(self, device: Device) -> dict[str, Any]:
        """An ``EndpointData`` item (``registrations`` and ``reg-updates`` share the shape)."""
        return {
            "ep": device.ep,
            "original-ep": device.original_ep,
            "ept": device.ept,
            "q": False,
            "resources": [
                {"path": path, "ct": ct, "obs": True, "rt": rt, "if": iface}
                for path, ct, rt, iface in RESOURCES
            ],
        }

    def batch(self, count: int) -> list[tuple[str, Any, Device]]:
        """The next ``count`` events, each ``(section, item, device)``; for a de-registration
        the item is the ep string (the emulator turns it into an object when the channel asks
        for that)."""
        rng = self._rng
        devices = rng.choices(self.devices, k=count)
        kinds = rng.choices(_KINDS, cum_weights=_CUMULATIVE, k=count)
        return [self._event(device, kind) for device, kind in zip(devices, kinds, strict=True)]

    def _event(self, device: Device, kind: str) -> tuple[str, Any, Device]:
        self._seq += 1
        if kind == "text":  # the common case first, and cheapest
            path, ct, payload = _text_payload(self._rng.random())
        elif kind == "reg-update":
            return "reg-updates", self.registration(device), device
        elif kind == "de-registration":
            return "de-registrations", device.ep, device
        else:
            path, ct, payload = self._payload(kind)
        item = {"ep": device.ep, "path": path, "ct": ct, "payload": payload, "max-age": 0}
        return "notifications", item, device

    def _payload(self, kind: str) -> tuple[str, str, str]:
        rng = self._rng
        if kind == "json":
            ok = "true" if rng.random() > 0.1 else "false"
            doc = f'{{"seq":{self._seq},"rssi":{rng.randrange(-110, -39)},"ok":{ok}}}'
            return "/26241/0/1", JSON_CT, _b64(doc.encode())
        if kind == "tlv":
            return "/3/0", TLV_CT, _b64(self._device_object())
        return "/5/0/0", BINARY_CT, _b64(rng.randbytes(8 + rng.randrange(17)))

    def _device_object(self) -> bytes:
        """LwM2M Device object instance /3/0: manufacturer, model, power sources (a multiple
        resource), battery and current time; only the last two vary, so only the time is
        encoded per event."""
        battery = _BATTERY_RECORDS[self._rng.randrange(len(_BATTERY_RECORDS))]
        now = tlv.record(tlv.RESOURCE, 13, _tlv_int(1_700_000_000 + self._seq))
        return _DEVICE_FIXED + battery + now


_DEVICE_FIXED = (
    tlv.record(tlv.RESOURCE, 0, b"Sandbox Devices Ltd")
    + tlv.record(tlv.RESOURCE, 1, b"SBX-1")
    + tlv.record(tlv.MULTIPLE_RESOURCE, 6,
                 tlv.record(tlv.RESOURCE_INSTANCE, 0, _tlv_int(1))
                 + tlv.record(tlv.RESOURCE_INSTANCE, 1, _tlv_int(5)))
)
_BATTERY_RECORDS = [tlv.record(tlv.RESOURCE, 9, _tlv_int(level)) for level in range(101)]
