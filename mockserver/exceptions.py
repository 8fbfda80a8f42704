"""The root of every exception the mock raises, so a caller can catch the mock's own with one class.

    MockError
    ├── ApiError                    mockserver.errors: a refusal, rendered in the serving API's format
    │   └── RecordShapeError        mockserver.state.records: a record its schema would refuse
    ├── StoreFull                   mockserver.state.blobs: the blob store's cap is reached (507)
    ├── Refused (ValueError)        mockserver.layers.gate: text or a number the mock cannot keep (400)
    ├── InvalidImage (ValueError)   mockserver.images: bytes that are not the image they claim to be
    ├── BadFilter (ValueError)      mockserver.layers.journal: a journal query the filters do not know
    ├── SeedError (ValueError)      mockserver.state.fixtures: seed data the mock will not load
    └── UnsupportedLibraryVersion   mockserver.connexion_ext: a library outside the tested versions
        (ImportError)

The built-in base beside ``MockError`` is kept where callers already catch it (``except ValueError``).
"""

from __future__ import annotations


class MockError(Exception):
    """Raised by the mock itself (see the tree above); never by a library it uses."""
