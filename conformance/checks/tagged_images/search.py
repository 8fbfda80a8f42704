"""tagged-images search (TIM-12): exact_tags and match_tags together, and a search with neither; every
other filter the seed documents on the search (each date bound alone, uploaded_only) and its paging."""

from __future__ import annotations

import pytest

from conformance.findings import check, should

from .common import NEITHER_400, ONE_FILTER, got, like, newest_first_problem, pages, parallel, sent, tag_names

pytestmark = pytest.mark.api("tagged-images")


@pytest.mark.writes
@pytest.mark.rule("TIM-12")
@pytest.mark.alone
def check_tim12_search_semantics(target, http, timeline):
    """Every search carries both parameters, as the seed requires: the other one is the timeline's home tag
    (every record carries it, literally and in any case), so each filter is tested on its own and both
    together (AND)."""
    timeline.needs_shared_tags()
    tl, home, upper = timeline, timeline.home, timeline.home.upper()

    def carries(*names):
        return lambda r: all(n in tag_names(r) for n in names)

    def matches(*patterns):
        return lambda r: all(any(like(p, t) for t in tag_names(r)) for p in patterns)

    unique = "%" + home.rsplit("-", 1)[1]
    old, new = tl.stamps[0], tl.stamps[-1]
    searches = [  # (params, which timeline records must come back)
        ({"exact_tags": tl.tag("red"), "match_tags": upper}, carries(tl.tag("red"))),  # case-sensitive
        ({"exact_tags": f"{home}|{tl.tag('Red')}", "match_tags": upper}, carries(home, tl.tag("Red"))),
        ({"exact_tags": f"{tl.tag('red')}|{tl.tag('Sky')}", "match_tags": upper}, lambda r: False),  # all
        ({"exact_tags": tl.tag("SKY"), "match_tags": upper}, lambda r: False),
        ({"exact_tags": home, "match_tags": tl.tag("RED").upper()}, matches(tl.tag("RED"))),  # any case
        ({"exact_tags": home, "match_tags": f"{unique}-%SKY"}, matches(f"{unique}-%SKY")),
        (
            {"exact_tags": home, "match_tags": f"{tl.tag('red')}|{home}-b%"},
            matches(tl.tag("red"), f"{home}-b%"),
        ),
        (
            {"exact_tags": tl.tag("red"), "match_tags": f"{home}-b%"},  # both at once: AND
            lambda r: carries(tl.tag("red"))(r) and matches(f"{home}-b%")(r),
        ),
        (
            {"exact_tags": tl.tag("RED"), "match_tags": f"{home}-b%"},
            lambda r: carries(tl.tag("RED"))(r) and matches(f"{home}-b%")(r),
        ),
        (
            {"exact_tags": home, "match_tags": upper, "start_timestamp": new, "end_timestamp": new},
            lambda r: r["created_timestamp"] == new,
        ),
        (  # each bound on its own too: a search that ignores end_timestamp passes the one above
            {"exact_tags": home, "match_tags": upper, "end_timestamp": old},
            lambda r: r["created_timestamp"] <= old,
        ),
        ({"exact_tags": home, "match_tags": upper, "uploaded_only": "true"}, lambda r: r["id"] in tl.data),
    ]
    answers = parallel([lambda q=q: pages(http, "/search/images", q, 2, 6) for q, _ in searches])
    for (_, keep), (records, problem, last) in zip(searches, answers, strict=True):
        if problem is not None:
            check(False, problem, response=last)
            continue
        got_, want = sorted(r["id"] for r in records), sorted(tl.ids(keep))
        check(got_ == want, f"{sent(last).split('&page=')[0]}: expected {want}, got {got_}", response=last)
        order = newest_first_problem(records)
        check(order is None, f"{sent(last)}: {order}", response=last)
    # SHOULD: either filter alone is accepted too, and means the same.
    alone = [
        ({"exact_tags": tl.tag("red")}, carries(tl.tag("red"))),
        ({"match_tags": tl.tag("RED").upper()}, matches(tl.tag("RED"))),
    ]
    answers = parallel([lambda q=q: pages(http, "/search/images", q, 100, 3) for q, _ in alone])
    for (_, keep), (records, problem, last) in zip(alone, answers, strict=True):
        if not should(target, problem is None, str(problem), response=last, decision=ONE_FILTER):
            continue
        got_, want = sorted(r["id"] for r in records), sorted(tl.ids(keep))
        should(
            target,
            got_ == want,
            f"{sent(last)}: expected {want}, got {got_}",
            response=last,
            decision=ONE_FILTER,
        )


@pytest.mark.rule("TIM-12")
def check_tim12_neither_filter_is_400(target, http):
    r = http.get("/search/images", params={"limit": 5})
    should(
        target,
        r.status_code == 400,
        f"{sent(r)} (neither exact_tags nor match_tags): expected 400, got {got(r)}",
        response=r,
        decision=NEITHER_400,
    )
