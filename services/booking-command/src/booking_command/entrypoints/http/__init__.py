"""The internal HTTP API the gateway calls."""
