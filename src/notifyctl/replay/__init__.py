"""``replay``: re-deliver captured deliveries exactly as each platform would.

Public API (imported lazily, so listing fixtures does not load aiohttp)::

    from notifyctl.replay import replay, Options, load_rules, RuleOptions, read_inputs
    rules = load_rules("pelion", RuleOptions(target="http://127.0.0.1:8080/hook"))
    report = await replay(read_inputs(["capture.jsonl"]), rules.options.target, rules, Options())

Modules: ``inputs`` (streaming readers), ``rules`` (one module per provider), ``signed``
(captured signatures), ``engine`` (pacing, concurrency, attempts, transport), ``answers``
(decoding answers the rules read), ``reach`` (giving up on targets that never answered),
``report`` (counters, latency histogram, summary), ``fixtures`` (built-in bodies).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notifyctl.replay.engine import Deliverer, Options, replay
    from notifyctl.replay.inputs import InputStats, Item, read_inputs
    from notifyctl.replay.report import Report
    from notifyctl.replay.rules import load as load_rules
    from notifyctl.replay.rules.base import Request, RuleOptions, Rules

_EXPORTS = {
    "Deliverer": "notifyctl.replay.engine",
    "Options": "notifyctl.replay.engine",
    "replay": "notifyctl.replay.engine",
    "InputStats": "notifyctl.replay.inputs",
    "Item": "notifyctl.replay.inputs",
    "read_inputs": "notifyctl.replay.inputs",
    "Report": "notifyctl.replay.report",
    "load_rules": "notifyctl.replay.rules",
    "Request": "notifyctl.replay.rules.base",
    "RuleOptions": "notifyctl.replay.rules.base",
    "Rules": "notifyctl.replay.rules.base",
}

__all__ = [
    "Deliverer", "InputStats", "Item", "Options", "Report", "Request", "RuleOptions", "Rules",
    "load_rules", "read_inputs", "replay",
]


def __getattr__(name: str) -> Any:
    import importlib

    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    attribute = "load" if name == "load_rules" else name
    return getattr(importlib.import_module(module), attribute)
