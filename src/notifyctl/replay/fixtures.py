"""The built-in fixtures: realistic captured deliveries per platform and kind, so a receiver can
be tested with no capture at hand.

Each platform ships its own as package data and declares where (``Platform.fixtures``,
``"package:folder"``): ``<kind>.jsonl`` capture files and an ``index.json`` mapping each kind
to a description. A fixture is named ``<platform>/<kind>`` (``pelion/notifications``), and
messages name it so (``fixture pelion/notifications:3``), never by its path inside the
installation. Only declarations are read here: listing fixtures imports no platform code.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from notifyctl.errors import UsageError

if TYPE_CHECKING:
    from notifyctl.replay.inputs import Source


def folder(platform: str) -> Path:
    """Where platform ``platform`` keeps its fixtures (a usage error when it has none)."""
    from notifyctl import registry

    declared = registry.get(platform).fixtures
    if declared is None:
        raise UsageError(f"{platform} has no built-in fixtures",
                         hint="list them with 'notifyctl replay --list-fixtures'")
    package, _, name = declared.partition(":")
    return Path(next(iter(importlib.import_module(package).__path__))) / name


def available() -> dict[str, str]:
    """``platform/kind`` -> description, of every installed platform, by name."""
    from notifyctl import registry

    found: dict[str, str] = {}
    for platform in registry.platforms().values():
        if platform.fixtures is None:
            continue
        try:
            index = json.loads((folder(platform.name) / "index.json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"the built-in fixtures of {platform.name} are missing from this "
                             "installation", hint="reinstall notifyctl") from exc
        found.update({f"{platform.name}/{kind}": what for kind, what in index.items()})
    return dict(sorted(found.items()))


def source(name: str) -> Source:
    """The capture file of fixture ``name`` (``pelion/notifications``), named for messages."""
    from notifyctl.replay.inputs import Source  # not for --list-fixtures: it reads no capture

    if name not in available():
        raise UsageError(f"unknown fixture {name!r}",
                         hint="list them with 'notifyctl replay --list-fixtures'")
    platform, _, kind = name.partition("/")
    return Source(str(folder(platform) / f"{kind}.jsonl"), f"fixture {name}")
