"""``replay --patch EXPR``: a jq expression that edits each captured JSON body before the
platform's rules turn it into requests, so signatures and Content-Length are the rules' and the
transport's, computed over the patched bytes.

The stage sits between the selection (``--pick``, ``--where``: they see the captured body) and
the rules, on the stream of ``Item``s; names no platform. A body is patched only when it is one
JSON value (a form, XML, text-line or binary body cannot be: that is bad input, naming its
content type). The expression must give exactly one value. A result equal to the captured
document keeps the captured bytes (and so a captured signature stays valid); any other is
written as compact JSON and the item marked ``edited``, so rules that would resend a captured
signature refuse it without a key. The patched body is then decoded by the platform's own
receiver (as ``listen`` would): a body it refuses is bad input too. Bad input stops the run
(``FILE:LINE: what is wrong``, exit 2) or, with ``--skip-invalid``, is counted and skipped.

A patched body is written with jq's numbers: doubles (integers beyond 2**53 lose precision),
in jq's canonical form (``21.0`` becomes ``21``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from notifyctl.contract.deliver import InputStats, Item, header
from notifyctl.errors import UsageError
from notifyctl.where import jq_error_line


class Unpatchable(Exception):
    """Why one body cannot be patched (bad input, not a usage error of the expression)."""


def compile_patch(expression: str) -> Callable[[Any], Iterator[Any]]:
    """The compiled expression (document -> its outputs); a bad one is exit 2 with jq's
    message and the expression."""
    import jq  # loaded only with --patch

    try:
        program = jq.compile(expression)
    except ValueError as exc:
        raise UsageError(f"--patch {expression!r}: {jq_error_line(str(exc))}",
                         hint="a jq expression giving the new body, e.g. "
                         "'.eventData.accessoryId = \"cam-2\"'") from None

    def run(document: Any) -> Iterator[Any]:
        return iter(program.input_value(document))

    return run


@dataclasses.dataclass(frozen=True)
class Patch:
    """``--patch EXPR`` compiled (once, when the options are read)."""

    expression: str
    run: Callable[[Any], Iterator[Any]]

    @classmethod
    def compile(cls, expression: str) -> Patch:
        return cls(expression, compile_patch(expression))


class Patcher:
    """Applies a patch to captured deliveries of ``platform``, checking each result with its
    receiver (``check``: the item -> why its body is not the platform's, or None)."""

    def __init__(self, patch: Patch, platform: str,
                 check: Callable[[Item], str | None] | None = None) -> None:
        self.expression = patch.expression
        self.run = patch.run
        self.platform = platform
        self.check = check or receiver_check(platform)

    def body(self, item: Item) -> bytes | None:
        """The patched body; None when it equals the captured document. ``Unpatchable``."""
        document = _json_document(item)
        outputs = self._outputs(document)
        if not outputs:
            raise Unpatchable("the patch gave no body (jq 'empty', or a select that failed)")
        if len(outputs) > 1:
            raise Unpatchable("the patch gave more than one body (wrap it in [...] to make "
                              "one array)")
        result = outputs[0]
        if result == document and type(result) is type(document):
            return None
        return json.dumps(result, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")

    def _outputs(self, document: Any) -> list[Any]:
        """Up to two of the expression's outputs (one too many is enough to refuse); a jq
        runtime error becomes ``Unpatchable``."""
        try:
            return list(itertools.islice(self.run(document), 2))
        except ValueError as exc:
            raise Unpatchable(f"jq: {jq_error_line(str(exc))}") from None

    def item(self, item: Item) -> Item:
        """``item`` with its body patched and checked; ``Unpatchable`` says why not."""
        body = self.body(item)
        if body is None:
            return item
        patched = dataclasses.replace(item, body=body, edited=True)
        problem = self.check(patched)
        if problem is not None:
            raise Unpatchable(f"the patched body is not a valid {self.platform} delivery: "
                              f"{problem}")
        return patched


def patched(items: Iterable[Item], patcher: Patcher, *, skip_invalid: bool,
            stats: InputStats) -> Iterator[Item]:
    """``items`` with their bodies patched; a body that cannot be stops the run (exit 2, FILE:LINE)
    or, with ``skip_invalid``, is counted in ``stats`` and left out."""
    for item in items:
        try:
            yield patcher.item(item)
        except Unpatchable as exc:
            message = f"{item.where}: --patch {patcher.expression!r}: {exc}"
            if not skip_invalid:
                raise UsageError(message, hint="check the expression against this body, or "
                                 "pass --skip-invalid to leave such deliveries out") from None
            stats.skip(message)


def receiver_check(platform: str) -> Callable[[Item], str | None]:
    """Why the platform's receiver refuses an item's body (decoding only), or None."""
    from notifyctl.replay.select import receiver

    handle = receiver(platform)

    def check(item: Item) -> str | None:
        return handle(item).invalid

    return check


def _json_document(item: Item) -> Any:
    """The body as one JSON value, or ``Unpatchable`` naming what it is instead."""
    try:
        return json.loads(item.body)
    except (ValueError, UnicodeDecodeError):
        kind = header(item.headers, "content-type") or "not JSON"
        raise Unpatchable(f"only JSON bodies can be patched; this one is "
                          f"{kind.split(';', 1)[0].strip()} ({len(item.body)} bytes)") from None

