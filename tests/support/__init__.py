"""What the tests share that is not a fixture: images, servers on real sockets, each API's error format,
the source documents, wire rewriters for the broken and legal variants. Imported as ``support.<module>``
(``tests/`` is on ``sys.path``: pytest puts the directory of ``tests/conftest.py`` there)."""
