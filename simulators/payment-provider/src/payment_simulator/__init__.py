"""A stand-in for an external card payment provider, run as its own process."""
