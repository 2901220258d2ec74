"""Reading what the collector or the importer wrote, decoded."""

from __future__ import annotations

from producers.dead_letter import read_dead_letter
from panorama.settings import Settings
from schemas.codec import InteractionCodec
from tests.integration.kafka_reader import read_topic


def interactions(settings: Settings) -> list[dict]:
    codec = InteractionCodec()
    return [codec.decode(m.value()) for m in read_topic(settings, settings.topics.interactions)]


def dead_letters(settings: Settings) -> list[dict]:
    return [read_dead_letter(m.value()) for m in read_topic(settings, settings.topics.dlq)]
