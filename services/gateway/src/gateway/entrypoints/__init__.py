"""HTTP entry points: the public API under /api/v1 and its middleware."""
