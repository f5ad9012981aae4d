import pytest

from tests.integration.distributed import DistributedLoopgate
from tests.integration.hostile_requests import loopgate, world  # noqa: F401 (fixtures)
from tests.support import CoreFlow


@pytest.fixture(scope="session")
def distributed(rabbitmq_url, postgres_url, tmp_path_factory):
    """The distributed topology (gateway, three gunicorn services, three workers) on the
    local RabbitMQ and PostgreSQL, started once for the integration tests."""
    system = DistributedLoopgate(rabbitmq_url, postgres_url, tmp_path_factory.mktemp("dist"))
    system.start()
    yield system
    system.stop()


@pytest.fixture
def flow(distributed) -> CoreFlow:
    return CoreFlow(distributed.url)
