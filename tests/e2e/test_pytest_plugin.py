"""The pytest plugin (entry point ``pytest11``), run in inline projects through pytester: the
``contract_mock`` fixture, the ``--contract-*`` options, and ``assert_honours_contract``."""

from __future__ import annotations

import httpx
import pytest
from power.mutants import all_mutants
from support.live_server import LiveServer
from support.pytester_host import STRICT_HOST_INI, Host

from conformance import SpecViolation, assert_honours_contract
from image_api_contracts import APIS

pytest_plugins = ["pytester"]


@pytest.fixture
def host(pytester):
    pytester.makeini(STRICT_HOST_INI)
    return Host(pytester)


def test_without_options_the_plugin_adds_no_items(host):
    host.makepyfile("def test_alone(): pass")
    result = host.runpytest("-v")
    result.assert_outcomes(passed=1)
    assert "image-api-contracts" not in result.stdout.str().split("plugins:")[0]  # no conformance header
    result.stdout.fnmatch_lines(["*collected 1 item*"])


def test_contract_mock_round_trip_and_reset_between_tests(host, png):
    host.makepyfile(
        f"""
        import base64

        PNG = {png()!r}

        def test_upload_list_download_delete(contract_mock):
            api = contract_mock.client("tagged-images")
            assert contract_mock.base_url("tagged-images").endswith("/tagged-images/v1")
            body = {{"filename": "a.png", "tags": ["t"], "image_data": base64.b64encode(PNG).decode()}}
            created = api.post("/upload", json=body)
            assert created.status_code == 201, created.text
            image_id = created.json()["id"]
            assert [r["id"] for r in api.get("/images").json()["results"]] == [image_id]
            url = api.get(f"/images/{{image_id}}").json()["url"]
            assert api.get(url).content == PNG
            assert api.delete(f"/images/{{image_id}}").status_code == 204

        def test_leaves_an_image_behind(contract_mock):
            body = {{"filename": "b.png", "tags": [], "image_data": base64.b64encode(PNG).decode()}}
            assert contract_mock.client("tagged-images").post("/upload", json=body).status_code == 201

        def test_and_the_next_one_starts_empty(contract_mock):
            assert contract_mock.state()["stored_files"] == 0
            assert contract_mock.client("tagged-images").get("/images").json()["results"] == []
        """
    )
    host.runpytest().assert_outcomes(passed=3)


def test_one_api_at_its_real_paths_with_seed_data(host):
    host.makepyfile(
        """
        import pytest

        @pytest.mark.contract_mock(api="evotor", fixtures=True)
        def test_evotor_alone(contract_mock):
            assert contract_mock.base_url() == contract_mock.url  # evotor's real base path is /
            stores = contract_mock.state()["apis"]["evotor"]
            assert stores, "the seed data was loaded"
            assert contract_mock.client().get("/stores/x/products/y/images").status_code == 200
            with pytest.raises(ValueError, match="does not serve"):
                contract_mock.client("tagged-images")
        """
    )
    host.runpytest().assert_outcomes(passed=1)


def test_forced_error_and_latency(host):
    host.makepyfile(
        """
        import pytest

        @pytest.mark.contract_mock(api="tagged-images", force_status=404, force_path="/v1/images/")
        def test_forced_by_marker(contract_mock):
            got = contract_mock.client().get("/images/1")
            assert got.status_code == 404
            assert got.json() == {"code": 404, "message": "response forced by Prefer: code=404"}
            assert contract_mock.client().get("/images").status_code == 200  # outside the prefix

        def test_forced_by_method(contract_mock):
            contract_mock.force_status(404)
            assert contract_mock.client("everydaypic").get("/v1/image/1").text.startswith("response forced")

        @pytest.mark.contract_mock(latency_ms=20)
        def test_latency_by_marker(contract_mock):
            assert contract_mock.behaviour()["latency_ms"] == 20
            assert contract_mock.client("tagged-images").get("/images").status_code == 200

        def test_and_gone_after_the_reset(contract_mock):
            assert contract_mock.behaviour() == {"latency_ms": 0, "status": None, "path_prefix": "/"}
        """
    )
    host.runpytest().assert_outcomes(passed=4)


def test_mock_options_apply_to_every_test(host):
    host.makepyfile(
        """
        def test_one(contract_mock):
            assert contract_mock.behaviour()["latency_ms"] == 15
            assert contract_mock.state()["stored_files"] > 0  # the seed data

        def test_two(contract_mock):
            test_one(contract_mock)
        """
    )
    host.runpytest("--contract-mock-latency", "15", "--contract-mock-fixtures").assert_outcomes(passed=2)


def test_mock_options_from_the_ini(host):
    host.makeini(STRICT_HOST_INI + "contract_mock_fixtures = true\ncontract_mock_latency = 5\n")
    host.makepyfile(
        """
        def test_ini(contract_mock):
            assert contract_mock.behaviour()["latency_ms"] == 5
            assert contract_mock.state()["stored_files"] > 0
        """
    )
    host.runpytest().assert_outcomes(passed=1)


