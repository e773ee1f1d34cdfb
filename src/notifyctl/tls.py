"""The one TLS client context builder: ``--insecure`` and ``--ca-bundle`` as an ``ssl.SSLContext``
that httpx, websockets and aiohttp all accept."""

from __future__ import annotations

import ssl

from notifyctl.errors import UsageError


def client_context(insecure: bool = False, ca_bundle: str | None = None) -> ssl.SSLContext:
    """Verify against the system's CAs, or ``ca_bundle``'s; ``insecure`` verifies nothing."""
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_bundle:
        try:
            return ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"--ca-bundle {ca_bundle}: cannot load: {exc}") from exc
    return ssl.create_default_context()
