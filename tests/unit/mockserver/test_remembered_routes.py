"""Routing remembered per request line answers exactly as Starlette's loop: the same route, the same scope
entries, each request's own path parameters; partial matches (405) and misses (404) are never remembered,
and the memory stays bounded."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route, Router

from mockserver.connexion_ext import routing
from mockserver.connexion_ext.routing import RememberingRouter

SEEN_KEYS = ("path_params", "root_path", "app_root_path", "endpoint")


def _without(seen: list, *names: str) -> list:
    return [{k: v for k, v in s.items() if k not in names} if isinstance(s, dict) else s for s in seen]


def _seen_scopes(router, requests):
    """The scope each request reached its endpoint with (None: it never reached one)."""
    seen = []

    class Endpoint:  # an ASGI app, as Connexion's operations are (a function would be a request handler)
        async def __call__(self, scope, receive, send):
            seen[-1] = {k: scope[k] for k in SEEN_KEYS if k in scope}
            seen[-1]["endpoint"] = scope["endpoint"] is endpoint  # the route's own
            seen[-1]["path_params_object"] = scope["path_params"]

    async def not_found(scope, receive, send):
        seen[-1] = "default"

    endpoint = Endpoint()

    inner = Router(
        routes=[
            Route("/images/{image_id:int}", endpoint, methods=["GET"]),
            Route("/images", endpoint, methods=["POST"]),
        ],
        default=not_found,
    )
    top = Router(routes=[Mount("/api", app=inner)], default=not_found)
    if router is RememberingRouter:
        inner = RememberingRouter.replacing(inner)
        top = RememberingRouter.replacing(Router(routes=[Mount("/api", app=inner)], default=not_found))

    async def run():
        for method, path in requests:
            seen.append(None)
            # "app": inside an app, Starlette raises its 405 instead of answering it
            scope = {
                "type": "http",
                "method": method,
                "path": path,
                "root_path": "",
                "headers": [],
                "app": top,
            }
            try:
                await top(scope, None, None)
            except HTTPException as exc:
                seen[-1] = exc.status_code
        return seen

    return asyncio.run(run())


def test_a_remembered_match_reaches_the_same_route_with_the_same_scope_entries():
    requests = [
        ("GET", "/api/images/7"),
        ("GET", "/api/images/7"),
        ("GET", "/api/images/8"),
        ("POST", "/api/images"),
        ("POST", "/api/images"),
        ("GET", "/api/images/7"),
    ]
    plain = _seen_scopes(Router, requests)
    remembering = _seen_scopes(RememberingRouter, requests)
    assert _without(remembering, "path_params_object") == _without(plain, "path_params_object")
    assert [s["path_params"] for s in remembering] == [
        {"image_id": 7},
        {"image_id": 7},
        {"image_id": 8},
        {},
        {},
        {"image_id": 7},
    ]
    # each request gets a dict of its own: a layer that adds to it changes no later request
    assert remembering[0]["path_params_object"] is not remembering[1]["path_params_object"]


def test_partial_matches_and_misses_take_starlettes_way_every_time():
    requests = [
        ("DELETE", "/api/images/7"),
        ("DELETE", "/api/images/7"),
        ("GET", "/other"),
        ("GET", "/other"),
    ]
    seen = _seen_scopes(RememberingRouter, requests)
    assert seen == [405, 405, "default", "default"] == _seen_scopes(Router, requests)


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(routing, "MAX_REMEMBERED", 3)

    class Endpoint:
        async def __call__(self, scope, receive, send):
            pass

    router = RememberingRouter.replacing(Router(routes=[Route("/images/{image_id}", Endpoint())]))

    async def run():
        for i in range(10):
            await router({"type": "http", "method": "GET", "path": f"/images/{i}", "headers": []}, None, None)

    asyncio.run(run())
    assert 0 < len(router._full) <= 3


def test_the_mock_answers_by_remembered_routes_as_before(make_client):
    client = make_client("tagged-images")
    created = [
        client.post("/v1/images", json={"filename": f"{i}.png", "size": 1, "tags": ["a"]}).json()["id"]
        for i in range(2)
    ]
    for _ in range(2):  # the second time from the memory
        for image_id in created:
            r = client.get(f"/v1/images/{image_id}")
            assert r.status_code == 200 and r.json()["id"] == image_id
        assert client.get("/v1/images/999999").status_code == 404
        assert client.patch(f"/v1/images/{created[0]}").status_code == 405
        assert client.get("/v1/no-such-path").status_code == 404


def test_the_routed_operation_kept_in_a_request_follows_its_routing(make_client):
    from mockserver.operations import routed_operation
    from mockserver.request_state import MOCK_CONTEXT

    ctx = make_client("tagged-images").app.ctx
    routing = {"api_base_path": "/v1", "operation_id": "listImages"}
    scope = {MOCK_CONTEXT: ctx, "extensions": {"connexion_routing": routing}}
    first = routed_operation(scope)
    assert first[0] == "tagged-images" and first[1]["operationId"] == "listImages"
    assert routed_operation(scope) is first  # worked out once per request
    scope["extensions"] = {"connexion_routing": {"api_base_path": "/v1", "operation_id": "getImage"}}
    assert routed_operation(scope)[1]["operationId"] == "getImage"  # another routing, another answer
    assert routed_operation({MOCK_CONTEXT: ctx, "extensions": {}}) is None
