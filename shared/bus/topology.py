"""Names and arguments of every exchange and queue, in one place.

kombu (the services) and pika (the operator's tool) both declare from here, so the
arguments always match: RabbitMQ refuses a redeclaration with different arguments. Which
services there are, and the event types each consumes, their caller says (services/system.py
`subscriptions`).
"""

EVENTS_EXCHANGE = "loopgate.events"
DEAD_LETTER_EXCHANGE = "loopgate.dead-letter"

# After this many failed deliveries a consumer dead-letters the message itself.
MAX_DELIVERY_ATTEMPTS = 5
# The broker's own limit is the backstop for a message that kills the worker before the
# consumer can count the attempt (a quorum queue counts every redelivery).
BROKER_DELIVERY_LIMIT = MAX_DELIVERY_ATTEMPTS * 2


def queue_name(service: str) -> str:
    return f"loopgate.{service}"


def dead_letter_queue_name(service: str) -> str:
    return f"loopgate.{service}.dead-letter"


def queue_arguments(service: str) -> dict:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": BROKER_DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": queue_name(service),
    }


def dead_letter_queue_arguments() -> dict:
    return {"x-queue-type": "quorum"}
