"""Before any rule runs: is anything answering at the base URL? A dead or misaddressed target must not
read as a broken contract, so the CLI stops with its own exit status and one line saying why.

The preflight sends only GET requests (one per documented path, path parameters filled with placeholder
values), so it is as safe as --read-only. A transport failure on any of them (refused, DNS, TLS, timeout)
means "unreachable"; a 404 for every one of them means the API is not at that base URL.
"""

from __future__ import annotations

import re
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from image_api_contracts import APIS

from .errors import TargetUnreachable
from .target import Target

TIMEOUT_SECONDS = 10.0
MAX_PROBES = 8


def probe_paths(target: Target) -> list[str]:
    """Every documented path, with placeholder path parameters (the target's own ids where it has them)."""
    known = {"store-id": target.store_id, "product-id": target.product_id, "album_id": target.album_id}
    paths = []
    for path in APIS[target.api].spec["paths"]:
        paths.append(re.sub(r"\{([^}]+)\}", lambda m: known.get(m.group(1), "0"), path))
    return paths[:MAX_PROBES]


def _cause(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {TIMEOUT_SECONDS:.0f} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {TIMEOUT_SECONDS:.0f} s"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _refused(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, httpx.ConnectError) and ("refused" in text or "errno 111" in text)


def preflight(target: Target, verify: ssl.SSLContext | bool = True, wait: float = 0.0) -> int:
    """Raises ``TargetUnreachable`` with a one-line cause; returns the number of probes answered. A target
    that refuses connections is tried again for up to ``wait`` seconds (a server still starting, as in a
    CI job that has just launched it); DNS, TLS and timeouts are not waited for."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return _probe(target, verify)
        except TargetUnreachable as exc:
            if not exc.refused or time.monotonic() >= deadline:
                raise
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


def _probe(target: Target, verify) -> int:
    paths = probe_paths(target)
    with httpx.Client(
        base_url=target.base_url, headers=target.auth_headers(), timeout=TIMEOUT_SECONDS, verify=verify
    ) as client:

        def probe(path: str):
            try:
                return path, client.get(path), None
            except httpx.HTTPError as exc:  # refused, DNS, TLS, timeout, a connection closed mid-answer
                return path, None, exc

        with ThreadPoolExecutor(max_workers=max(1, min(target.concurrency, len(paths)))) as pool:
            answers = list(pool.map(probe, paths))
    for path, _, exc in answers:
        if exc is not None:
            unreachable = TargetUnreachable(
                f"target unreachable: GET {target.base_url}{path}: {_cause(exc)} (no rule was run)"
            )
            unreachable.refused = _refused(exc)
            raise unreachable
    if answers and all(response.status_code == 404 for _, response, _ in answers):
        server_path = APIS[target.api].server_path
        hint = f" (the {target.api} base URL ends in {server_path})" if server_path else ""
        raise TargetUnreachable(
            f"nothing of {target.api} at {target.base_url}: all {len(answers)} documented paths answered "
            f"404; is the base path right{hint}? (no rule was run)"
        )
    return len(answers)
