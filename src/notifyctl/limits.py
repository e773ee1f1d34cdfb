"""Size limits a user may raise through the environment (``NOTIFYCTL_MAX_FRAME``,
``NOTIFYCTL_MAX_CAPTURE_LINE``): one parser for all of them."""

from __future__ import annotations

import os
from collections.abc import Mapping

from notifyctl.errors import UsageError


def byte_limit(variable: str, default: int, env: Mapping[str, str] = os.environ) -> int:
    """A size limit the user may raise through environment variable ``variable``."""
    value = env.get(variable)
    if value is None:
        return default
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise UsageError(f"{variable}={value!r}: expected a number of bytes, at least 1")
    return limit
