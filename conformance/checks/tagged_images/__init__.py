"""tagged-images behaviour (TIM-01..13, ALL-04, ALL-05). The server may hold other records and tags: every
record a check creates carries a tag unique to it (``target.unique``), so exact comparisons page only those
records (GET /search/images with both exact_tags and match_tags, as the seed requires); on GET /images,
which lists everything, the checks hold invariants true whatever else is stored. Checks delete every record
and tag they create.

Levels (BEHAVIOURS.md): a MUST finding rests on the seed alone (``check``, a plain ``assert``);
what the project decided where the seed is silent (statuses it never names, error bodies of operations
whose seed lists none, one search filter alone, the paging parameters of a tag's image listing...) is a
``should`` naming the decision. A setup step owned by another rule goes through ``needs`` (or raises
``NotExercised``): a server that refuses it is reported on that rule, not on the one under test.

Setups send the seed's fullest example request (``filename``, ``size`` and ``tags`` for POST /images;
``filename``, ``image_data`` and ``tags`` for POST /upload) with images of a few KB, and accept any 2xx
where the rule under test is not about the status. No check assumes that two requests land in one clock
second: date ranges are built from the ``created_timestamp`` values the server returned."""
