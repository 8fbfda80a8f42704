"""What a check found, rule by rule, without stopping at the first break.

A check may record several findings (``check``, ``should``), each blamed on one rule and carrying the
exact request it is about, and go on: a CI user sees every distinct break of a rule, not only the first.
A setup step that belongs to another rule (``needs``) stops the check as *not exercised*, which is
neither a pass nor a failure: a server that refuses the setup is reported on the setup's own rule.

The plugin (``conformance.rule_plugin``) calls ``begin`` with the running check's findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

MUST = "MUST"
SHOULD = "SHOULD"


@dataclass
class Finding:
    rule: str | None  # None: the check's first rule
    kind: str  # MUST | SHOULD (a SHOULD part of the rule, or a decision)
    message: str
    request: object | None = None  # the httpx.Request it is about
    decision: str | None = None
    key: str | None = None  # a break many checks may see (a response's schema): reported once a run


@dataclass
class Findings:
    """One check's findings; ``judged`` is the exchange a plain ``assert`` is about."""

    items: list[Finding] = field(default_factory=list)
    judged: object | None = None
    batches: dict[str, tuple[list, object]] = field(default_factory=dict)


# One check runs at a time, but it may send requests from worker threads: a module global, not a
# context variable (threads do not inherit those).
_current: Findings | None = None


def begin(findings: Findings | None) -> None:
    """The plugin's hook: the findings of the check about to run (None once it ended)."""
    global _current
    _current = findings


def current() -> Findings:
    global _current
    if _current is None:  # a check called outside the plugin (e.g. directly from a test): still collect
        _current = Findings()
    return _current


class NotExercised(pytest.skip.Exception):
    """The check could not reach its own rule because a step owned by ``because`` did not succeed."""

    def __init__(self, because: str, message: str, request=None):
        super().__init__(f"not exercised: {message} (see {because})")
        self.because = because
        self.detail = message
        self.request = request


def _request_of(response):
    if response is None:
        return None
    try:
        return response.request
    except RuntimeError:  # an httpx.Response built without a request
        return None


def batch(name: str, send) -> list:
    """A list the check fills; once its body returns, the plugin calls ``send(list)``, still inside the
    check. The schema layer collects Hypothesis' cases this way and sends them concurrently: generating a
    case needs no response, so a run pays for the network once per batch, not once per case."""
    findings = current()
    if name not in findings.batches:
        findings.batches[name] = ([], send)
    return findings.batches[name][0]


def judged(response):
    """The exchange the next plain ``assert`` is about: its request is the one the report replays."""
    current().judged = response
    return response


def check(ok: bool, message: str, *, rule: str | None = None, response=None) -> bool:
    """A MUST assertion that records a break and lets the check go on to find the others."""
    if not ok:
        current().items.append(Finding(rule, MUST, message, _request_of(response)))
    return bool(ok)


def should(target, ok: bool, message: str, *, rule: str | None = None, response=None, decision=None) -> bool:
    """A SHOULD part (our decision where the seed is silent): a warning, a failure only under --strict."""
    del target  # the plugin applies --strict; kept in the signature for the checks' readability
    if not ok:
        current().items.append(Finding(rule, SHOULD, message, _request_of(response), decision))
    return bool(ok)


def schema_break(key: str, message: str, response, rule: str = "ALL-02") -> None:
    """A response the check received breaks the seed's schema: ``rule``'s break (ALL-02's, unless a rule
    states that part of the shape itself), one per ``key`` in a run's report however many responses show
    it. The check's other rules then read a response the seed does not promise: the plugin reports their
    failures as not exercised (a schema break is ALL-02's alone)."""
    current().items.append(Finding(rule, MUST, message, _request_of(response), key=key))


def needs(response, what: str, rule: str, ok=None):
    """A setup step owned by ``rule``: unless it succeeded (default: any 2xx), the check is not exercised."""
    passed = ok(response) if ok is not None else 200 <= response.status_code < 300
    if not passed:
        why = f"{what} answered {response.status_code}: {gist(response)}"
        raise NotExercised(rule, why, _request_of(response))
    return response


_TEXTUAL = ("text/", "application/json", "application/problem+json", "application/xml", "application/x-www")


def gist(response, chars: int = 160) -> str:
    """A textual body's start, on one line; a binary one (an image) by its size and type, not its bytes."""
    media = response.headers.get("content-type", "").lower()
    if media and not media.startswith(_TEXTUAL) and "+json" not in media:
        return f"<{len(response.content)} bytes of {media.split(';')[0]}>"
    try:
        text = response.content.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(response.content)} bytes that are not UTF-8 text>"
    return " ".join(text[:chars].split())


def accepted(response, what: str, *, rule: str | None = None) -> bool:
    """MUST: the request was accepted (any 2xx)."""
    return check(
        200 <= response.status_code < 300,
        f"{what}: expected a 2xx, got {response.status_code}: {response.text[:200]}",
        rule=rule,
        response=response,
    )


def refused(response, what: str, *, rule: str | None = None, should_status: int | None = None, decision=None):
    """MUST: a 4xx (the seed names no status); SHOULD: exactly ``should_status``, the conventional one."""
    ok = check(
        400 <= response.status_code < 500,
        f"{what}: expected a 4xx, got {response.status_code}: {response.text[:200]}",
        rule=rule,
        response=response,
    )
    if ok and should_status is not None:
        should(
            None,
            response.status_code == should_status,
            f"{what}: expected {should_status}, got {response.status_code} (any 4xx meets the seed)",
            rule=rule,
            response=response,
            decision=decision,
        )
    return ok


__all__ = [
    "Finding",
    "Findings",
    "NotExercised",
    "accepted",
    "check",
    "judged",
    "needs",
    "refused",
    "schema_break",
    "should",
]
