"""One handler class per API; each instance holds that API's in-memory state for one mock server."""
