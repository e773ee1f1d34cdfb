"""Extra request headers from the command line: ``--header "Name: value"`` and
``--header-env "Name=VAR"``, parsed the same way by every command that sends headers.

A header that carries a credential (``Authorization``, ``X-API-Key`` ...) belongs in
``--header-env``: a value in argv shows in the process list and the shell history, so one given
with ``--header`` gets a warning.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from notifyctl import output
from notifyctl.errors import UsageError
from notifyctl.redaction import SECRET_HEADERS


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` -> (name, value); a one-line UsageError otherwise."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name or any(c.isspace() or not c.isprintable() for c in name):
        raise UsageError(f"--header {text!r}: expected 'Name: value'")
    _check_value(f"--header {name}", value)
    return name, value


def parse_headers(values: Iterable[str] | None) -> dict[str, str]:
    """Several ``"Name: value"`` texts into a dict (a later one replaces an earlier name)."""
    return dict(parse_header(text) for text in values or ())


def from_options(
    header: Iterable[str] | None,
    header_env: Iterable[str] | None,
    env: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The headers ``--header`` and ``--header-env`` ask for, the latter read from the
    environment; warns when a credential header was written into the command line."""
    headers = parse_headers(header)
    for name in headers:
        if name.lower() in SECRET_HEADERS:
            output.current().warn(
                f"--header {name}: its value is visible in the process list and shell history;"
                f" pass it with --header-env '{name}=VARIABLE' instead"
            )
    for spec in header_env or ():
        name, sep, variable = (part.strip() for part in spec.partition("="))
        if not sep or not name or not variable or any(
            c.isspace() or not c.isprintable() for c in name
        ):
            raise UsageError(f"--header-env {spec!r}: expected 'Name=VARIABLE'")
        value = env.get(variable)
        if value is None:
            raise UsageError(f"--header-env {name}={variable}: the environment variable "
                             f"{variable} is not set")
        _check_value(f"--header-env {name}", value)
        headers[name] = value.strip()
    return headers


def _check_value(where: str, value: str) -> None:
    if any(c in "\r\n" for c in value):
        raise UsageError(f"{where}: the value may not contain line breaks")
