"""What counts as a secret in text notifyctl shows or stores, and how it is masked.

One place for the rules: capture files (``events``), stream logs (``ws``) and
error output (``cli.main``) all mask with these. Pure standard library, so the error path of
any command can use it without loading anything heavy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "cookie", "set-cookie",
     "vz-m2m-token", "authentication"}
)
# Credential-named query parameters (Iottly's stream URL carries api_key=...).
SECRET_QUERY = re.compile(
    r"((?<=[?&;])(?:api_key|apikey|token|access_token|key)=)[^&;#\s\"']+", re.IGNORECASE
)
# A logged handshake shows headers one per line ("> Authorization: ..."), and Pelion's key
# travels in the WebSocket subprotocol list ("wss, pelion_ak_...").
_HEADER_LINE = re.compile(
    r"^([<>] (?:" + "|".join(sorted(SECRET_HEADERS)) + r"):[ \t]*).+$",
    re.IGNORECASE | re.MULTILINE,
)
_PELION_SUBPROTOCOL = re.compile(r"\b(pelion_)[^\s,\"']+")
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def mask_query(text: str) -> str:
    """``/hook?api_key=SECRET&x=1`` -> ``/hook?api_key=***&x=1``."""
    return SECRET_QUERY.sub(r"\1***", text)


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Copy headers, replacing secret values: ``Bearer abc`` becomes ``Bearer ***``."""
    masked: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            scheme, sep, _rest = value.partition(" ")
            masked[name] = f"{scheme} ***" if sep and scheme.isalpha() else "***"
        else:
            masked[name] = value
    return masked


def redact(text: str) -> str:
    """Free text (a log line, an error message, a traceback) with every secret form masked:
    credential query values, secret header lines, the Pelion key subprotocol, and
    ``Bearer``/``Basic`` credentials."""
    text = mask_query(text)
    text = _HEADER_LINE.sub(r"\1***", text)
    text = _PELION_SUBPROTOCOL.sub(r"\1***", text)
    return _BEARER.sub(r"\1 ***", text)
