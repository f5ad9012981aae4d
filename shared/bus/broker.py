"""Opening a broker connection: one place for the options every connection needs."""

from kombu import Connection

CONNECT_TIMEOUT_SECONDS = 5


def broker_connection(url: str) -> Connection:
    return Connection(
        url,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        transport_options={
            # RabbitMQ: publish() returns only once the broker has taken the message.
            "confirm_publish": True,
            # Memory transport: how often an idle consumer looks for messages.
            "polling_interval": 0.02,
        },
    )
