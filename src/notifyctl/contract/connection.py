"""``Connection``: the settings a networked command resolved (flag > environment > profile >
the platform's default), as the platform's capabilities receive them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Connection:
    """The resolved settings a networked command runs with."""

    profile: str | None
    provider: str
    api_url: str
    account: str | None
    settings: dict[str, Any]
