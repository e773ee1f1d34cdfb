"""The kinds of Iottly stream events (docs/architecture.md, "Event lines"): plain data, so TAB
completion
(``tail --kind``) and option checks read them without loading the decoder."""

from __future__ import annotations

KINDS: tuple[str, ...] = ("telemetry", "command-output", "command-done")
