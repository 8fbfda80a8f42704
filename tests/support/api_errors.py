"""Each API's own error format (specs/README.md, mockserver/errors.py), checked from the outside."""

from __future__ import annotations

import json


def _is_api_error(api: str, status: int, error) -> bool:
    if not isinstance(error, dict):
        return False
    if api == "evotor":
        items = error.get("errors")
        return (
            set(error) == {"errors"}
            and isinstance(items, list)
            and len(items) == 1
            and items[0].get("code") == status
            and bool(items[0].get("reason"))
        )
    if api == "image-upload":
        return set(error) == {"message", "data"} and error["data"] is None and bool(error["message"])
    if api == "sharinpix":
        return set(error) == {"error"} and isinstance(error["error"], str) and bool(error["error"])
    return set(error) == {"code", "message"} and error["code"] == status and bool(error["message"])


def error_format_problem(api: str, status: int, content_type: str, body: bytes) -> str | None:
    """None when ``body`` is an error in ``api``'s format with a non-empty message, else what is wrong."""
    if api == "everydaypic":
        if not content_type.startswith("text/plain"):
            return f"content type {content_type!r}, expected text/plain"
        return None if body.strip() else "empty error message"
    if not content_type.startswith("application/json"):
        return f"content type {content_type!r}, expected application/json"
    try:
        error = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    return None if _is_api_error(api, status, error) else f"not {api}'s error format: {body[:200]!r}"


def assert_api_error(api: str, response) -> None:
    """``response`` (httpx) is an error in ``api``'s own format."""
    content_type = response.headers.get("content-type", "")
    problem = error_format_problem(api, response.status_code, content_type, response.content)
    assert problem is None, problem
