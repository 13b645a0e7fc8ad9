"""Entrypoints: the internal HTTP API and the inventory-outcome consumer."""
