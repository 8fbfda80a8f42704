"""The pytest plugin every project gets by installing image-api-contracts (entry point ``pytest11``).

- ``contract_mock``: the mock, served on 127.0.0.1 in a background thread (or in-process, with no port),
  reset before each test, with its request journal (``requests``, ``assert_received``, and
  ``assert_all_requests_honoured_the_contract``: after each test with ``assert_honoured=True``);
- ``--contract-api NAME --contract-base-url URL``: the conformance checks join the session as test items
  named after their rules, with a verdict per rule at the end (``mock`` as URL checks our own mock);
- ``conformance.assert_honours_contract(api, response)`` checks one exchange with openapi-core.

pytest imports this module in every session of every project that installed us: it imports only pytest,
the API profiles (image_api_contracts: the standard library and PyYAML) and ``conformance.target`` (those and
the suite's errors) here, and the mock, Connexion and Schemathesis when a fixture or an option asks for them.
"""

from __future__ import annotations

import pytest

from image_api_contracts import APIS

from .target import SETTABLE_HELP

API_NAMES = tuple(APIS)
MOCK_MARKER_OPTIONS = (
    "api",
    "fixtures",
    "latency_ms",
    "force_status",
    "force_path",
    "in_process",
    "assert_honoured",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("image-api-contracts", "contract tests of the image-upload APIs")
    group.addoption(
        "--contract-mock-fixtures",
        action="store_true",
        default=None,
        help="contract_mock: load the packaged seed data after each reset (ini: contract_mock_fixtures)",
    )
    group.addoption(
        "--contract-mock-latency",
        type=int,
        metavar="MS",
        help="contract_mock: delay every API response by MS milliseconds (ini: contract_mock_latency)",
    )
    group.addoption(
        "--contract-mock-in-process",
        action="store_true",
        default=None,
        help="contract_mock: serve through httpx.ASGITransport, no port (ini: contract_mock_in_process)",
    )
    parser.addini("contract_mock_in_process", "contract_mock: serve in-process, with no port", "bool")
    parser.addini("contract_mock_fixtures", "contract_mock: load the seed data after each reset", "bool")
    parser.addini("contract_mock_latency", "contract_mock: delay every API response (ms)", "string", "0")

    group.addoption("--contract-api", choices=API_NAMES, help="run the conformance checks of this API")
    group.addoption(
        "--contract-base-url",
        metavar="URL",
        help="the API's base URL (tagged-images: including /v1); 'mock' starts our mock and checks it",
    )
    group.addoption("--contract-token", metavar="TOKEN", help="the credential, put where the API expects it")
    group.addoption(
        "--contract-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=SETTABLE_HELP,
    )
    group.addoption(
        "--contract-max-examples", type=int, default=10, metavar="N", help="examples per generated check (10)"
    )
    group.addoption("--contract-seed", type=int, metavar="N", help="seed for generated data")
    group.addoption("--contract-strict", action="store_true", help="SHOULD rules fail instead of warning")
    group.addoption("--contract-read-only", action="store_true", help="only safe requests (production)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "contract_mock(api=None, fixtures=False, latency_ms=0, force_status=None, force_path=None, "
        "in_process=False, assert_honoured=False): how the contract_mock fixture serves this test (one API "
        "at its real paths, seed data, latency, a forced error status under a path prefix, through ASGI "
        "with no port) and whether every request it received must have honoured the contract",
    )
    config.addinivalue_line(
        "markers",
        "contract_exchange(*apis): after the test, check every response of contract_mock.client(...) "
        "against its API's spec (all APIs, or only those named)",
    )
    api, base_url = config.getoption("contract_api"), config.getoption("contract_base_url")
    if api is None and base_url is None:
        return
    if api is None or base_url is None:
        raise pytest.UsageError("--contract-api and --contract-base-url go together")
    from .hosted_checks import HostedConformance

    config.pluginmanager.register(HostedConformance.from_options(config), HostedConformance.NAME)


# -- the contract_mock fixture ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def contract_mock_servers():
    """Background mocks for the session, one per served configuration (all APIs, or one at its real
    paths), started on first use and stopped at the end. Tests use ``contract_mock``."""
    from mockserver.testing import BackgroundMock

    servers: dict[tuple[str | None, bool], BackgroundMock] = {}

    def server(api: str | None, in_process: bool = False) -> BackgroundMock:
        if (api, in_process) not in servers:
            servers[api, in_process] = BackgroundMock(api=api, in_process=in_process).start()
        return servers[api, in_process]

    yield server
    for mock in servers.values():
        mock.stop()


@pytest.fixture
def contract_mock(request: pytest.FixtureRequest, contract_mock_servers):
    """The mock (every API under ``/<name>/``, or one API at its real paths with
    ``@pytest.mark.contract_mock(api="evotor")``), empty at the start of the test. Marker options on a
    module or class combine with the test's own (``pytestmark`` names the API, a test forces an error).

    Yields a ``mockserver.testing.BackgroundMock``: ``.url``, ``.base_url(api)``, ``.client(api)``
    (closed after the test), ``.reset()``, ``.load_fixtures()``, ``.state()``, ``.set_latency(ms)``,
    ``.force_status(status, path=None)``, and the journal of what it received: ``.requests(api=…,
    operation=…, **filters)``, ``.assert_received(operation, count=…, where=…)``,
    ``.assert_all_requests_honoured_the_contract()``.
    """
    options = {}
    for marker in reversed(list(request.node.iter_markers("contract_mock"))):  # the closest wins, per option
        if marker.args or set(marker.kwargs) - set(MOCK_MARKER_OPTIONS):
            pytest.fail(
                f"@pytest.mark.contract_mock takes keyword options only ({', '.join(MOCK_MARKER_OPTIONS)})",
                pytrace=False,
            )
        options.update(marker.kwargs)
    config = request.config
    fixtures = options.get("fixtures", _option_or_ini(config, "contract_mock_fixtures"))
    latency = options.get("latency_ms", _option_or_ini(config, "contract_mock_latency") or 0)
    if not str(latency).isdigit():
        pytest.fail(f"contract_mock latency must be whole milliseconds, not {latency!r}", pytrace=False)
    in_process = options.get("in_process", _option_or_ini(config, "contract_mock_in_process"))
    mock = contract_mock_servers(options.get("api"), bool(in_process))
    mock.reset()
    if fixtures:
        mock.load_fixtures()
    if latency or options.get("force_status") is not None:
        path = options.get("force_path") or "/"
        mock.set_behaviour(latency_ms=int(latency), status=options.get("force_status"), path_prefix=path)
    yield mock
    mock.close_clients()


def _closest_option(item: pytest.Item, name: str):
    """A contract_mock marker option as the fixture reads it: the closest marker naming it wins."""
    for marker in item.iter_markers("contract_mock"):
        if name in marker.kwargs:
            return marker.kwargs[name]
    return None


def _option_or_ini(config: pytest.Config, name: str):
    """Command line first, then the ini file (pytest-django's precedence)."""
    value = config.getoption(name)
    return value if value is not None else config.getini(name)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """``@pytest.mark.contract_exchange``: once the test passed, each exchange its mock clients made must
    honour the spec (openapi-core); a violation fails the test, naming the request and what is wrong.
    ``contract_mock(assert_honoured=True)``: every request the mock received must have honoured it."""
    result = yield
    if _closest_option(pyfuncitem, "assert_honoured") and "contract_mock" in pyfuncitem.funcargs:
        broken = None
        try:
            pyfuncitem.funcargs["contract_mock"].assert_all_requests_honoured_the_contract()
        except AssertionError as exc:
            broken = str(exc)
        if broken is not None:
            pytest.fail(f"contract_mock(assert_honoured=True): {broken}", pytrace=False)
    marker = pyfuncitem.get_closest_marker("contract_exchange")
    if marker is None:
        return result
    mock = pyfuncitem.funcargs.get("contract_mock")
    if mock is None:
        pytest.fail("@pytest.mark.contract_exchange checks contract_mock's clients: use it", pytrace=False)
    from .openapi_check import assert_honours_contract

    for api, response in list(mock.exchanges):
        base_url = mock.base_url(api)
        if (not marker.args or api in marker.args) and str(response.request.url).startswith(base_url):
            response.read()
            assert_honours_contract(api, response, base_url=base_url)
    return result
