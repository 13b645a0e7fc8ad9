"""Kafka subscribers, HTTP routes and the operator command line."""
