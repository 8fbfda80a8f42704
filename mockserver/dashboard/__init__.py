"""The browser dashboard at ``/__mock__/ui/``: the stored images, the live request journal with each
request's contract verdict, and the mock's controls, from local assets only (docs/dashboard.md)."""
