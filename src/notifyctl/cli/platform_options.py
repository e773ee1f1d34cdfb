"""Platforms' own options on the shared commands, built from their ``Opt`` declarations.

A shared command (``register``, ``listen``, ``replay``...) is a plain function with the shared
options and one keyword, ``platform_options``. ``with_platform_options`` gives Typer a function
whose signature also carries the declared options of the platforms in play, and hands their
values to the command as one ``PlatformValues``:

- with a platform already known when the command is built (``--provider`` on the command line,
  ``NOTIFYCTL_PROVIDER``, or the profile's provider), only its options exist, so ``--help``
  lists them and not the others', and another platform's option fails to parse;
- with none known (``register --help`` outside a profile, TAB completion), every platform's
  options are there, and ``PlatformValues.take`` refuses the ones of other platforms once the
  command has resolved its platform.

Both refusals say the same thing (``refusal``): "--include-uid is a pelion option, not for
sigfox". Nothing here imports the network stack; the registry reads declarations only.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from notifyctl.contract import Opt, Platform
from notifyctl.errors import UsageError

KEYWORD = "platform_options"


@dataclass
class PlatformValues:
    """The values of the platform options a command was built with, by ``dest``."""

    command: str
    values: dict[str, Any] = field(default_factory=dict)
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)

    def take(self, platform: Platform) -> dict[str, Any]:
        """``platform``'s option values (its defaults where not given); an option of another
        platform that was given is a usage error."""
        mine = {opt.dest: opt for opt in platform.options_for(self.command)}
        for dest, value in self.values.items():
            opt = mine.get(dest)
            if opt is None and value not in (None, False, [], ()):
                raise refusal(self.command, self.flags[dest], self.owners[dest], platform.name)
        taken: dict[str, Any] = {}
        for dest, opt in mine.items():
            value = self.values.get(dest)
            if opt.multiple:
                taken[dest] = list(value or opt.default or [])
            else:
                taken[dest] = opt.default if value is None else value
        return taken


def refusal(command: str, flag: str, owners: Sequence[str], platform: str) -> UsageError:
    """The one message for an option of another platform."""
    article = "an" if owners[0][:1] in ("a", "e", "i", "o", "u") else "a"
    return UsageError(f"{flag} is {article} {' and '.join(owners)} option, not for {platform}",
                      hint=f"see 'notifyctl {command} --help' with --provider {platform}")


def merged(command: str, platforms: Iterable[Platform]
           ) -> list[tuple[Opt, tuple[str, ...]]]:
    """The options ``platforms`` declare for ``command``, one per ``dest``, with their owners
    (platforms that share an option name share the option)."""
    found: dict[str, tuple[Opt, list[str]]] = {}
    for platform in platforms:
        for opt in platform.options_for(command):
            if opt.dest in found:
                found[opt.dest][1].append(platform.name)
            else:
                found[opt.dest] = (opt, [platform.name])
    return [(opt, tuple(owners)) for opt, owners in found.values()]


def _parameter(opt: Opt, owners: tuple[str, ...], alone: bool) -> inspect.Parameter:
    names = [f"{opt.flag}/{opt.negative}"] if opt.negative else [opt.flag]
    kind: Any = list[opt.kind] if opt.multiple else opt.kind  # type: ignore[name-defined]
    if not opt.multiple and opt.kind is not bool:
        kind = kind | None
    choices = opt.choices

    def complete(incomplete: str) -> list[str]:
        return [choice for choice in choices if choice.startswith(incomplete)]

    text = opt.help if alone else opt.labelled(owners)
    completer: Callable[..., list[str]] | None = complete if choices else None
    if opt.completer:
        from notifyctl.cli.completers import declared

        completer = declared(opt.completer)
    info = typer.Option(*names, help=text, metavar=opt.metavar,
                        show_default=opt.kind is bool and opt.default is True,
                        autocompletion=completer)
    default = opt.default if opt.kind is bool else None
    return inspect.Parameter(opt.dest, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[kind, info])


def with_platform_options(command: str, function: Callable[..., Any],
                          platforms: Sequence[Platform]) -> Callable[..., Any]:
    """``function`` with the options ``platforms`` declare for ``command`` added to its
    signature; their values reach it as ``platform_options=PlatformValues(...)``."""
    options = merged(command, platforms)
    signature = inspect.signature(function, eval_str=True)
    shared = [p for name, p in signature.parameters.items() if name != KEYWORD]
    taken = {p.name for p in shared}
    extra = [_parameter(opt, owners, len(platforms) == 1) for opt, owners in options
             if opt.dest not in taken]
    dests = [p.name for p in extra]
    owners = {opt.dest: owner for opt, owner in options}
    flags = {opt.dest: opt.flag for opt, _ in options}

    def wrapper(**kwargs: Any) -> Any:
        values = {dest: kwargs.pop(dest) for dest in dests if dest in kwargs}
        return function(**kwargs, **{KEYWORD: PlatformValues(command, values, owners, flags)})

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*shared, *extra], return_annotation=None)
    wrapper.__annotations__ = {p.name: p.annotation for p in [*shared, *extra]}
    return wrapper


def requested_provider(argv: Sequence[str], env: Mapping[str, str] = os.environ,
                       profile_provider: Callable[[str | None], str | None] | None = None
                       ) -> str | None:
    """The provider a command line asks for before any parsing: ``--provider X``, else
    ``NOTIFYCTL_PROVIDER``, else the provider of the profile (``-p NAME``,
    ``NOTIFYCTL_PROFILE`` or the default, through ``profile_provider``). None when unknown."""
    given = flag_value(argv, ("--provider",))
    if given:
        return given
    if env.get("NOTIFYCTL_PROVIDER"):
        return env["NOTIFYCTL_PROVIDER"]
    if profile_provider is None:
        return None
    return profile_provider(flag_value(argv, ("-p", "--profile")) or env.get("NOTIFYCTL_PROFILE"))


def flag_value(argv: Sequence[str], names: Sequence[str]) -> str | None:
    for index, arg in enumerate(argv):
        if arg == "--":
            return None
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(name + "=") and name.startswith("--"):
                return arg[len(name) + 1:]
    return None


def current_argv() -> list[str]:
    """The arguments of this run (``main`` records them; a plain script run has sys.argv)."""
    from notifyctl.cli.state import GLOBALS

    return list(GLOBALS.argv) if GLOBALS.argv is not None else sys.argv[1:]
