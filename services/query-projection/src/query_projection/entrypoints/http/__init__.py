"""The internal query API the gateway calls, one module per resource."""
