"""Adapters: the event store on PostgreSQL, the outbox relay and consumer on Kafka."""
