"""Routers per resource and their shared dependencies."""
