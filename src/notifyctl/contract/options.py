"""Declarations a platform makes as plain data: its command options, profile settings and table
columns. The CLI turns ``Opt`` into command-line options; nothing here imports Typer or Click,
so a platform package stays free of the CLI and ``--help`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Opt:
    """One option a platform adds to a shared command (``register``, ``tail``, ``replay``...).

    ``flag`` is the long name (``--include-uid``); ``negative`` a ``--no-...`` form for a
    boolean that defaults to true. ``kind`` is ``str``, ``int``, ``float`` or ``bool``;
    ``multiple`` makes it repeatable (a list). ``choices`` are also offered by TAB completion;
    ``completer`` is a ``"module:function"`` that TAB calls with the resolved profile's
    settings and the word typed, where the candidates depend on the profile (ThingSpace's
    services per API), imported only on TAB. The value reaches the platform under ``dest``
    (the flag without dashes, ``-`` as ``_``).
    """

    flag: str
    help: str
    kind: type = str
    default: Any = None
    multiple: bool = False
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    negative: str | None = None
    completer: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def labelled(self, owners: Sequence[str]) -> str:
        """The help behind the owners' label (``pelion: re-chunk ...``) where several platforms'
        options are listed together: the sentence goes on in lower case, as the shared options'
        help reads; a leading acronym (``BATCH_URL``, ``GET``) stays."""
        text = self.help[0].lower() + self.help[1:] if self.help[:2].istitle() else self.help
        return f"{', '.join(owners)}: {text}"

    def given(self, value: Any) -> bool:
        """Whether ``value`` is something the user passed rather than the default."""
        if self.multiple:
            return bool(value)
        return bool(value != self.default)


# The user's own headers, sent with every delivery: declared by the platforms that send them
# (their register option), and spelt the same on replay.
HEADER_OPTIONS = (
    Opt("--header", "'Name: value' sent with every delivery (repeatable).", multiple=True),
    Opt("--header-env", "'Name=VARIABLE': a header whose value (a token) comes from the "
        "environment, never the command line (repeatable).", multiple=True),
)



@dataclass(frozen=True)
class Setting:
    """A setting a profile of one platform may hold beyond provider/api_url/account, and the
    values it accepts, so a mistake is refused when the profile is written or read, not when a
    command first uses it."""

    meaning: str
    # Accepted values, compared ignoring case; empty: any text (within ``prefixes``).
    choices: tuple[str, ...] = ()
    # The value must start with one of these (a path, a URL scheme); empty: no constraint.
    prefixes: tuple[str, ...] = ()
    # The value a profile without the setting gets.
    default: str | None = None

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not acceptable (naming the valid values), or None when it is."""
        if isinstance(value, (dict, list)) or value is None:
            return "must be a plain value"
        text = str(value).strip()
        if self.choices and text.lower() not in (choice.lower() for choice in self.choices):
            return f"{text!r} is not one of {', '.join(self.choices)}"
        if self.prefixes and not text.startswith(self.prefixes):
            return f"{text!r} must start with {' or '.join(map(repr, self.prefixes))}"
        return None


@dataclass(frozen=True)
class Column:
    """A column of ``tail``'s live table, as a platform declares it (``Platform.columns``): the
    platform knows which of its events' fields matter.

    ``field`` is an ``Event`` attribute, or ``"content"`` (payload, value or output chunk: the
    column that takes the remaining width); ``header`` its title. ``width`` is the least useful
    width (0: the header's), ``most`` the widest the column grows to before the content column
    gets the rest. On a narrow terminal the column with the lowest ``keep`` is dropped first.
    ``fit`` columns (kind, time) are as wide as their widest value so far and never cut: a cut
    kind is ambiguous.
    """

    field: str
    header: str
    width: int = 0
    keep: int = 0
    most: int = 0
    fit: bool = False


# What every platform's events have; a platform's own columns go between device and content.
TIME = Column("time", "time", fit=True, keep=90)
KIND = Column("kind", "kind", fit=True, keep=100)
DEVICE = Column("device", "device", width=12, most=36, keep=60)
CONTENT = Column("content", "payload", width=8, keep=80)
DEFAULT_COLUMNS: tuple[Column, ...] = (TIME, KIND, DEVICE, CONTENT)
