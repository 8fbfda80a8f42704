"""evotor behaviour (EVT-01..10, ALL-04, ALL-05): product images, at most one per product, PNG 300x300 only.

MUST rests on the seed alone: the upload answers 200 with the image, the delete 204, a product holds one
image, the file is a PNG of 300x300 pixels and at most 5242800 bytes. The seed names no error status at
all, so every refusal is "any 4xx, nothing changed" at MUST, and the mock's codes (401, 400, 413, 409,
404) are SHOULD parts naming their decision. Error bodies are not read here: the schema layer judges them
(ALL-02, the full spec at SHOULD).

Every check works on products of its own (fresh ids in the seed's UUID shape, and a second store where
scoping is checked), so nothing assumes an empty server or collides with another check or run. The setup
upload is the seed's example request (``-F datafile=@000.png`` with ``X-Authorization``) carrying a
realistic PNG of a few KB; where the rule under test is not the upload, any 2xx will do and a refusal
makes the check "not exercised" (see EVT-02). Every image a check uploads is deleted when it ends.
"""
