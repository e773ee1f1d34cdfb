"""The one HTTP retry policy (``http.next_step``) and the async client that uses it, against a
real aiohttp server on 127.0.0.1 (the sync client is covered through Pelion in
test_pelion_api.py)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiohttp import web

from notifyctl.errors import (
    AuthError,
    InvalidRequest,
    NetworkError,
    NotFoundError,
    UnexpectedAnswer,
)
from notifyctl.http import Answers, AsyncHttp, NetOptions, Retry, next_step
from support.aioserve import serve

NET = NetOptions(retries=2, retry_base=0.01, max_retry_after=5)
JSON = Answers("the test API's JSON")


def _response(status: int, text: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, text=text, headers=headers)


def test_policy_returns_ok_and_retries_what_is_worth_retrying() -> None:
    ok = _response(204)
    assert next_step("GET /x", NET, 0, ok) is ok
    assert next_step("GET /x", NET, 0, _response(302), ok=(302,)).status_code == 302
    wait = next_step("GET /x", NET, 0, _response(429, **{"Retry-After": "0.25"}))
    assert isinstance(wait, Retry) and wait.wait == 0.25 and wait.loud
    capped = next_step("GET /x", NET, 1, _response(429, **{"Retry-After": "999"}))
    assert isinstance(capped, Retry) and capped.wait == 5
    backoff = next_step("GET /x", NET, 1, _response(503))
    assert isinstance(backoff, Retry) and 0.01 <= backoff.wait <= 0.02 and not backoff.loud
    refused = next_step("GET /x", NET, 0, httpx.ConnectError("refused"))
    assert isinstance(refused, Retry) and "refused" in refused.note


@pytest.mark.parametrize(("status", "error"), [
    (400, InvalidRequest), (409, InvalidRequest), (422, InvalidRequest), (401, AuthError),
    (403, AuthError), (404, NotFoundError), (302, NetworkError), (418, NetworkError)])
def test_policy_maps_final_statuses_onto_the_error_tree(status: int, error: type) -> None:
    with pytest.raises(error, match=f"GET /x: HTTP {status}: platform says"):
        next_step("GET /x", NET, 0, _response(status, '{"message": "platform says"}'))


def test_policy_gives_up_after_the_last_attempt() -> None:
    with pytest.raises(NetworkError, match="still rate limited"):
        next_step("GET /x", NET, 2, _response(429))
    with pytest.raises(NetworkError, match="HTTP 500"):
        next_step("GET /x", NET, 2, _response(500))
    with pytest.raises(NetworkError, match="timed out") as caught:
        next_step("GET /x", NET, 2, httpx.ReadTimeout("slow"))
    assert caught.value.__cause__ is not None


def test_async_client_retries_then_returns_and_sends_params_and_auth() -> None:
    seen: list[tuple[str, str | None]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.query_string, request.headers.get("Authorization")))
        if len(seen) == 1:
            return web.Response(status=429, headers={"Retry-After": "0.05"})
        if len(seen) == 2:
            return web.Response(status=503)
        return web.json_response({"ok": True})

    async def job() -> object:
        async with serve(lambda app: app.router.add_get("/v", handler)) as url:
            client = AsyncHttp(url + "/", NET, answers=JSON, auth=("u", "p"))
            try:
                started = time.monotonic()
                response = await client.request("GET", "/v", params={"a": "1"})
                assert time.monotonic() - started >= 0.05  # Retry-After honoured
                return JSON.json(response, "GET /v")
            finally:
                await client.aclose()

    assert asyncio.run(asyncio.wait_for(job(), 10)) == {"ok": True}
    assert [q for q, _ in seen] == ["a=1"] * 3
    assert all(auth and auth.startswith("Basic ") for _, auth in seen)


def test_async_client_gives_up_with_the_mapped_error() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=502, text="gateway down")

    async def job() -> None:
        async with serve(lambda app: app.router.add_post("/v", handler)) as url:
            client = AsyncHttp(url, NET, answers=JSON)
            try:
                await client.request("POST", "/v", json_body={"x": 1})
            finally:
                await client.aclose()

    with pytest.raises(NetworkError, match="POST /v: HTTP 502: gateway down"):
        asyncio.run(asyncio.wait_for(job(), 10))
    assert calls == NET.retries + 1


def test_json_body_empty_is_none_and_garbage_is_not_the_platforms_answer() -> None:
    assert JSON.json(_response(200, "  "), "GET /x") is None
    with pytest.raises(UnexpectedAnswer, match="not the test API's JSON"):
        JSON.json(_response(200, "<html>"), "GET /x")
    garbled = httpx.Response(200, content=b"{nope", headers={"Content-Type": "application/json"})
    with pytest.raises(UnexpectedAnswer, match="a body that does not parse"):
        JSON.json(garbled, "GET /x")


def test_policy_never_takes_an_answer_that_is_not_the_platforms_for_success() -> None:
    html = {"Content-Type": "text/html; charset=utf-8"}
    page = "<!doctype html><title>Proxy login</title>"
    for status in (200, 404, 501):
        with pytest.raises(UnexpectedAnswer, match=f"HTTP {status} \\(text/html\\).*Proxy login"):
            next_step("GET /x", NET, 0, _response(status, page, **html), answers=JSON)
    with pytest.raises(UnexpectedAnswer, match="text/plain"):  # a success must be the right type
        next_step("GET /x", NET, 0, _response(200, "OK", **{"Content-Type": "text/plain"}),
                  answers=JSON)
    # Platform errors may be plain text; gateways are retried whatever their page; an expected
    # redirect is read for its headers only.
    with pytest.raises(NotFoundError):
        next_step("GET /x", NET, 0, _response(404, "no channel"), answers=JSON)
    assert isinstance(next_step("GET /x", NET, 0, _response(503, page, **html), answers=JSON),
                      Retry)
    moved = _response(302, page, **html, Location="wss://x/")
    assert next_step("GET /x", NET, 0, moved, ok=(302,), answers=JSON) is moved
    assert next_step("GET /x", NET, 0, _response(204), answers=JSON).status_code == 204
