"""Use cases: decide a partition's batch of messages and store it in one transaction."""
