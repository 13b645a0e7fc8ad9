"""PostgreSQL, Kafka and Redis plumbing behind the use cases."""
