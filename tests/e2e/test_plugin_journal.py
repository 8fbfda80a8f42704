"""The journal through the pytest plugin, in pytester projects: ``contract_mock.requests``,
``assert_received`` (passing, and failing with what was received), the contract-honoured assertion and
its marker option, and the in-process mode giving the same outcomes as the mock on a port."""

from __future__ import annotations

import pytest
from support.images import image_bytes
from support.pytester_host import STRICT_HOST_INI, Host

pytest_plugins = ["pytester"]

HOST_TESTS = """
import pytest

GOOD, SMALL = {good!r}, {small!r}
PRODUCT = "/stores/s1/products/p1/images"


def upload(contract_mock, png):
    return contract_mock.client("evotor").post(PRODUCT, files={{"datafile": ("shoe.png", png, "image/png")}})


def test_requests_are_typed_entries(contract_mock):
    assert upload(contract_mock, GOOD).status_code == 200
    contract_mock.client("tagged-images").get("/images")
    [entry] = contract_mock.requests(api="evotor", operation="uploadProductImage")
    assert (entry.method, entry.status, entry.verdict, entry.rule) == ("POST", 200, "honoured", None)
    part = entry.body.files["datafile"]
    assert (part.format, part.width, part.height, part.size) == ("PNG", 300, 300, len(GOOD))
    assert entry.headers["x-authorization"] == "[redacted]"
    assert [e.operation for e in contract_mock.requests(method="GET")] == ["listImages"]
    print("SERVED AT", contract_mock.url, contract_mock.port)


def test_the_journal_starts_empty_in_each_test(contract_mock):
    assert contract_mock.requests() == []


def test_assert_received_passes(contract_mock):
    upload(contract_mock, GOOD)
    [entry] = contract_mock.assert_received(
        "uploadProductImage", count=1, where=lambda e: e.body.files["datafile"].width == 300
    )
    assert entry.status == 200
    contract_mock.assert_received("POST /evotor/stores/*/images", count=1)
    contract_mock.assert_received("deleteProductImage", count=0)


def test_assert_received_fails_listing_what_was_received(contract_mock):
    upload(contract_mock, SMALL)
    contract_mock.assert_received("uploadProductImage", where=lambda e: e.body.files["datafile"].width == 300)


def test_assert_received_names_an_operation_no_spec_has(contract_mock):
    contract_mock.client("tagged-images").get("/tags")
    contract_mock.assert_received("uploadProductImages")


def test_the_contract_assertion_names_each_broken_request(contract_mock):
    upload(contract_mock, GOOD)
    contract_mock.client("evotor").get(PRODUCT, headers={{"X-Authorization": ""}})  # refused: EVT-01
    contract_mock.assert_all_requests_honoured_the_contract(api="tagged-images")
    contract_mock.assert_all_requests_honoured_the_contract()


@pytest.mark.contract_mock(assert_honoured=True)
def test_the_marker_option_fails_a_test_that_sent_a_broken_request(contract_mock):
    assert contract_mock.client("tagged-images").get("/images", params={{"page": "x"}}).status_code == 400


@pytest.mark.contract_mock(assert_honoured=True)
def test_the_marker_option_passes_a_test_whose_requests_honoured_it(contract_mock):
    url = upload(contract_mock, GOOD).json()["url"]
    assert contract_mock.client("evotor").get(url).content == GOOD
"""

PASSED = [
    "test_requests_are_typed_entries",
    "test_the_journal_starts_empty_in_each_test",
    "test_assert_received_passes",
    "test_the_marker_option_passes_a_test_whose_requests_honoured_it",
]
FAILED = [
    "test_assert_received_fails_listing_what_was_received",
    "test_assert_received_names_an_operation_no_spec_has",
    "test_the_contract_assertion_names_each_broken_request",
    "test_the_marker_option_fails_a_test_that_sent_a_broken_request",
]


@pytest.fixture
def host(pytester):
    pytester.makeini(STRICT_HOST_INI)
    host = Host(pytester)
    host.makepyfile(
        test_journal_host=HOST_TESTS.format(good=image_bytes(300, 300), small=image_bytes(30, 30))
    )
    return host


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Each test's outcome, from the short summary that ``-rA`` prints."""
    return {
        line.split("::")[1].split()[0]: line.split()[0].lower()
        for line in result.stdout.lines
        if line.startswith(("PASSED ", "FAILED "))
    }


@pytest.mark.parametrize("mode", [[], ["--contract-mock-in-process"]], ids=["port", "in-process"])
def test_the_journal_assertions_pass_and_fail_as_they_should(host, mode):
    result = host.runpytest("-rA", "-s", *mode)
    assert outcomes(result) == {**dict.fromkeys(PASSED, "passed"), **dict.fromkeys(FAILED, "failed")}
    result.stdout.fnmatch_lines(
        [
            "*expected at least 1 uploadProductImage request(s) where "
            'lambda e: e.body.files?"datafile"?.width == 300; received 0',  # fnmatch: [ ] are a class
            "*uploadProductImage requests received (1):",
            "*#* POST /evotor/stores/s1/products/p1/images (uploadProductImage) -> 400 application/json "
            "(the image must be 300x300 pixels*); honoured",
            "*datafile=<file 'shoe.png' image/png PNG 30x30, * bytes>  ?where: false?",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*no uploadProductImages request at all (uploadProductImages is not an operationId of *; "
            "did you mean uploadProductImage?)*",
            "*#* GET /tagged-images/v1/tags (listTags) -> 200 application/json; honoured",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*1 of 2 requests did not honour the contract:",
            "*#* GET /evotor/stores/s1/products/p1/images (listProductImages) -> 401 *; broken EVT-01: *",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*contract_mock(assert_honoured=True): 1 of 1 requests did not honour the contract:",
            "*GET /tagged-images/v1/images?page=x (listImages) -> 400 application/json; broken ALL-03: "
            "'x' is not of type 'integer'",
        ]
    )
    served = [line for line in result.stdout.lines if line.startswith("SERVED AT") or "SERVED AT" in line]
    if mode:
        assert any("SERVED AT http://contract-mock.test 0" in line for line in served), served
    else:
        assert any("SERVED AT http://127.0.0.1:" in line for line in served), served


def test_the_in_process_marker_option_opens_no_port(host):
    host.makepyfile(
        test_marker="""
        import pytest

        @pytest.mark.contract_exchange  # the exchanges are checked against the spec as on a port
        @pytest.mark.contract_mock(api="tagged-images", in_process=True)
        def test_in_process(contract_mock):
            created = contract_mock.client().post("/images", json={"filename": "a.png"})
            assert created.status_code == 201
            assert created.json()["upload_url"].startswith("http://contract-mock.test/__mock__/files/")
            assert contract_mock.port == 0
            contract_mock.assert_received("createImage", count=1)
            assert contract_mock.client().get("/images").json()["meta"]["total_results"] == 1
        """
    )
    host.runpytest("test_marker.py").assert_outcomes(passed=1)
