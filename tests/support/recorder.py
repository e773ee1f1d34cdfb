"""Test helper: a receiver on 127.0.0.1 (in a background thread) that records every request and
answers what the test set per path: ``recorder.answers["/hook"] = (410, b"", None)``.

    with Recorder() as rec:
        ...  # deliver to rec.url + "/hook"
        got = rec.wait(2)                # the first two requests, or AssertionError
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aioserve import ServeThread
from waiting import TIMEOUT, wait_for


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.answers: dict[str, tuple[int, bytes, str | None]] = {}
        self._lock = threading.Lock()
        self._server = ServeThread(self._setup)

    @property
    def url(self) -> str:
        return self._server.url

    def _setup(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.requests.append(Seen(request.method, request.path, request.query_string,
                                      dict(request.headers), body))
        status, answer, content_type = self.answers.get(request.path, (200, b"", None))
        headers = {"Location": "/elsewhere"} if 300 <= status < 400 else {}
        if content_type:
            headers["Content-Type"] = content_type
        return web.Response(status=status, body=answer, headers=headers)

    def wait(self, count: int, timeout: float = TIMEOUT, path: str | None = None) -> list[Seen]:
        """The first ``count`` requests (to ``path`` when given); fails after ``timeout``."""
        def got() -> list[Seen]:
            with self._lock:
                return [r for r in self.requests if path is None or r.path == path]

        wait_for(lambda: len(got()) >= count, timeout,
                 what=f"{count} request(s) to {path or 'any path'}")
        return got()[:count]

    def __enter__(self) -> Recorder:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.__exit__(*exc)
