"""Entry points: the public HTTP API under /api/v1 and its middleware (package http)."""
