"""Reading what the collector or the importer wrote, decoded."""

from __future__ import annotations

from panorama.privacy.hooks import Opener
from producers.dead_letter import read_dead_letter
from panorama.settings import Settings
from schemas.codec import InteractionCodec
from tests.integration.kafka_reader import read_topic


def interactions(settings: Settings) -> list[dict]:
    """Decoded, with personal fields opened (they are sealed in the log)."""
    codec = InteractionCodec()
    messages = read_topic(settings, settings.topics.interactions)
    opened = Opener(settings).open_batch([(codec.decode(m.value()), m.key()) for m in messages])
    return [record for _, record in opened.records]


def dead_letters(settings: Settings) -> list[dict]:
    return [read_dead_letter(m.value()) for m in read_topic(settings, settings.topics.dlq)]
