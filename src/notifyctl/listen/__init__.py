"""``notifyctl listen``: a local receiver that answers, verifies, shows and captures callbacks.

    settings.py  Settings (validated options)      handlers.py  the platform's receiver
    server.py    the aiohttp app: answer, capture   run.py       lifecycle, exit outcome
    view.py      JSON lines / live table

Each platform's receiver is ``receive.py`` in its own package, declared as
``Platform.receiver`` and taken from the registry; what it trades with the server is
``notifyctl.contract.receive``. Nothing here names a platform.

Public API: ``Settings``, ``Listener``, ``BackgroundListener``, ``serve``.
"""

from notifyctl.listen.run import BackgroundListener, Listener, Summary, serve
from notifyctl.listen.settings import Settings

__all__ = ["BackgroundListener", "Listener", "Settings", "Summary", "serve"]
