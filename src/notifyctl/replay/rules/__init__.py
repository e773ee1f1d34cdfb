"""Delivery rules per provider: a registry of name -> "module:Class", imported on use.

Adding a platform's replay support is one module here with a ``Rules`` subclass and one line
below. Providers whose rules have not landed yet are refused with a clear message.
"""

from __future__ import annotations

import importlib

from notifyctl.errors import UsageError
from notifyctl.replay.rules.base import RuleOptions, Rules

__all__ = ["NOT_YET", "RULES", "RuleOptions", "Rules", "load", "names"]

RULES: dict[str, str] = {
    "pelion": "notifyctl.replay.rules.pelion:PelionRules",
    "circle": "notifyctl.replay.rules.circle:CircleRules",
    "iottly": "notifyctl.replay.rules.iottly:IottlyRules",
    "generic": "notifyctl.replay.rules.generic:GenericRules",
    "thingspace": "notifyctl.replay.rules.thingspace:ThingSpaceRules",
    "sigfox": "notifyctl.replay.rules.sigfox:SigfoxRules",
}
NOT_YET: tuple[str, ...] = ()


def names() -> list[str]:
    return list(RULES)


def load(name: str, options: RuleOptions) -> Rules:
    """The rules of provider ``name``, configured with ``options`` (which they validate)."""
    if name in NOT_YET:
        raise UsageError(
            f"replay does not support provider {name!r} yet",
            hint=f"supported now: {', '.join(RULES)}; use 'generic' to resend captured requests "
            "as they were",
        )
    spec = RULES.get(name)
    if spec is None:
        raise UsageError(f"unknown replay provider {name!r}",
                         hint=f"valid: {', '.join(RULES)}")
    module, _, cls = spec.partition(":")
    rules_class: type[Rules] = getattr(importlib.import_module(module), cls)
    return rules_class(options)
