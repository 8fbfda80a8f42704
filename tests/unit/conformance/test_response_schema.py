"""Every response a behaviour check receives is judged against the seed view's schema (ALL-02): one
finding per operation, status and place in the body, however many responses or checks show it, and the
check that read it reports its own rules not exercised."""

from __future__ import annotations

import httpx
import pytest

from conformance import findings
from conformance.response_schema import ResponseSchemaJudge
from conformance.rule_plugin import (
    SCHEMA_BROKEN,
    Outcome,
    Results,
    _behaviour_not_judged_on_broken_schema,
)

BASE = "http://h/tagged-images/v1"


@pytest.fixture
def recorded():
    found = findings.Findings()
    findings.begin(found)
    yield found.items
    findings.begin(None)


def _record(n: int, **changes) -> dict:
    record = {
        "id": n,
        "created_by": "a",
        "created_timestamp": 1,
        "filename": f"{n}.png",
        "size": 1,
        "tags": [],
    }
    return {**record, **changes}


def _listing(url: str, records: list[dict], status: int = 200, base: str = BASE):
    body = {"results": records, "meta": {"current_page": 2, "total_results": 9, "has_more_pages": False}}
    return httpx.Response(status, json=body, request=httpx.Request("GET", base + url))


def test_a_wrong_type_deep_in_a_listing_is_one_all02_finding_per_place(recorded):
    judge = ResponseSchemaJudge("tagged-images", BASE)
    judge(_listing("/images?page=2&limit=3", [_record(1), _record(2, id="2"), _record(3, id="3")]))
    keys = {f.key for f in recorded}
    assert keys == {"GET /images -> 200: /results/*/id"}
    assert {f.rule for f in recorded} == {"ALL-02"}
    assert "at /results/1/id" in recorded[0].message
    assert str(recorded[0].request.url).endswith("page=2&limit=3")


def test_a_body_the_seed_allows_and_what_the_judge_leaves_to_others_are_not_findings(recorded):
    judge = ResponseSchemaJudge("tagged-images", BASE)
    judge(_listing("/images?page=2", [_record(1), _record(2)]))  # as the seed types it
    judge(_listing("/images", [_record(1, id="1")], status=201))  # a status the seed does not name
    judge(_listing("/images", [_record(1, id="1")], base="http://storage"))  # another origin
    judge(_listing("/nowhere", [_record(1, id="1")]))  # no operation of the API
    text = httpx.Response(200, text="1", request=httpx.Request("GET", BASE + "/images"))
    judge(text)  # not JSON: the content type is the schema layer's
    assert recorded == []


def test_a_keyed_break_is_kept_once_a_run_across_checks_and_workers():
    results = Results()
    first = Outcome("check_a", "fail", "at /results/1/id", key="GET /images -> 200: /results/*/id")
    again = Outcome("check_b", "fail", "at /results/4/id", key="GET /images -> 200: /results/*/id")
    results.add(["ALL-02"], first)
    results.add(["ALL-02"], again)
    results.add(["ALL-02"], Outcome("check_b", "fail", "another break"))
    assert [o.test for o in results.by_rule["ALL-02"]] == ["check_a", "check_b"]
    assert results.by_rule["ALL-02"][1].message == "another break"


def test_the_check_that_read_a_broken_response_does_not_fail_its_own_rules():
    found = {
        "ALL-02": [Outcome("c", "fail", "schema", key="k")],
        "TIM-04": [Outcome("c", "fail", "results are not a list of records"), Outcome("c", "warn", "w")],
        "TIM-05": [Outcome("c", "pass")],
    }
    _behaviour_not_judged_on_broken_schema("c", found, {"ALL-02"})
    assert [o.status for o in found["ALL-02"]] == ["fail"]
    assert [(o.status, o.message) for o in found["TIM-04"]] == [("warn", "w"), ("skip", SCHEMA_BROKEN)]
    assert [o.status for o in found["TIM-05"]] == ["pass"]


def test_a_part_of_the_shape_a_rule_states_itself_stays_that_rules(recorded):
    judge = ResponseSchemaJudge(
        "tagged-images", BASE, owners={"GET /images/{image_id} -> 200: /tags": "TIM-06"}
    )
    request = httpx.Request("GET", BASE + "/images/5")
    judge(httpx.Response(200, json=_record(5, tags=["red"]), request=request))
    judge(httpx.Response(200, json=_record(5, size="5"), request=request))
    assert [(f.rule, f.key) for f in recorded] == [
        ("TIM-06", "GET /images/{image_id} -> 200: /tags/*"),
        ("ALL-02", "GET /images/{image_id} -> 200: /size"),
    ]
