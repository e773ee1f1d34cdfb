"""``notifyctl listen``: a local receiver that answers, verifies, shows and captures callbacks.

    settings.py  Settings (validated options)      handlers.py  Request/Outcome, registry
    server.py    the aiohttp app: answer, capture   run.py       lifecycle, exit outcome
    view.py      JSON lines / live table            <provider>.py one small handler each

Public API: ``Settings``, ``Listener``, ``BackgroundListener``, ``serve``.
"""

from notifyctl.listen.run import BackgroundListener, Listener, Summary, serve
from notifyctl.listen.settings import Settings

__all__ = ["BackgroundListener", "Listener", "Settings", "Summary", "serve"]
