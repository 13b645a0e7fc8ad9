"""The public HTTP API: routers per resource, their shared dependencies and the middleware."""
