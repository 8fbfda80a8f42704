"""tagged-images tags (TIM-08..11): created with their records, reused, listed alphabetically, their
images newest first, and deleting a tag keeps its images."""

from __future__ import annotations

import pytest

from conformance.checks.kit import in_parallel
from conformance.findings import NotExercised, check, needs, should

from .common import (
    DUPLICATE_TAG_409,
    FILL_WORKERS,
    MAX_LIMIT,
    MISSING_ID,
    TAG_PAGING,
    UNKNOWN_ID_404,
    body_of,
    created_id,
    delete_all,
    error_body_problem,
    fetched,
    got,
    is_int,
    judge_pages,
    judge_whole_listing,
    made,
    newest_first_problem,
    pages,
    parallel,
    record_of,
    sent,
    tag_names,
    walk,
)

pytestmark = pytest.mark.api("tagged-images")


def all_tags(http, **kw) -> list[dict]:
    return walk(http, "/tags", {}, 100, max_pages=200, **kw)


def alphabetical_problem(tags: list[dict]) -> str | None:
    names = [t.get("name") for t in tags]
    if names == sorted(names) or names == sorted(names, key=str.casefold):
        return None
    return f"GET /tags is not in alphabetical order: {names[:12]}..."


@pytest.mark.writes
@pytest.mark.rule("TIM-08")
@pytest.mark.alone
def check_tim08_tags_created_reused_and_listed_alphabetically(target, http, cleanup):
    base = target.unique("t8")
    r = needs(http.post("/tags", json={"name": f"{base}-b"}), "POST /tags", "TIM-09")
    made_tag = created_id(r, "TIM-09")
    cleanup.tags.append(made_tag["id"])
    first = made(http, base + "-1.png", [f"{base}-c", f"{base}-b", f"{base}-A"])["id"]
    second = made(http, base + "-2.png", [f"{base}-A", f"{base}-c"])["id"]
    cleanup.images += [first, second]
    one, two = parallel([lambda: fetched(http, first), lambda: fetched(http, second)])
    tags1 = {t["name"]: t["id"] for t in one["tags"]}
    tags2 = {t["name"]: t["id"] for t in two["tags"]}
    cleanup.tags += list(tags1.values()) + list(tags2.values())
    check(set(tags1) == {f"{base}-c", f"{base}-b", f"{base}-A"}, f"GET /images/{first}: tags {one['tags']}")
    check(
        tags1.get(f"{base}-b") == made_tag["id"],
        f"the existing tag {base}-b (id {made_tag['id']}) was not reused: record {first} carries it as "
        f"{tags1.get(f'{base}-b')!r}",
    )
    check(len(set(tags1.values())) == len(tags1), f"distinct new tags share ids: {tags1}")
    for name in (f"{base}-A", f"{base}-c"):
        check(
            tags2.get(name) == tags1.get(name),
            f"tag {name!r} was created as id {tags1.get(name)!r}; record {second} carries it as "
            f"{tags2.get(name)!r}",
        )
    tags = all_tags(http, judge="TIM-08")
    problem = alphabetical_problem(tags)
    check(problem is None, str(problem))
    mine = [(t["name"], t["id"]) for t in tags if str(t.get("name")).startswith(base)]
    expected = sorted(tags1.items())
    expected_ci = sorted(tags1.items(), key=lambda kv: kv[0].casefold())
    check(mine in (expected, expected_ci), f"GET /tags lists my tags as {mine}, expected {expected}")
    walk(http, "/tags", {}, 2, judge="TIM-08", max_pages=3)  # paged like the images


@pytest.mark.rule("TIM-08")
@pytest.mark.alone
def check_tim08_tag_listing_read_only(http):
    problem = alphabetical_problem(walk(http, "/tags", {}, 100, judge="TIM-08", max_pages=5))
    check(problem is None, str(problem))


@pytest.mark.writes
@pytest.mark.rule("TIM-08")
@pytest.mark.alone
def check_tim08_tags_past_one_maximal_page(target, http, cleanup):
    """More tags than one maximal page before the listing is read whole: every tag created is listed
    once, in alphabetical order across page boundaries, at the largest page and at a small one. The tags
    are made by POST /tags (TIM-09's: when it fails, this check is not exercised), all at once."""
    home = target.unique("t8p")
    names = [f"{home}-{i:03d}" for i in range(MAX_LIMIT + 1)]
    create = [lambda n=n: http.post("/tags", json={"name": n}) for n in names]
    answers = in_parallel(create, workers=FILL_WORKERS)
    for r in answers:
        if 200 <= r.status_code < 300 and isinstance(body_of(r), dict) and is_int(body_of(r).get("id")):
            cleanup.tags.append(body_of(r)["id"])
    for r in answers:
        created_id(needs(r, "POST /tags", "TIM-09"), "TIM-09")
    mine = {body_of(r)["id"] for r in answers}

    def alphabetical(tags, limit, last):
        problem = alphabetical_problem(tags)
        check(problem is None, f"(limit {limit}, every page) {problem}", response=last)

    judge_whole_listing(http, "/tags", mine, "tags", "TIM-08", also=alphabetical)
    delete_all(http, "/tags", mine, cleanup.tags)


