"""Acme in the sandbox: the hooks API, the stream, and callback delivery through the sandbox's
sender with Acme's own rules."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from aiohttp import web

from notifyctl.contract.deliver import Item, Request, RuleOptions
from notifyctl.contract.emulate import SandboxContext
from notifyctl_acme.rules import AcmeRules


class AcmeEmulator:
    name = "acme"

    def __init__(self, context: SandboxContext) -> None:
        self.context = context
        self.hooks: dict[str, dict[str, Any]] = {}
        self.sockets: set[web.WebSocketResponse] = set()
        self.log = context.log("acme hooks")
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()

    def setup(self, app: web.Application) -> None:
        app.router.add_post("/acme/hooks", self._add)
        app.router.add_get("/acme/hooks", self._list)
        app.router.add_delete("/acme/hooks/{id}", self._delete)
        app.router.add_get("/acme/stream", self._stream)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001)
        for task in list(self._tasks):
            task.cancel()

    def _authorised(self, request: web.Request) -> bool:
        return bool(request.headers.get("X-Acme-Key"))

    async def _add(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401, text="X-Acme-Key required")
        body = await request.json()
        hook_id = f"h{next(self._ids)}"
        self.hooks[hook_id] = {"id": hook_id, "url": body["url"], "label": body.get("label")}
        return web.json_response({"id": hook_id}, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401, text="X-Acme-Key required")
        return web.json_response(list(self.hooks.values()))

    async def _delete(self, request: web.Request) -> web.Response:
        if self.hooks.pop(request.match_info["id"], None) is None:
            return web.Response(status=404, text="no such hook")
        return web.Response(status=204)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if not self._authorised(request):
            await ws.close(code=1008)
            return ws
        self.sockets.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            self.sockets.discard(ws)
        return ws

    def inject(self, body: Any, api_key: str | None) -> dict[str, Any]:
        items = body if isinstance(body, list) else [body]
        if not all(isinstance(item, dict) and isinstance(item.get("sensor"), str)
                   for item in items):
            raise ValueError("expected readings: {\"sensor\": ..., \"value\": ...}")
        for item in items:
            item.setdefault("id", f"r{next(self._seq)}")
        frame = json.dumps(items)
        for ws in list(self.sockets):
            self.context.spawn(self._tasks, ws.send_str(frame))
        for hook in self.hooks.values():
            rules = AcmeRules(RuleOptions(target=hook["url"]))
            sender = self.context.sender(rules, self.log)
            for request in rules.requests(iter([Item("sandbox", frame.encode())])):
                if isinstance(request, Request):
                    self.context.spawn(self._tasks, sender.deliver(request))
        return {"queued": len(items), "sockets": len(self.sockets), "hooks": len(self.hooks)}

    async def fault(self, fault: dict[str, Any]) -> int:
        raise ValueError(f"acme has no fault {fault.get('action')!r}")

    def generate(self, count: int) -> None:
        if self.sockets or self.hooks:
            self.inject([{"sensor": f"s{n % 3}", "kind": "reading", "value": n}
                         for n in range(count)], None)

    def state(self) -> dict[str, Any]:
        return {"hooks": list(self.hooks.values()), "sockets": len(self.sockets),
                "delivered": self.log.accepted, "attempts": self.log.attempts}

