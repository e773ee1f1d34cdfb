"""Sigfox fixtures as sandbox events (``notifyctl trigger``): a captured JSON callback body is
a message's variables, which the sandbox renders through every registered callback. The
fixture's ``deviceTypeId`` is a sample's, so it is left out (the message then reaches the
callbacks of every device type); ``--device`` sets ``device``, a Sigfox id of 1 to 8 hex
digits (upper case, as the platform writes them). A ``seqNumber`` not after the last one
injected for its device in this run becomes the device's next (modulo 4096), as a device
sending again would number it: a repeat (``--count``) is a new message, not a duplicate."""

from __future__ import annotations

import re
from typing import Any

from notifyctl.contract.deliver import Item
from notifyctl.contract.emulate import Converter, fixture_object

_DEVICE_ID = re.compile(r"[0-9A-Fa-f]{1,8}")
SEQUENCE = 4096  # seqNumber wraps here (the platform's numbering, Platform.numbering)


def events(device: str | None) -> Converter:
    if device is not None and not _DEVICE_ID.fullmatch(device):
        raise ValueError(f"--device {device!r} is not a Sigfox device id (1 to 8 hex digits)")
    return _Converter(None if device is None else device.upper()).convert


class _Converter:
    def __init__(self, device: str | None) -> None:
        self.device = device
        self.last: dict[str, int] = {}  # device -> the last seqNumber injected

    def convert(self, item: Item) -> list[Any]:
        message = fixture_object(item, "a Sigfox JSON callback body")
        if not isinstance(message.get("device"), str):
            raise ValueError("not a Sigfox message: no device variable")
        message.pop("deviceTypeId", None)
        if self.device is not None:
            message["device"] = self.device
        number = message.get("seqNumber")
        if isinstance(number, int) and not isinstance(number, bool):
            message["seqNumber"] = self._numbered(message["device"], number)
        return [message]

    def _numbered(self, device: str, number: int) -> int:
        """``number``, or the device's next one when it is not after the last injected."""
        last = self.last.get(device)
        if last is not None and number <= last:
            number = (last + 1) % SEQUENCE
        self.last[device] = number
        return number
