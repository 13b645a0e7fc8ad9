"""Kafka consumer loops, HTTP routes and the operator command line."""
