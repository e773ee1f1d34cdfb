"""The run's global options and the command line being run: what the root callback sets and
``main`` reads, kept in a module of its own so that TAB completion and ``--help`` load nothing
more than Typer to reach them."""

from __future__ import annotations

from dataclasses import dataclass

import typer


@dataclass
class GlobalOptions:
    profile: str | None = None
    config: str | None = None
    no_color: bool = False
    verbose: bool = False
    quiet: bool = False
    log_format: str = "text"  # --log-format: text, or json (one object per stderr line)
    # The arguments of the command line being run (main records them); the platforms a
    # command's options are built for are read from them before parsing.
    argv: list[str] | None = None


# Set by the root callback before any command runs; read by main() to decide on tracebacks.
GLOBALS = GlobalOptions()


def complete_profile(ctx: typer.Context, incomplete: str) -> list[str]:
    from notifyctl.config import config_path, profile_names_for_completion

    path = config_path(ctx.find_root().params.get("config"))
    return [name for name in profile_names_for_completion(path) if name.startswith(incomplete)]
