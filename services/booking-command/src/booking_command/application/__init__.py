"""Use cases: commands in, ids, versions and notification-log positions out."""
