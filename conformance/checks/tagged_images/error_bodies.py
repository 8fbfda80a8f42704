"""tagged-images error bodies (TIM-13): every error answer is {code, message}."""

from __future__ import annotations

import pytest

from conformance.findings import check, should

from .common import ERROR_BODY, MISSING_ID, body_of, error_body_problem, parallel

pytestmark = pytest.mark.api("tagged-images")


@pytest.mark.writes
@pytest.mark.rule("TIM-13")
def check_tim13_error_bodies_of_the_posts(http, cleanup):
    """MUST: the POST operations' seed answers every status but 201 with `default`: Error."""
    posts = parallel(
        [
            lambda: http.post("/images", json={"filename": 5, "size": "big", "tags": "none"}),
            lambda: http.post("/tags", json={"name": {"not": "a string"}}),
            lambda: http.post("/upload", json={"filename": "a.png", "image_data": "not*base64!", "tags": []}),
        ]
    )
    for r in posts:
        if 200 <= r.status_code < 300 and isinstance(body_of(r), dict):  # lenient: cleaned up, not judged
            (cleanup.tags if r.request.url.path.endswith("/tags") else cleanup.images).append(
                body_of(r).get("id")
            )
        if 400 <= r.status_code < 500:
            problem = error_body_problem(r)
            check(problem is None, str(problem), response=r)


@pytest.mark.rule("TIM-13")
def check_tim13_error_bodies_of_the_reads(target, http):
    """SHOULD: the seed lists no error for the other operations; our decision gives them the same body."""
    gets = parallel(
        [
            lambda: http.get(f"/images/{MISSING_ID}"),
            lambda: http.get("/images", params={"limit": "many"}),
            lambda: http.get(f"/tags/{MISSING_ID}/images"),
            lambda: http.get(
                "/search/images", params={"exact_tags": "a", "match_tags": "a", "page": "first"}
            ),
        ]
    )
    for r in gets:
        if 400 <= r.status_code < 500:
            problem = error_body_problem(r)
            should(target, problem is None, str(problem), response=r, decision=ERROR_BODY)
