"""The ceiling: the mock's own tagged-images handlers on bare Starlette, without Connexion in front.

No routing by spec, no validation, no security, no middlewares but the one that puts the request where the
handlers find it: the same handler objects and the same store as the mock (records validated and encoded
when written, as in the mock), JSON encoded with the mock's orjson jsonifier, served by uvicorn with the
same options. What the mock
adds on top of this is the price of being a contract mock.

``python benchmarks/bare_ceiling.py --port 8123 --records 200``
"""

from __future__ import annotations

import argparse
import warnings

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from mockserver.connexion_ext.fastjson import OrjsonJsonifier  # noqa: E402
from mockserver.errors import ApiError  # noqa: E402
from mockserver.state.context import ContextMiddleware, MockContext, Settings  # noqa: E402


def build_app(records: int) -> ContextMiddleware:
    ctx = MockContext(Settings(apis=("tagged-images",), prefixed=False))
    api = ctx.apis["tagged-images"]
    for i in range(records):
        api.create_record(f"f{i}.png", 10, ["a", f"t{i % 5}"])

    jsonifier = OrjsonJsonifier()  # the mock's: records already encoded are written as their bytes

    def reply(result) -> Response:
        body, status, _headers = result
        return Response(jsonifier.dumps(body), status, media_type="application/json")

    def paging(request: Request) -> dict:
        q = request.query_params
        return {"page": int(q.get("page", 0)), "limit": int(q.get("limit", 20))}

    async def list_images(request: Request) -> Response:
        return reply(await api.list_images(**paging(request)))

    async def get_image(request: Request) -> Response:
        try:
            return reply(await api.get_image(int(request.path_params["image_id"])))
        except ApiError as exc:
            return Response(
                orjson.dumps({"code": exc.status, "message": exc.message}),
                exc.status,
                media_type="application/json",
            )

    async def search_images(request: Request) -> Response:
        q = request.query_params
        exact = q["exact_tags"].split("|") if "exact_tags" in q else None
        match = q["match_tags"].split("|") if "match_tags" in q else None
        return reply(await api.search_images(exact_tags=exact, match_tags=match, **paging(request)))

    routes = [
        Route("/images", list_images),
        Route("/images/{image_id:int}", get_image),
        Route("/search/images", search_images),
    ]
    return ContextMiddleware(Starlette(routes=routes), ctx)  # where the handlers find their request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--records", type=int, default=200)
    args = parser.parse_args()
    app = build_app(args.records)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
