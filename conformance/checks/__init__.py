"""The checks: one module per API (behaviour rules) plus the schema layer shared by all."""
