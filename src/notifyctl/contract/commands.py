"""The side of the contract for a platform's own subcommands (``notifyctl sigfox enable ...``).

A platform declares ``commands="pkg.commands:app"``, a ``typer.Typer``. Its commands take the
shared connection options declared here (so ``--provider``, ``--api-url``, ``--request-timeout``
and ``-o`` read and complete the same as on ``register``) and reach the CLI through ``host()``,
which the CLI installs before it builds a platform's commands:

- ``host().context(platform, Connect(...))`` resolves the connection (flag > environment >
  profile, ``--provider`` naming this platform only) and returns the ``ManageContext`` the
  platform's ``channels`` capability runs with (secrets, keyring, network options);
- ``host().table_format(fmt)`` checks ``-o`` of a command printing a table or JSON (exit 2
  for anything else) before any work, and returns "table" or "json";
- ``host().show(result, fmt)`` renders a ``Change`` (success line, warnings, a secret shown
  once; ``fmt`` text or json), a ``Listing`` (table, or JSON: ``fmt`` is ``-o``'s value) or
  any other JSON value as one JSON document;
- ``host().write(stream, chunk)`` writes a device's output to ``"stdout"`` or ``"stderr"``,
  inert on a terminal, exact to a pipe.

The exit code of a command is ``raise typer.Exit(code)``. Nothing here imports the network stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer

from notifyctl.contract.cli_options import (
    AccountOpt,
    ApiUrlOpt,
    CaBundleOpt,
    InsecureOpt,
    NetTimeoutOpt,
    TableJsonOpt,
)

# The shared options a platform's commands take (ProviderOpt below completes through the host).
__all__ = ["AccountOpt", "ApiUrlOpt", "CaBundleOpt", "Connect", "Host", "InsecureOpt",
           "NetTimeoutOpt", "ProviderOpt", "TableJsonOpt", "host", "install"]

if TYPE_CHECKING:
    from notifyctl.contract.manage import Change, Listing, ManageContext


@dataclass(frozen=True)
class Connect:
    """The shared connection and network options of a command, as given (None: not given)."""

    provider: str | None = None
    api_url: str | None = None
    account: str | None = None
    timeout: float | None = None
    insecure: bool = False
    ca_bundle: str | None = None
    # Refuse a profile of another platform unless --api-url says where to go.
    own_profile: bool = False
    options: dict[str, Any] = field(default_factory=dict)


class Host(Protocol):
    """What the CLI does for a platform's commands."""

    def context(self, platform: str, connect: Connect) -> ManageContext: ...

    def table_format(self, fmt: str | None) -> str: ...

    def show(self, result: Change | Listing | Any, fmt: str | None = None) -> None: ...

    def write(self, stream: str, chunk: str) -> None: ...

    def complete_provider(self, incomplete: str) -> list[str]: ...


_HOST: list[Host] = []


def install(chosen: Host) -> None:
    """Called by the CLI before it builds a platform's commands."""
    _HOST[:] = [chosen]


def host() -> Host:
    if not _HOST:
        raise RuntimeError("notifyctl's CLI has not installed a host for platform commands")
    return _HOST[0]


def _complete_provider(incomplete: str) -> list[str]:
    return host().complete_provider(incomplete) if _HOST else []


ProviderOpt = Annotated[
    str | None,
    typer.Option("--provider", help="Platform (overrides the profile; env NOTIFYCTL_PROVIDER).",
                 autocompletion=_complete_provider, show_default=False),
]
