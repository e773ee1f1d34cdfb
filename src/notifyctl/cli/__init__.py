"""The command-line entry point: the root Typer app, and ``main``, where errors become exit codes.

Commands live in sibling modules and stay thin: parse, call one core function, render. Nothing
here imports the network stack, keyring or YAML at module level, so ``--help``, ``--version`` and
TAB completion stay fast (a test checks ``sys.modules``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from notifyctl import __version__
from notifyctl.cli.completion import COMPLETE_VAR
from notifyctl.cli.state import GLOBALS, complete_profile

if TYPE_CHECKING:
    from typer import _click

    from notifyctl.contract import Platform

ISSUES_URL = "https://github.com/notifyctl/notifyctl/issues"
_SECRET_OPTION = re.compile(r"key|token|secret|passw", re.IGNORECASE)

# The shared subcommands, in the order people meet them (the main job first, set-up next):
# name -> "module:attribute", where a Typer attribute is a command group and a function a
# command. A platform's own subcommands (``notifyctl sigfox ...``) come from its declaration
# (``Platform.commands``) and are listed before ``completion``. Only the one being run or
# completed is imported and built.
COMMANDS = {
    "tail": "notifyctl.cli.tail:tail",
    "register": "notifyctl.cli.channels:register",
    "unregister": "notifyctl.cli.channels:unregister",
    "list": "notifyctl.cli.channels:list_channels",
    "listen": "notifyctl.cli.listen:listen",
    "replay": "notifyctl.cli.replay:replay",
    "inspect": "notifyctl.cli.inspect_command:inspect_deliveries",
    "sandbox": "notifyctl.cli.sandbox:sandbox",
    "trigger": "notifyctl.cli.trigger:trigger",
    "profile": "notifyctl.cli.profile:app",
    "auth": "notifyctl.cli.auth:app",
    "completion": "notifyctl.cli.completion:completion",
}


class LazyRoot(TyperGroup):
    """The root group, building a subcommand's Click command only when it is asked for.

    Typer inspects every parameter of every command to build it; done for all 27 commands on
    every run and every TAB that cost ~19 ms (pip's ``commands_dict`` does the same for the
    same reason). ``--help`` and completing a command name still build them all.
    """

    def list_commands(self, ctx: _click.Context) -> list[str]:
        *shared, last = COMMANDS
        return [*shared, *_platform_commands(), last]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name in COMMANDS or cmd_name in _platform_commands():
            return _build(cmd_name)
        return None


def _platform_commands() -> dict[str, str]:
    """``notifyctl <platform> ...``: every platform that declares commands of its own."""
    from notifyctl import registry

    return {name: platform.commands for name, platform in registry.platforms().items()
            if platform.commands is not None}


def _build(name: str) -> _click.Command:
    """The command ``name``; one taking platform options is built for the platforms in play
    (a process running several command lines, as the tests do, may resolve different ones)."""
    target = _target(name)
    if isinstance(target, typer.Typer):
        return _built(name, None)
    from notifyctl.cli import platform_options

    if platform_options.KEYWORD not in inspect.signature(target).parameters:
        return _built(name, None)
    return _built(name, tuple(platform.name for platform in _platforms_in_play()))


def _target(name: str) -> Any:
    if name in COMMANDS:
        module, _, attribute = COMMANDS[name].partition(":")
    else:
        # A platform's own subcommands reach the CLI through the host the CLI installs.
        from notifyctl.cli.channels import PlatformHost
        from notifyctl.contract import commands

        commands.install(PlatformHost())
        module, _, attribute = _platform_commands()[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


@functools.cache
def _built(name: str, in_play: tuple[str, ...] | None) -> _click.Command:
    target = _target(name)
    if in_play is not None:
        from notifyctl import registry
        from notifyctl.cli import platform_options

        platforms = registry.platforms()
        target = platform_options.with_platform_options(
            name, target, [platforms[each] for each in in_play])
    # A holder group gives the command the root's settings (plain help, no Rich) through
    # Typer's public API only.
    holder = typer.Typer(rich_markup_mode=None)
    holder.callback()(lambda: None)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group.commands[name]


def _platforms_in_play() -> list[Platform]:
    """The platform this command line resolves to before parsing (its options only), else
    every platform (each refuses the others' options once the command knows its own)."""
    from notifyctl import registry
    from notifyctl.cli import platform_options
    from notifyctl.config import config_path, profiles_for_completion

    argv = platform_options.current_argv()
    if os.environ.get(COMPLETE_VAR):
        import shlex

        argv = shlex.split(os.environ.get("COMP_WORDS", ""))[1:]

    def profile_provider(profile: str | None) -> str | None:
        default, profiles = profiles_for_completion(
            config_path(platform_options.flag_value(argv, ("--config",))))
        return profiles.get(profile or default or "", {}).get("provider")

    platforms = registry.platforms()
    wanted = platform_options.requested_provider(argv, os.environ, profile_provider)
    return [platforms[wanted]] if wanted in platforms else list(platforms.values())


app = typer.Typer(
    name="notifyctl",
    cls=LazyRoot,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"notifyctl {__version__}\n")
        raise typer.Exit()


LOG_FORMATS = ("text", "json")


def _log_format(value: str) -> str:
    """``--log-format``'s value, lower-cased; exit 2 for any other than text or json."""
    chosen = value.strip().lower()
    if chosen not in LOG_FORMATS:
        from notifyctl.errors import UsageError

        raise UsageError(f"--log-format {value!r}: choose text or json")
    return chosen


@app.callback()
def root(
    profile_name: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            help="Profile to use (env NOTIFYCTL_PROFILE; default: the config's default_profile).",
            autocompletion=complete_profile,
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Config file (env NOTIFYCTL_CONFIG;"
            " default $XDG_CONFIG_HOME/notifyctl/config.yaml).",
            show_default=False,
        ),
    ] = None,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (also NO_COLOR).")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug output and tracebacks on stderr.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only data and errors.")] = False,
    log_format: Annotated[
        str,
        typer.Option("--log-format", envvar="NOTIFYCTL_LOG_FORMAT",
                     help="stderr as text, or json: one {\"level\", \"event\", \"message\", ...}"
                     " object per line (env NOTIFYCTL_LOG_FORMAT).",
                     callback=_log_format),
    ] = "text",
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Manage, tail, capture and replay IoT platform notification channels.

    \b
    Examples:
      notifyctl profile add prod --provider pelion
      notifyctl -p prod auth login
      notifyctl -p prod auth status -o json

    Exit codes: 0 ok, 2 usage/config, 3 auth, 4 not found, 5 network,
    6 replay failures, 7 verification failed, 8 count not reached, 130/143 signals.
    """
    from notifyctl import output

    GLOBALS.profile = profile_name
    GLOBALS.config = config
    GLOBALS.no_color = no_color
    GLOBALS.verbose = verbose
    GLOBALS.quiet = quiet
    GLOBALS.log_format = log_format
    output.configure(no_color=no_color, quiet=quiet, verbose=verbose, log_format=log_format)



def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; the only place errors are printed."""
    args = sys.argv[1:] if argv is None else argv
    _command_line(args)
    if os.environ.get(COMPLETE_VAR):
        # Typer registers its shell classes only with add_completion=True; TAB needs them.
        from typer._completion_classes import completion_init

        completion_init()
    from notifyctl.errors import ExitStatus

    try:
        code = _dispatch(args)
        # What is still buffered goes now: a reader gone meanwhile shows here, not as a
        # traceback in the interpreter's own flush at exit.
        sys.stdout.flush()
        return code
    except BaseException as exc:
        # Click and Rich turn a broken pipe into SystemExit(1) before we see it; a closed
        # stdout (`notifyctl ... | head`) is the reader's choice, not our failure.
        from notifyctl import pipes

        if not pipes.stdout_closed(exc):
            raise
        pipes.silence_stdout()
        return ExitStatus.OK
    finally:
        _command_line(None)


