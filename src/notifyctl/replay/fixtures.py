"""The built-in fixtures: realistic captured deliveries per provider and kind, shipped as
package data in ``notifyctl/fixtures/<provider>/<kind>.jsonl`` (capture files) with
``index.json`` describing each, so a receiver can be tested with no capture at hand.

Messages name a fixture by its name (``fixture pelion/notifications:3``), never by its path
inside the installation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from notifyctl.errors import UsageError

if TYPE_CHECKING:
    from notifyctl.replay.inputs import Source

ROOT = Path(__file__).resolve().parent.parent / "fixtures"


def available() -> dict[str, str]:
    """``provider/kind`` -> description."""
    try:
        index: dict[str, str] = json.loads((ROOT / "index.json").read_text("utf-8"))
    except OSError as exc:
        raise UsageError("the built-in fixtures are missing from this installation",
                         hint="reinstall notifyctl") from exc
    return index


def source(name: str) -> Source:
    """The capture file of fixture ``name`` (``pelion/notifications``), named for messages."""
    from notifyctl.replay.inputs import Source  # not for --list-fixtures: it reads no capture

    fixtures = available()
    if name not in fixtures:
        raise UsageError(f"unknown fixture {name!r}",
                         hint="list them with 'notifyctl replay --list-fixtures'")
    return Source(str(ROOT / f"{name}.jsonl"), f"fixture {name}")
