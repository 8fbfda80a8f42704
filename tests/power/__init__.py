"""The proofs that the conformance suite judges rightly: each broken variant (``mutants/``) fails exactly its
own rule, each legal variant (``variants/``) passes, and verdicts do not depend on latency."""
