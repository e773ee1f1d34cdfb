"""Checked access to a platform's JSON (Circle bodies, Iottly frames, Sigfox bodies and BIDIR
answers, ThingSpace REST callbacks): text to values, and fields read with a ``WireError`` that
names the field (``body[2].eventData: expected an object``). Pure; standard ``json`` only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from notifyctl.errors import WireError


def loads(data: bytes | str, where: str) -> Any:
    """``data`` decoded as UTF-8 JSON; ``where`` starts the message when it is not."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise WireError(f"{where}: not UTF-8 (byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        raise WireError(f"{where}: malformed JSON: {exc}") from None


def required_str(doc: Mapping[str, Any], key: str, where: str) -> str:
    """A field that must be a non-empty string."""
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise WireError(f"{where}.{key}: missing or not a string")
    return value


def optional_str(doc: Mapping[str, Any], key: str, where: str) -> str | None:
    """A field that is absent, null or a string."""
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise WireError(f"{where}.{key}: not a string")
    return value


def optional_object(doc: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """A field that is absent, null (both read as ``{}``) or an object."""
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WireError(f"{where}.{key}: expected an object")
    return value