def _command_line(args: list[str] | None) -> None:
    """Start (or end, with None) the run of one command line: the platforms in play are read
    from it (commands are cached per platforms in play, so a process running several command
    lines, as the tests do, never reuses one built for another)."""
    GLOBALS.argv = None if args is None else list(args)


def _dispatch(args: list[str]) -> int:
    """Run the command; every error it raises becomes its one-line message and exit code."""
    from typer import _click
    from typer.exceptions import Abort, Exit

    from notifyctl import output, pipes
    from notifyctl.errors import ExitStatus, Interrupted, NotifyctlError
    from notifyctl.redaction import redact

    _early_log_format(args)
    command = typer.main.get_command(app)
    try:
        result = command.main(args, prog_name="notifyctl", standalone_mode=False)
        return result if isinstance(result, int) else ExitStatus.OK
    except Interrupted as exc:
        # The user (or a supervisor) asked us to stop: not an error worth the word.
        output.current().info(f"stopped: {exc.message}", event="stopped",
                              exit_code=int(exc.exit_code))
        return exc.exit_code
    except NotifyctlError as exc:
        if pipes.stdout_closed(exc):
            raise
        _traceback_if_verbose()
        output.current().error(redact(str(exc)), exit_code=int(exc.exit_code),
                               error=type(exc).__name__)
        return exc.exit_code
    except Exit as exc:
        return exc.exit_code
    except (Abort, KeyboardInterrupt):
        output.current().record("notice", "interrupted", "interrupted")
        return ExitStatus.SIGINT
    except _click.exceptions.ClickException as exc:
        output.current().error(redact(_usage_message(exc)), exit_code=int(exc.exit_code),
                               error="UsageError")
        return exc.exit_code
    except Exception as exc:
        if pipes.stdout_closed(exc):
            raise
        _traceback_if_verbose()
        out = output.current()
        out.error(f"unexpected {type(exc).__name__}: {redact(str(exc))}",
                  exit_code=int(ExitStatus.BUG), error=type(exc).__name__)
        out.record("error", "bug", f"This is a bug in notifyctl {__version__}; run again with "
                   f"-v and report it at {ISSUES_URL}")
        return ExitStatus.BUG


