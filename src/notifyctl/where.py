"""``--where EXPR``: a jq boolean expression over an event line, compiled once.

Shared by ``tail``, ``listen`` and ``replay``; it knows events, never a platform. An event
matches when the expression's first output is truthy in jq's sense (anything but ``false`` and
``null``). The event is handed to jq as the JSON line ``-o jsonl`` prints, so an expression
tested with ``jq`` on that output selects the same events here. An expression that fails on one
event (``startswith`` on a missing device, say) does not match it; it does not end the run.
The ``jq`` bindings load only when ``--where`` is given (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from notifyctl.errors import UsageError

Predicate = Callable[[Any], bool]


def compile_where(expression: str) -> Predicate:
    """A predicate over ``events.Event``s (or any msgspec-encodable line); bad jq: exit 2."""
    import jq  # loaded only with --where
    import msgspec

    try:
        program = jq.compile(expression)
    except ValueError as exc:
        raise UsageError(f"--where {expression!r}: {jq_error_line(str(exc))}",
                         hint="a jq boolean expression, e.g. '.kind == \"notification\"'") from None
    encode = msgspec.json.Encoder().encode

    def matches(event: Any) -> bool:
        try:
            first = program.input_text(encode(event).decode("utf-8")).first()
        except (ValueError, StopIteration):  # a jq runtime error, or no output at all
            return False
        return first is not None and first is not False

    return matches


def jq_error_line(message: str) -> str:
    """jq's compile error, first line, without its 'jq: error: ' prefix."""
    first = message.strip().splitlines()[0] if message.strip() else "not a jq expression"
    return first.removeprefix("jq: error: ").rstrip(":")
