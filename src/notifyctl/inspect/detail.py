"""The detail pane's text for one delivery: where it came from, its request line, its headers
with secrets masked (``redaction``: a HAR file keeps them in the clear), the events the
platform's receiver decodes from it, one event line each (as ``listen -o jsonl`` prints them),
and the body, pretty-printed where it is JSON.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import msgspec

from notifyctl.contract.deliver import Item
from notifyctl.inspect.summary import Summary
from notifyctl.redaction import mask_headers, mask_query, redact

_encode = msgspec.json.Encoder().encode
MAX_BODY = 64 * 1024  # characters of a body shown; the rest is said, not drawn


def render(summary: Summary, item: Item | None, events: list[Any]) -> str:
    """Plain text (no markup: captured bytes are shown, never interpreted)."""
    if summary.problem is not None or item is None:
        return f"{summary.where}\n\nnot a delivery: {summary.problem}"
    lines = [f"{summary.where}  {summary.provider}  {summary.time or 'no time'}  "
             f"status {summary.status}", ""]
    if item.method or item.path:
        lines.append(f"{item.method or '?'} {mask_query(item.path or '/')}")
    lines += [f"{name}: {value}" for name, value in mask_headers(item.headers or {}).items()]
    lines += ["", f"events ({len(events)})"]
    lines += [redact(_encode(event).decode("utf-8", "replace")) for event in events]
    lines += ["", f"body ({len(item.body):,} bytes)", body_text(item.body)]
    return "\n".join(lines)


def body_text(body: bytes) -> str:
    """JSON indented; other text as it is; bytes that are not UTF-8 said so."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(body):,} bytes, not UTF-8 text)"
    with contextlib.suppress(ValueError):  # not JSON: shown as it is
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    if len(text) > MAX_BODY:
        return text[:MAX_BODY] + f"\n… {len(text) - MAX_BODY:,} more characters"
    return text
