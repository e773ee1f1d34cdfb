"""The tests' keyring: keyrings.alt's plaintext file backend, plus a hang on demand.

Selected through keyring's own mechanism: ``PYTHON_KEYRING_BACKEND=file_keyring.IsolatedKeyring``
with this folder on ``PYTHONPATH``. keyrings.alt keeps its file at
``$XDG_DATA_HOME/python_keyring/keyring_pass.cfg``, resolved at each call, so conftest's
per-test ``XDG_DATA_HOME`` gives every test its own. The only thing added here is what
keyrings.alt lacks: ``NOTIFYCTL_TEST_KEYRING_HANG=1`` makes every call block, like a locked
keychain waiting on a prompt nobody answers, to test the keyring timeout.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from keyring.util import platform_
from keyrings.alt.file import PlaintextKeyring


def keyring_file() -> Path:
    """Where the backend keeps its secrets under the current ``XDG_DATA_HOME``."""
    return Path(platform_.data_root()) / PlaintextKeyring.filename


class IsolatedKeyring(PlaintextKeyring):
    def _hang_if_asked(self) -> None:
        if os.environ.get("NOTIFYCTL_TEST_KEYRING_HANG"):
            threading.Event().wait()  # forever: the caller's deadline must give up first

    def get_password(self, service: str, username: str) -> str | None:
        self._hang_if_asked()
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._hang_if_asked()
        super().set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        self._hang_if_asked()
        super().delete_password(service, username)
