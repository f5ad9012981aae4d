import os

import pytest

from tests.support import listening

RABBITMQ_URL = os.environ.get("LOOPGATE_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_URL = os.environ.get(
    "LOOPGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRED = os.environ.get("LOOPGATE_REQUIRE_INTEGRATION") == "1"


def _need(port: int, what: str) -> None:
    if listening(port):
        return
    message = f"{what} is not reachable on 127.0.0.1:{port}"
    if REQUIRED:
        pytest.fail(f"{message}, and LOOPGATE_REQUIRE_INTEGRATION=1 requires it", pytrace=False)
    pytest.skip(f"{message}; integration tests skipped (see README: Running the tests)")


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    _need(5672, "RabbitMQ")
    return RABBITMQ_URL


@pytest.fixture(scope="session")
def postgres_url() -> str:
    _need(5432, "PostgreSQL")
    return POSTGRES_URL


@pytest.fixture
def embedded(tmp_path):
    """A whole embedded Loopgate (three services, workers, memory bus, SQLite) on a real port."""
    from tests.support import embedded_loopgate

    with embedded_loopgate(tmp_path) as flow:
        yield flow


# Tests that use the local RabbitMQ or PostgreSQL (the distributed system's fixed databases
# and queues among them) run one at a time, after the rest (`make test`); the rest run in
# parallel. The mark follows the fixtures, so that no such test can run in parallel by
# forgetting it.
SHARED_SERVICES = {"rabbitmq_url", "postgres_url", "distributed"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if SHARED_SERVICES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
