"""The schema layer generates from the run's seed: two runs of one seed send the same requests, so a
verdict that rests on one generated value (a degenerate value refused at SHOULD, ALL-05) is the same in
every run of that seed, in one process or several."""

from __future__ import annotations

from schemathesis.core import NotSet

from conformance.checks import schema_layer
from conformance.runner import run
from conformance.target import Target


def generated_cases(monkeypatch, seed: int) -> list[str]:
    """Every case the schema layer generates for tagged-images' ALL-05 run, as text; nothing is sent."""
    cases: list[str] = []

    def keep(contract, batch) -> None:
        for case in batch:
            body = None if isinstance(case.body, NotSet) else case.body
            cases.append(f"{case.method} {case.path} {case.path_parameters!r} {case.query!r} {body!r}")

    monkeypatch.setattr(schema_layer, "_send_and_judge", keep)
    target = Target(
        api="tagged-images",
        base_url="http://127.0.0.1:9/v1",  # nothing listens: the layer sends nothing here
        seed=seed,
        max_examples=5,
        only_rules=("ALL-05",),
    )
    run(target, pytest_args=["-k", "check_schema_layer and (POST or GET) and not tag_id and not image_id"])
    return cases


def test_two_runs_of_one_seed_generate_the_same_cases_and_another_seed_others(monkeypatch):
    first = generated_cases(monkeypatch, 3)
    again = generated_cases(monkeypatch, 3)
    other = generated_cases(monkeypatch, 4)
    assert len(first) > 50
    assert first == again, next(f"{a}\n!=\n{b}" for a, b in zip(first, again, strict=False) if a != b)
    assert first != other
