import pytest

# Real PostgreSQL, Redis and a Kafka-protocol broker for every test that asks for them.
pytest_plugins = ["local_infra.pytest_plugin"]


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `pytest -n 2 --dist loadgroup` the tests that start the services as processes
    run on one worker, beside one shared platform stack, while the other worker takes the
    rest; without xdist the mark changes nothing."""
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.xdist_group("platform"))
