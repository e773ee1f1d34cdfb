"""Pelion fixtures as sandbox events (``notifyctl trigger``): a captured NotificationMessage is
what the sandbox's inject endpoint takes, so it goes as captured, or with ``--device`` set as
each item's ``ep`` (and ``original-ep`` where it named the same device) and as every id listed
under ``de-registrations`` and ``registrations-expired``; ``async-responses`` name no device.
An item whose ``uid`` was already injected in this run gets a fresh one: ``uid`` names one
event, so a repeat (``--count``) would be a re-send that ``tail`` drops."""

from __future__ import annotations

import uuid
from typing import Any

from notifyctl.contract.deliver import Item
from notifyctl.contract.emulate import Converter, fixture_object


def events(device: str | None) -> Converter:
    return _Converter(device).convert


class _Converter:
    def __init__(self, device: str | None) -> None:
        self.device = device
        self.uids: set[str] = set()

    def convert(self, item: Item) -> list[Any]:
        message = fixture_object(item, "a Pelion NotificationMessage")
        for section, entries in message.items():
            if not isinstance(entries, list):
                raise ValueError(f"not a Pelion NotificationMessage: {section} is not an array")
        if self.device is not None and not any(
                isinstance(entry, str) or (isinstance(entry, dict) and "ep" in entry)
                for entries in message.values() for entry in entries):
            raise ValueError(f"no device to set in these Pelion events ({', '.join(message)} "
                             "name none)")
        return [{section: [self._moved(entry) for entry in entries]
                 for section, entries in message.items()}]

    def _moved(self, entry: Any) -> Any:
        """One item (or listed device id) with its device set and its uid fresh if seen."""
        if isinstance(entry, str):
            return entry if self.device is None else self.device  # a gone device's id
        if not isinstance(entry, dict):
            return entry
        moved = dict(entry)
        uid = entry.get("uid")
        if isinstance(uid, str):
            if uid in self.uids:
                moved["uid"] = str(uuid.uuid4())
            self.uids.add(moved["uid"])
        if self.device is not None and "ep" in entry:
            moved["ep"] = self.device
            if entry.get("original-ep") == entry["ep"]:
                moved["original-ep"] = self.device
        return moved
