"""The one way events enter Kafka: validate, encode, key, deliver idempotently, or
dead-letter with the reason."""

from producers.producer import Delivery, InteractionProducer, SendResult

__all__ = ["Delivery", "InteractionProducer", "SendResult"]
