"""Acme's management API: ``POST /hooks`` ``{"url", "label"}`` -> ``{"id"}``, ``GET /hooks``,
``DELETE /hooks/{id}``; the key goes in ``X-Acme-Key``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notifyctl.contract.manage import Change, Listing, ManageContext
from notifyctl.errors import UsageError
from notifyctl.http import Answers, Http

ANSWERS = Answers("Acme's JSON")


class AcmeChannels:
    def __init__(self, context: ManageContext) -> None:
        self.context = context

    def _http(self) -> Http:
        key = self.context.secret("api_key")
        return Http(self.context.connection.api_url, self.context.net, ANSWERS,
                    {"X-Acme-Key": key})

    def register(self, url: str, headers: Mapping[str, str]) -> Change:
        if headers:
            raise UsageError("acme hooks take no custom headers")
        body = {"url": url, "label": self.context.options.get("label")}
        with self._http() as http:
            answer = ANSWERS.json(http.request("POST", "/hooks", json_body=body), "POST /hooks")
        hook_id = str(answer["id"])
        return Change(f"registered acme hook {hook_id}", {"id": hook_id, "url": url},
                      stdout=hook_id)

    def list(self) -> Listing:
        with self._http() as http:
            hooks: list[dict[str, Any]] = ANSWERS.json(http.request("GET", "/hooks"),
                                                       "GET /hooks") or []
        return Listing(hooks, ("id", "url", "label"),
                       [[h.get("id"), h.get("url"), h.get("label")] for h in hooks])

    def unregister(self, target: str | None) -> Change:
        if not target:
            raise UsageError("acme: which hook? 'notifyctl unregister ID'")
        with self._http() as http:
            http.request("DELETE", f"/hooks/{target}")
        return Change(f"deleted acme hook {target}", {"id": target})
