import pytest

# Real PostgreSQL, Redis and a Kafka-protocol broker for every test that asks for them.
pytest_plugins = ["local_infra.pytest_plugin"]

SHARED_STACK_GROUP = "shared-platform-stack"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n 2 --dist loadgroup` (make test) a file's tests run on one worker, so
    a module's fixtures (a stack of its own, a SCRAM broker) start once, and every test on
    the shared platform stack runs on one worker, so one stack serves them all. The tests
    that start the services as processes are handed out first: the longest ones (chaos, a
    restore drill, a stop and run) then start early instead of queueing at the end."""
    if config.getoption("dist", "no") == "no":
        return
    for item in items:
        if "running_stack" in getattr(item, "fixturenames", ()):
            group = SHARED_STACK_GROUP
        else:
            group = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
    files_with_e2e = {item.path for item in items if item.get_closest_marker("e2e") is not None}
    items.sort(key=lambda item: item.path not in files_with_e2e)  # a file's tests stay together
