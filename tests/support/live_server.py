"""The mock on a real socket, for tests that need true concurrency and URLs."""

from __future__ import annotations

from mockserver.testing import BackgroundMock


class LiveServer(BackgroundMock):
    """The mock on a real socket, started at once; ``mutate(app)`` may alter the app before it serves (the
    broken variants in tests/power/mutants/)."""

    def __init__(self, mutate=None, **settings):
        super().__init__(**settings)
        self._mutate = mutate
        self.start()

    def _build_app(self, create_app):
        app = super()._build_app(create_app)
        if self._mutate is not None:
            self._mutate(app)
        return app
