"""The one module that prints: data to stdout, everything else to stderr.

People get Rich tables; machines get JSON (documents) or JSON lines (streams). When stdout is
not a terminal the machine format is the default. Untrusted text (device payloads, headers,
server messages) passes through ``inert`` so escape sequences and Rich markup show as text.
Rich is imported only when something is rendered for a person.

With ``--log-format json`` every stderr line is one JSON object instead: ``{"level", "event",
"message", ...}`` plus the record's own fields (a state, a summary, an exit code), so CI and
agents read stderr without regexes; stdout is unchanged (data only). Every stderr write goes
through ``record``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def inert_str(value: object) -> str:
    """Control characters (escape sequences included) become visible ``\\xNN`` escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def inert(value: object) -> Text:
    """Untrusted text as a Rich ``Text``: never parsed as markup, never a terminal control."""
    from rich.text import Text

    return Text(inert_str(value))


@dataclass
class Output:
    """Printing settings chosen by the global options; one instance per run."""

    no_color: bool = False
    quiet: bool = False
    verbose: bool = False
    stdout: TextIO | None = None
    stderr: TextIO | None = None
    log_format: str = "text"  # or "json": one object per stderr line

    @property
    def json_log(self) -> bool:
        return self.log_format == "json"

    @property
    def out(self) -> TextIO:
        return self.stdout or sys.stdout

    @property
    def err(self) -> TextIO:
        return self.stderr or sys.stderr

    @property
    def stdout_is_tty(self) -> bool:
        return self.out.isatty()

    def choose_format(
        self, requested: str | None, human: str = "table", machine: str = "json"
    ) -> str:
        """The explicit ``-o`` wins; otherwise a table for a terminal and JSON for a pipe."""
        if requested:
            return requested
        return human if self.stdout_is_tty else machine

    @cached_property
    def _color_off(self) -> bool:
        return self.no_color or bool(os.environ.get("NO_COLOR"))

    @cached_property
    def console(self) -> Console:
        from rich.console import Console

        return Console(file=self.out, no_color=self._color_off, highlight=False)

    @cached_property
    def err_console(self) -> Console:
        from rich.console import Console

        return Console(file=self.err, no_color=self._color_off, highlight=False, stderr=True)

    # -- data (stdout) ------------------------------------------------------------------
    def json(self, data: Any) -> None:
        self.out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        self.out.flush()

    def jsonl(self, records: Iterable[Any]) -> None:
        write = self.out.write
        for record in records:
            write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.out.flush()

    def table(
        self, columns: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None
    ) -> None:
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(inert("" if cell is None else cell) for cell in row))
        self.console.print(table)

    # -- diagnostics (stderr) -----------------------------------------------------------
    # ``event`` names what happened for --log-format json (default: the level); ``fields``
    # are added to its object (and not shown in text).
    def info(self, message: str, event: str = "info", **fields: Any) -> None:
        """Progress and context; silenced by ``-q``."""
        if not self.quiet:
            self.record("info", event, message, "", **fields)

    def notice(self, message: str, event: str = "notice", **fields: Any) -> None:
        """A line scripts depend on even with ``-q``, such as the URL a server listens on."""
        self.record("notice", event, message, "bold", **fields)

    def success(self, message: str, event: str = "success", **fields: Any) -> None:
        if not self.quiet:
            self.record("info", event, message, "green", **fields)

    def warn(self, message: str, event: str = "warning", **fields: Any) -> None:
        self.record("warning", event, message, "yellow", **fields)

    def error(self, message: str, event: str = "error", **fields: Any) -> None:
        self.record("error", event, message, "red", **fields)

    def debug(self, message: str, event: str = "debug", **fields: Any) -> None:
        if self.verbose:
            self.record("debug", event, message, "dim", **fields)

    def record(self, level: str, event: str, message: str, style: str = "",
               **fields: Any) -> None:
        """One stderr line: text (``warning:``/``error:`` prefixed) or one JSON object."""
        if self.json_log:
            doc = {"level": level, "event": event, "message": message, **fields}
            self._write(json.dumps(doc, ensure_ascii=False, default=str))
            return
        prefix = f"{level}: " if level in ("warning", "error") else ""
        text = inert_str(prefix + message)
        if self.err.isatty() and not self._color_off and style:
            self.err_console.print(inert(text), style=style)
        else:
            self._write(text)

    def _write(self, line: str) -> None:
        self.err.write(line + "\n")
        self.err.flush()


_current = Output()


def configure(**settings: Any) -> Output:
    """Set the run's printing options (called once by the root command)."""
    global _current
    _current = Output(**settings)
    return _current


def current() -> Output:
    return _current
