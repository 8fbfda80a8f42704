"""tagged-images listing (TIM-04, TIM-05): GET /images newest first and paged, its timestamps and date
filters, judged on the records of the run's timeline."""

from __future__ import annotations

import time

import pytest

from conformance.checks.kit import in_parallel
from conformance.findings import check, refused, should

from .common import (
    FILL_WORKERS,
    MAX_LIMIT,
    PAST_END_200,
    body_of,
    delete_all,
    got,
    is_int,
    judge_pages,
    judge_whole_listing,
    made,
    meta_problem,
    newest_first_problem,
    pages,
    parallel,
    sent,
    walk,
)

pytestmark = pytest.mark.api("tagged-images")


@pytest.mark.writes
@pytest.mark.rule("TIM-04")
@pytest.mark.alone
def check_tim04_listing_is_newest_first_and_paged(http, timeline):
    mine = timeline.ids()
    records = walk(
        http, "/images", {}, 2, judge="TIM-04", max_pages=40, until=lambda rs: mine <= {r["id"] for r in rs}
    )
    listed = {r["id"] for r in records}
    check(
        mine <= listed, f"GET /images (limit 2, every page) did not list the records {sorted(mine - listed)}"
    )
    problem = newest_first_problem(records)
    check(problem is None, f"GET /images: {problem}")
    first = http.get("/images", params={"page": 0, "limit": 100})
    body = body_of(first)
    if not check(
        first.status_code == 200 and isinstance(body, dict) and isinstance(body.get("meta"), dict),
        f"{sent(first)}: answered {got(first)}",
        response=first,
    ):
        return
    total = body["meta"].get("total_results")
    if not is_int(total):
        return  # meta_problem below reports it
    past = total // 3 + 2
    calls = [lambda: http.get("/images", params={"page": past, "limit": 3})]
    limits = sorted({total, total - 1} & set(range(1, 101)))  # the last page is exactly full, or one over
    calls += [lambda limit=limit: http.get("/images", params={"limit": limit}) for limit in limits]
    calls.append(lambda: http.get("/images", params={"limit": 101}))
    beyond, *full, over = parallel(calls)
    if 200 <= beyond.status_code < 300:
        results = (body_of(beyond) or {}).get("results")
        check(
            results == [],
            f"{sent(beyond)} (past the last page of {total}): results {str(results)[:200]}",
            response=beyond,
        )
    else:
        should(
            None,
            False,
            f"{sent(beyond)} (past the last page): expected 200 with no results, got {got(beyond)}",
            response=beyond,
            decision=PAST_END_200,
        )
    for r, limit in zip(full, limits, strict=True):
        page = body_of(r) or {}
        problem = meta_problem(page.get("meta"), 0, limit, len(page.get("results") or []))
        check(r.status_code == 200 and problem is None, f"{sent(r)}: {problem or got(r)}", response=r)
    if 200 <= over.status_code < 300:
        results = (body_of(over) or {}).get("results") or []
        check(
            len(results) <= 100,
            f"{sent(over)}: {len(results)} records on one page (limit at most 100)",
            response=over,
        )
    else:
        refused(over, f"{sent(over)} (limit at most 100)")


@pytest.mark.writes
@pytest.mark.rule("TIM-04")
@pytest.mark.alone
def check_tim04_totals_past_one_maximal_page(http, cleanup, target):
    """More records than one maximal page before the totals are counted: a total, a has_more_pages or a
    page boundary right only within one page shows here, and pages 2 and later hold records (every
    response is judged against the seed's schema too). The records are created at once: order does not
    matter to a count."""
    home = target.unique("pg")
    names = [f"{home}-{i:03d}.png" for i in range(MAX_LIMIT + 1)]
    created = in_parallel([lambda n=n: made(http, n, [home]) for n in names], workers=FILL_WORKERS)
    cleanup.images += [c["id"] for c in created]
    mine = {c["id"] for c in created}
    judge_whole_listing(http, "/images", mine, "records", "TIM-04")
    delete_all(http, "/images", mine, cleanup.images)  # the clean-up's pace is gentler


@pytest.mark.rule("TIM-04")
@pytest.mark.alone
def check_tim04_listing_invariants_read_only(http):
    """Whatever the server holds: meta, order, no record on two consecutive pages."""
    walk(http, "/images", {}, 7, judge="TIM-04", max_pages=3)
    records = walk(http, "/images", {}, 100, judge="TIM-04", max_pages=2)
    problem = newest_first_problem(records)
    check(problem is None, f"GET /images: {problem}")


@pytest.mark.writes
@pytest.mark.rule("TIM-05")
@pytest.mark.alone
def check_tim05_timestamps_are_seconds_since_the_epoch(timeline):
    """The seed's date filters take created_timestamp "in seconds since Unix Epoch": a record made a moment
    ago has timestamps near now in seconds (a day either way allows for clock skew; milliseconds would be a
    thousand times off, a float is not the integer the seed types)."""
    now = time.time()
    for image_id, record in timeline.records.items():
        for field in ("created_timestamp", "uploaded_timestamp"):
            stamp = record.get(field)
            if stamp is None and field == "uploaded_timestamp":
                continue
            check(
                is_int(stamp) and abs(stamp - now) < 86_400,
                f"GET /images/{image_id}: {field} {stamp!r} is not seconds since the Unix Epoch near now "
                f"({int(now)})",
            )


@pytest.mark.writes
@pytest.mark.rule("TIM-05")
@pytest.mark.alone
def check_tim05_date_range_and_uploaded_only(http, timeline):
    old, new = timeline.stamps[0], timeline.stamps[-1]
    queries = [{"start_timestamp": t, "end_timestamp": t} for t in timeline.stamps]
    queries += [
        {"start_timestamp": new},
        {"end_timestamp": old},
        {"start_timestamp": old, "uploaded_only": "true"},
    ]
    answers = parallel([lambda q=q: pages(http, "/images", q, 100, 30) for q in queries])
    listed = [judge_pages(*answer) for answer in answers]  # a broken page is TIM-04's (not exercised)

    def ids(records):
        return {r["id"] for r in records}

    for params, records in zip(queries, listed, strict=True):
        start, end = params.get("start_timestamp"), params.get("end_timestamp")
        outside = [
            (r["id"], r["created_timestamp"])
            for r in records
            if (start is not None and r["created_timestamp"] < start)
            or (end is not None and r["created_timestamp"] > end)
        ]
        check(not outside, f"GET /images {params} listed records created outside the range: {outside[:8]}")
        want = timeline.ids(
            lambda r, s=start, e=end: (
                (s is None or r["created_timestamp"] >= s) and (e is None or r["created_timestamp"] <= e)
            )
        )
        if params.get("uploaded_only"):
            pending = [
                r["id"] for r in records if r.get("uploaded_timestamp") is None or r.get("url") is None
            ]
            check(not pending, f"GET /images {params} listed records without their file: {pending[:8]}")
            want &= set(timeline.data)
            unwanted = ids(records) & (timeline.ids() - set(timeline.data))
            check(not unwanted, f"GET /images {params} listed my records without a file: {sorted(unwanted)}")
        missing = want - ids(records)
        check(not missing, f"GET /images {params} (inclusive) misses my records {sorted(missing)}")
