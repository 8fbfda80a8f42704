"""The app as built passes a request through exactly the layers mockserver.stack declares, in that order."""

from __future__ import annotations

from starlette.testclient import TestClient
from support.postgres_cluster import pg_cluster, pg_url  # noqa: F401  (fixtures)

from mockserver import stack
from mockserver.app import create_app


def _outer_chain(server) -> list[type]:
    """The outer layers from ``server.asgi`` down to ``MockServer._dispatch``."""
    kinds, app = [], server.asgi
    while hasattr(app, "app"):
        kinds.append(type(app))
        app = app.app
    assert app == server._dispatch, f"the outer layers end in {app!r}, not in the dispatch"
    return kinds


def _connexion_chain(server) -> list:
    """Connexion's middlewares as it built them on the first request, outermost first."""
    with TestClient(server.asgi, base_url="http://localhost") as client:
        assert client.get("/tagged-images/v1/images").status_code == 200
    built = server.connexion.middleware.middleware_stack
    assert built is not None, "Connexion built no stack"
    return list(built)[:-1]  # the last entry is the wrapped app (the operations), not a layer


def test_outer_layers_are_the_declared_ones_in_order():
    assert _outer_chain(create_app()) == [layer.kind for layer in stack.outer_layers(state_dir=False)]


def test_state_dir_adds_the_durable_layer_where_declared(tmp_path):
    server = create_app(state_dir=tmp_path)
    try:
        assert _outer_chain(server) == [layer.kind for layer in stack.outer_layers(state_dir=True)]
    finally:
        server.durable.close()
    assert len(stack.outer_layers(state_dir=True)) == len(stack.outer_layers(state_dir=False)) + 1


def test_store_adds_its_transaction_layer_where_declared(pg_url):  # noqa: F811
    server = create_app(store=pg_url)  # opens no connection until the first request
    with_store = stack.outer_layers(state_dir=False, store=True)
    assert _outer_chain(server) == [layer.kind for layer in with_store]
    assert len(with_store) == len(stack.outer_layers(state_dir=False)) + 1


def test_connexion_layers_are_the_declared_ones_in_order():
    built = _connexion_chain(create_app())
    assert [type(layer) for layer in built] == [layer.kind for layer in stack.CONNEXION_LAYERS]
    stages = [layer.stage for layer in built if type(layer).__name__ == "Checkpoint"]
    assert stages == ["authenticated", "validated"]


def test_every_layer_says_why_it_is_there():
    for layer in (*stack.OUTER_LAYERS, *stack.CONNEXION_LAYERS):
        assert len(layer.why) > 20, layer