@pytest.mark.writes
@pytest.mark.rule("TIM-09", "TIM-13")
def check_tim09_create_tag_and_duplicate(target, http, cleanup):
    name = target.unique("t9")
    r = http.post("/tags", json={"name": name})
    check(r.status_code == 201, f"{sent(r)} {{name: {name!r}}}: expected 201, got {got(r)}", response=r)
    body = body_of(r)
    if not check(
        isinstance(body, dict) and is_int(body.get("id")),
        f"{sent(r)}: no integer id in {r.text[:200]}",
        response=r,
    ):
        return
    cleanup.tags.append(body["id"])
    again = http.post("/tags", json={"name": name})
    if 200 <= again.status_code < 300 and isinstance(body_of(again), dict):
        cleanup.tags.append(body_of(again).get("id"))
    should(
        target,
        again.status_code == 409,
        f"{sent(again)} with the existing name {name!r}: expected 409, got {got(again)}",
        response=again,
        decision=DUPLICATE_TAG_409,
    )
    if 400 <= again.status_code < 500:
        problem = error_body_problem(again)  # POST /tags' seed: default -> Error
        check(problem is None, str(problem), rule="TIM-13", response=again)


@pytest.mark.writes
@pytest.mark.rule("TIM-10")
@pytest.mark.alone
def check_tim10_tag_images_newest_first(target, http, timeline):
    """MUST: the first page (the seed gives this operation no parameters) lists the tag's images, newest
    first. SHOULD: our paging parameters and filters work on it."""
    timeline.needs_shared_tags()
    path = f"/tags/{timeline.home_id}/images"
    red = next(
        t["id"] for r in timeline.records.values() for t in r["tags"] if t["name"] == timeline.tag("red")
    )
    first, (paged, problem, last), (filtered, problem2, last2) = parallel(
        [
            lambda: http.get(path),
            lambda: pages(http, path, {}, 1, 10),
            lambda: pages(http, f"/tags/{red}/images", {"uploaded_only": "true"}, 5, 3),
        ]
    )
    body = body_of(first)
    results = body.get("results") if isinstance(body, dict) else None
    if not check(
        first.status_code == 200 and isinstance(results, list),
        f"{sent(first)}: answered {got(first)}",
        response=first,
    ):
        return
    listed = [x.get("id") for x in results if isinstance(x, dict)]
    mine = timeline.ids()
    more = isinstance(body.get("meta"), dict) and body["meta"].get("has_more_pages")
    check(
        set(listed) <= mine and (more or set(listed) == mine),
        f"{sent(first)}: lists {listed}; the tag's images are {sorted(mine)}",
        response=first,
    )
    problem0 = newest_first_problem([x for x in results if isinstance(x, dict)])
    check(problem0 is None, f"{sent(first)}: {problem0}", response=first)
    created_order = list(timeline.records)  # A, B in one second, C, D in the next, each after the last
    if problem0 is None and set(listed) == set(created_order):  # newest first within one second too
        check(
            listed == list(reversed(created_order)),
            f"{sent(first)}: lists {listed}; created one after the other (two within one second), newest "
            f"first is {list(reversed(created_order))}",
            response=first,
        )
    judge_pages(paged, problem, last, judge="TIM-10", decision=TAG_PAGING)
    if problem is None:
        should(
            target,
            sorted(r["id"] for r in paged) == sorted(mine),
            f"GET {path} at limit 1, every page: {[r['id'] for r in paged]}, not {sorted(mine)}",
            response=last,
            decision=TAG_PAGING,
        )
    judge_pages(filtered, problem2, last2, judge="TIM-10", decision=TAG_PAGING)
    want = timeline.ids(lambda r: r["id"] in timeline.data and any(t["id"] == red for t in r["tags"]))
    if problem2 is None:
        should(
            target,
            sorted(r["id"] for r in filtered) == sorted(want),
            f"{sent(last2)}: {[r['id'] for r in filtered]}, not {sorted(want)}",
            response=last2,
            decision=TAG_PAGING,
        )


@pytest.mark.rule("TIM-10")
def check_tim10_unknown_tag_is_404(target, http):
    r = http.get(f"/tags/{MISSING_ID}/images")
    should(
        target,
        r.status_code == 404,
        f"{sent(r)}: expected 404, got {got(r)}",
        response=r,
        decision=UNKNOWN_ID_404,
    )


@pytest.mark.writes
@pytest.mark.rule("TIM-11")
def check_tim11_deleting_a_tag_keeps_its_images(target, http, cleanup):
    base = target.unique("t11")
    ids = [made(http, f"{base}-{i}.png", [base, f"{base}-x"])["id"] for i in range(2)]
    cleanup.images += ids
    records = parallel([lambda i=i: fetched(http, i) for i in ids])
    tags = {t["name"]: t["id"] for t in records[0]["tags"]}
    cleanup.tags_of(records[0])
    cleanup.tags_of(records[1])
    if {t["id"] for t in records[1]["tags"]} != set(tags.values()):
        raise NotExercised("TIM-08", f"two records naming the tags {sorted(tags)} got different tags")
    gone = tags[f"{base}-x"]
    r = http.delete(f"/tags/{gone}")
    check(r.status_code == 204, f"{sent(r)}: expected 204, got {got(r)}", response=r)
    *after, other = parallel(
        [*(lambda i=i: http.get(f"/images/{i}") for i in ids), lambda: http.get(f"/tags/{tags[base]}/images")]
    )
    for a in after:
        if check(
            a.status_code == 200, f"deleting a tag deleted its image: {sent(a)} answered {got(a)}", response=a
        ):
            carried = tag_names(record_of(a))
            check(
                carried == [base],
                f"{sent(a)} after {sent(r)} ({base}-x): the record carries {carried}",
                response=a,
            )
    body = body_of(other) if other.status_code == 200 else None
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise NotExercised("TIM-10", f"{sent(other)} answered {got(other)}", other.request)
    listed = [x.get("id") for x in results if isinstance(x, dict)]
    check(
        sorted(listed) == sorted(ids),
        f"{sent(other)}: the images are gone from their other tag: {listed}",
        response=other,
    )
    names = [t.get("name") for t in all_tags(http, owner="TIM-08")]
    check(f"{base}-x" not in names, f"GET /tags still lists the deleted tag {base}-x")