def test_conformance_options_add_the_checks_named_by_rule(host):
    # The host's own naming must not stop the checks from being collected.
    host.makeini(STRICT_HOST_INI + "python_files = check_*.py\npython_functions = check_*\n")
    host.makepyfile(check_own="def check_own(): pass")
    result = host.runpytest(
        "-v", "--contract-api", "everydaypic", "--contract-base-url", "mock", "--contract-max-examples", "3"
    )
    outcomes = result.parseoutcomes()
    assert result.ret == 0 and outcomes["passed"] >= 10 and "failed" not in outcomes, outcomes
    result.stdout.fnmatch_lines(
        [
            "conformance: everydaypic @ http://127.0.0.1:* (our mock)*",
            "*check_own.py::check_own PASSED*",
            "*schema_layer.py::check_schema_layer[[]POST /v1/image[]]"
            "[[]ALL-01+ALL-02+ALL-03+ALL-05[]] PASSED*",
            "*everydaypic.py::check_edp01_each_field_is_required[[]EDP-01-file[]] PASSED*",
            "*conformance verdicts: everydaypic*",
            "  PASS EDP-05 *",
            "PASSED: * passed, 0 failed, 0 warnings, 0 skipped",
        ]
    )


def test_conformance_options_fail_on_a_broken_server(host):
    (mutant,) = [m for m in all_mutants() if m.id == "edp-truncated-download"]
    server = LiveServer(mutate=mutant.apply)
    try:
        result = host.runpytest(
            "-v",
            "--contract-api=everydaypic",
            f"--contract-base-url={server.url}/everydaypic{APIS['everydaypic'].server_path}",
            "--contract-max-examples=8",  # as tests/power/test_conformance_power.py: enough to catch it
            "--contract-seed=1",
            "-k",
            "EDP-05",
        )
    finally:
        server.stop()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*check_edp05_download_returns_the_uploaded_bytes[[]EDP-05[]] FAILED*",
            "  FAIL EDP-05 *",
            "FAILED: *",
        ]
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--contract-api", "evotor"], "--contract-api and --contract-base-url go together"),
        (["--contract-api", "evotor", "--contract-base-url", "ftp://x"], "--contract-base-url must be "),
        (
            ["--contract-api", "evotor", "--contract-base-url", "mock", "--contract-max-examples", "0"],
            "--contract-max-examples must be at least 1",
        ),
        (
            ["--contract-api", "evotor", "--contract-base-url", "http://x", "--contract-set", "album_id=1"],
            "--contract-set album_id is not a setting of evotor",
        ),
    ],
)
def test_bad_conformance_options_are_usage_errors(host, args, message):
    result = host.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_assert_honours_contract_in_a_host_project(host):
    host.makepyfile(
        """
        import httpx
        import pytest
        from conformance import SpecViolation, assert_honours_contract

        def test_good_and_bad(contract_mock):
            base_url = contract_mock.base_url("tagged-images")
            listed = contract_mock.client("tagged-images").get("/images")
            assert_honours_contract("tagged-images", listed, base_url=base_url)
            broken = httpx.Response(200, json={"results": "nope"}, request=listed.request)
            with pytest.raises(SpecViolation, match="'nope' is not of type 'array'"):
                assert_honours_contract("tagged-images", broken, base_url=base_url)
        """
    )
    host.runpytest().assert_outcomes(passed=1)


def test_misused_markers_fail_the_test_with_a_clear_message(host):
    host.makepyfile(
        """
        import pytest

        @pytest.mark.contract_mock("evotor")
        def test_positional(contract_mock):
            pass

        @pytest.mark.contract_exchange
        def test_without_the_mock():
            pass
        """
    )
    result = host.runpytest()
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*contract_mock takes keyword options only (api, fixtures, latency_ms, force_status, force_path, "
            "in_process, assert_honoured)",
            "*contract_exchange checks contract_mock's clients: use it",
        ],
        consecutive=False,
    )


def test_contract_exchange_marker_checks_every_response_of_the_mock_clients(host):
    host.makepyfile(
        """
        import pytest

        @pytest.mark.contract_exchange
        def test_good(contract_mock):
            assert contract_mock.client("tagged-images").get("/images").status_code == 200
            assert contract_mock.client("evotor").get("/stores/s/products/p/images").status_code == 200

        @pytest.mark.contract_exchange("tagged-images")
        def test_wrong_endpoint(contract_mock):
            contract_mock.client("tagged-images").get("/imagez")

        def test_unmarked_is_not_checked(contract_mock):
            contract_mock.client("tagged-images").get("/imagez")
        """
    )
    result = host.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*SpecViolation: GET http://127.0.0.1:*/tagged-images/v1/imagez -> 404 does not honour the tagged-*"]
    )


def test_assert_honours_contract_names_the_exchange_and_takes_requests_responses(live_mock):
    import requests

    base = live_mock.url + "/tagged-images/v1"
    good = requests.get(base + "/images/424242", timeout=10)
    assert good.status_code == 404
    assert_honours_contract("tagged-images", good, base_url=base)
    good._content = b'{"message": "no code"}'
    with pytest.raises(SpecViolation) as caught:
        assert_honours_contract("tagged-images", good, base_url=base)
    assert str(caught.value).startswith(f"GET {base}/images/424242 -> 404 does not honour the tagged-images")
    assert "'code' is a required property" in str(caught.value)
    with pytest.raises(ValueError, match="carries no request"):
        assert_honours_contract("tagged-images", httpx.Response(200))
