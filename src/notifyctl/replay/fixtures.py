"""The built-in fixtures: realistic captured deliveries per provider and kind, shipped as
package data in ``notifyctl/fixtures/<provider>/<kind>.jsonl`` (capture files) with
``index.json`` describing each, so a receiver can be tested with no capture at hand.
"""

from __future__ import annotations

import json
from pathlib import Path

from notifyctl.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent / "fixtures"


def available() -> dict[str, str]:
    """``provider/kind`` -> description."""
    try:
        index: dict[str, str] = json.loads((ROOT / "index.json").read_text("utf-8"))
    except OSError as exc:
        raise UsageError(f"the built-in fixtures are missing ({ROOT})",
                         hint="reinstall notifyctl") from exc
    return index


def path(name: str) -> str:
    """The capture file of fixture ``name`` (``pelion/notifications``)."""
    fixtures = available()
    if name not in fixtures:
        raise UsageError(f"unknown fixture {name!r}",
                         hint="list them with 'notifyctl replay --list-fixtures'")
    return str(ROOT / f"{name}.jsonl")
