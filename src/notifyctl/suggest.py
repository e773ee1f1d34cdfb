""""Did you mean …?": the one place a mistyped name (command, provider, profile, fixture) is
matched against the valid ones, so every refusal suggests the same way."""

from __future__ import annotations

from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The valid name ``word`` most likely meant: an exact match ignoring case first (``Pelion``),
    then the nearest spelling (``regster``), or None when nothing is close."""
    import difflib

    options = list(choices)
    for option in options:
        if option.lower() == word.lower():
            return option
    found = difflib.get_close_matches(word.lower(), options, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"did you mean 'pelion'? "`` (with the trailing space) or ``""``: a hint prefix."""
    match = closest(word, choices)
    return f"did you mean {match!r}? " if match else ""
