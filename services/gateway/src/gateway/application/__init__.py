"""Use cases: register, issue tokens, route commands and queries to the internal services."""
