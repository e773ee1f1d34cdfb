"""The one server binder for the aiohttp apps notifyctl serves (``listen``, ``sandbox``): set the
app up on ``host:port`` (0 picks a free port) and return its runner and base URL, or a usage
error naming the address when it cannot be bound."""

from __future__ import annotations

from aiohttp import web  # noqa: TID253 - only servers import this module, inside their command

from notifyctl.errors import UsageError


async def bind(app: web.Application, host: str, port: int, *, what: str,
               shutdown_timeout: float = 1.0, backlog: int = 128) -> tuple[web.AppRunner, str]:
    """Serve ``app``; returns the runner (``await runner.cleanup()`` stops it) and the URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=backlog)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UsageError(f"{what}: cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="choose another --port (0 picks a free one)") from exc
    address = runner.addresses[0]
    shown = f"[{address[0]}]" if ":" in str(address[0]) else address[0]
    return runner, f"http://{shown}:{address[1]}"
