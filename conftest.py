# Real PostgreSQL, Redis and a Kafka-protocol broker for every test that asks for them.
pytest_plugins = ["local_infra.pytest_plugin"]
