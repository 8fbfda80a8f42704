"""Helpers every check module needs alike, written once: the JSON body of an answer, and independent
requests sent at once. (Images come from ``conformance.media``; verdict helpers such as ``accepted`` and
``refused`` from ``conformance.findings``.) No name here starts with ``check_``: pytest collects those."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

# Independent requests of one check go out this many at a time: latency, not the request count, sets the
# run time against a remote server.
POOL_SIZE = 6


def body_of(response):
    """The answer's JSON body, or None when it is not JSON (a check then reports what it got instead)."""
    try:
        return response.json()
    except ValueError:
        return None


def in_parallel(calls, workers: int = POOL_SIZE) -> list:
    """The zero-argument ``calls`` run at once, ``workers`` at a time; answers in the order of ``calls``."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def concurrently(function, items, workers: int = POOL_SIZE) -> list:
    """``function`` applied to each of ``items`` at once, ``workers`` at a time; results in their order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))
