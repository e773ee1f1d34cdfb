"""``replay``: re-deliver captured deliveries exactly as each platform would.

Public API (imported lazily, so listing fixtures does not load aiohttp)::

    from notifyctl.replay import replay, Options, load_rules, RuleOptions, read_inputs
    rules = load_rules(name, RuleOptions(target="http://127.0.0.1:8080/hook"))
    report = await replay(read_inputs(["capture.jsonl"]), rules.options.target, rules, Options())

Modules: ``inputs`` (streaming readers), ``engine`` (pacing, concurrency, attempts, transport;
``load_rules`` gets a platform's rules from the registry), ``http1`` (the keep-alive HTTP/1.1
client direct deliveries go through), ``answers`` (decoding answers the
rules read), ``reach`` (giving up on targets that never answered), ``report`` (counters,
latency histogram, summary), ``fixtures`` (the platforms' built-in captures). The rules
themselves, and the values they trade with the engine, are the platforms' side of the contract
(``notifyctl.contract.deliver``); signatures on replay are ``notifyctl.signing``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notifyctl.contract.deliver import InputStats, Item, Request, RuleOptions, Rules
    from notifyctl.replay.engine import Deliverer, Options, load_rules, replay
    from notifyctl.replay.inputs import read_inputs
    from notifyctl.replay.report import Report

_EXPORTS = {
    "Deliverer": "notifyctl.replay.engine",
    "Options": "notifyctl.replay.engine",
    "replay": "notifyctl.replay.engine",
    "load_rules": "notifyctl.replay.engine",
    "read_inputs": "notifyctl.replay.inputs",
    "Report": "notifyctl.replay.report",
    "InputStats": "notifyctl.contract.deliver",
    "Item": "notifyctl.contract.deliver",
    "Request": "notifyctl.contract.deliver",
    "RuleOptions": "notifyctl.contract.deliver",
    "Rules": "notifyctl.contract.deliver",
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
    return getattr(importlib.import_module(module), name)
