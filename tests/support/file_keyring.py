"""A real keyring backend storing secrets in a JSON file, for tests and headless demos.

Selected through keyring's own mechanism: ``PYTHON_KEYRING_BACKEND=file_keyring.FileKeyring``
with this folder on ``PYTHONPATH``. The file is named by ``NOTIFYCTL_TEST_KEYRING_FILE`` at each
call, so every test gets its own. ``NOTIFYCTL_TEST_KEYRING_HANG=1`` makes calls block, to test
the timeout.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from keyring.backend import KeyringBackend


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def _path(self) -> Path:
        return Path(os.environ["NOTIFYCTL_TEST_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        if os.environ.get("NOTIFYCTL_TEST_KEYRING_HANG"):
            time.sleep(3600)
        try:
            return dict(json.loads(self._path().read_text()))
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}:{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}:{username}"] = password
        self._path().write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        data = self._load()
        if data.pop(f"{service}:{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._path().write_text(json.dumps(data))