def _early_log_format(args: list[str]) -> None:
    """``--log-format json`` before the root callback has run, so that an error parsing the
    command line is a JSON line too."""
    from notifyctl import output
    from notifyctl.cli import platform_options

    value = platform_options.flag_value(args, ("--log-format",)) or os.environ.get(
        "NOTIFYCTL_LOG_FORMAT")
    chosen = (value or "text").strip().lower()
    output.current().log_format = chosen if chosen in LOG_FORMATS else "text"


def _usage_message(exc: _click.ClickException) -> str:
    """Click's usage error as one line like every other error: what is wrong, a "did you
    mean" where a name was mistyped, and the help to read (Click's own is ``Error:`` plus a
    usage block)."""
    from typer import _click

    from notifyctl.suggest import did_you_mean

    message = exc.format_message().replace("\n", " ")
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, _click.exceptions.NoSuchOption):
        foreign = _foreign_option(exc.option_name, ctx)
        if foreign is not None:
            return foreign
        if _SECRET_OPTION.search(exc.option_name):
            return (f"{exc.option_name}: secrets are never taken as command-line options (they "
                    "would show in shell history and process lists); store them with "
                    "'notifyctl -p NAME auth login' or set NOTIFYCTL_API_KEY and friends")
    if ctx is None:
        return f"{message} (see 'notifyctl --help')"
    # Typer suggests for its own groups but not for the lazy root, whose commands it cannot see.
    unknown = re.fullmatch(r"No such command '(.+)'\.", message)
    if unknown and isinstance(ctx.command, LazyRoot):
        hint = did_you_mean(unknown.group(1), ctx.command.list_commands(ctx))
        return f"{message[:-1]} ({hint}see '{ctx.command_path} --help')"
    return f"{message} (see '{ctx.command_path} --help')"


def _foreign_option(flag: str, ctx: _click.Context | None) -> str | None:
    """The refusal for another platform's option, when ``flag`` is one (the command was built
    with only the resolved platform's options)."""
    from notifyctl import registry
    from notifyctl.cli import platform_options

    command = ctx.info_name if ctx is not None else None
    in_play = _platforms_in_play()
    if command is None or len(in_play) != 1:
        return None
    owners = [name for name, other in registry.platforms().items()
              if any(flag in (opt.flag, opt.negative) for opt in other.options_for(command))]
    if not owners:
        return None
    return str(platform_options.refusal(command, flag, owners, in_play[0].name))


def _traceback_if_verbose() -> None:
    """With ``-v``, the current exception's traceback, with secrets masked like every output."""
    if GLOBALS.verbose:
        import traceback

        from notifyctl import output
        from notifyctl.redaction import redact

        text = redact(traceback.format_exc())
        out = output.current()
        if out.json_log:
            out.record("debug", "traceback", text.rstrip().splitlines()[-1], traceback=text)
        else:
            sys.stderr.write(text)
