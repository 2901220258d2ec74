"""Right to erasure on the real stack: after `forget`, the customer's e-mail, phone and
name are nowhere — raw Kafka bytes of every topic, every Redis key and value and Redis's
files, ClickHouse's rows, the logs — in any common encoding; everyone else is unchanged;
the forget is audited; the customer's future events are refused until consent is given."""

from __future__ import annotations

import logging
import time
import uuid

import orjson
import pytest
from redis import Redis

from panorama.errors import ProfileNotFound
from panorama.privacy.export import export
from panorama.privacy.forget import forget
from panorama.privacy.hooks import Opener
from producers import InteractionProducer
from producers.dead_letter import read_dead_letter
from projections.sink import EventsSink
from projections.store import analytics_store
from streams.profiles import ProfileReader
from tests.integration.kafka_reader import read_topic
from tests.integration.privacy.scan import file_hits, kafka_hits, needles, redis_hits
from tests.integration.streams.population import population, wait_until_caught_up, worker_thread

pytestmark = pytest.mark.integration

NOW = 1_800_000_000_000_000
EMAIL, PHONE, FIRST, LAST = "zephyrine.quillfeather@example.org", "+4915799887766", "Zephyrine", "Quillfeatherby"


def victim_events(events: list[dict], demo_email: str, demo_phone: str) -> list[dict]:
    """The demo customer's events with personal data of its own, found nowhere else."""
    text = orjson.dumps(events).decode().replace(demo_email, EMAIL).replace(demo_phone, PHONE)
    out = orjson.loads(text)
    for e in out:
        if e.get("traits"):
            e["traits"] |= {"first_name": FIRST, "last_name": LAST}
    return out


@pytest.fixture
def privacy_settings(settings, tmp_path):
    return settings.model_copy(update={"data_dir": tmp_path, "privacy_refresh_s": 0.2})


def aggregates(store, exclude_keys: list[str] | None = None):
    if exclude_keys is None:
        return (store.query("SELECT day, channel, events, active_customers FROM daily_channel_activity ORDER BY day, channel").rows,
                store.query("SELECT day, channel, currency, revenue_minor FROM daily_revenue ORDER BY day, channel, currency").rows)
    keys = ", ".join(f"'{k}'" for k in exclude_keys)
    rest = f"SELECT * FROM events WHERE customer_key NOT IN ({keys})"
    return (store.query(f"SELECT toDate(occurred_at) AS day, channel, uniqExact(event_id), uniqExact(customer_key) FROM ({rest}) "
                        "GROUP BY day, channel ORDER BY day, channel").rows,
            store.query(f"SELECT toDate(occurred_at) AS day, channel, currency, sum(order_total_minor - refund_minor) FROM ({rest}) "
                        "WHERE currency != '' GROUP BY day, channel, currency ORDER BY day, channel, currency").rows)


def test_forget_leaves_no_personal_data_anywhere_and_nothing_else_changes(privacy_settings, stack, tmp_path):
    settings = privacy_settings
    log_file = tmp_path / "process.log"
    handler = logging.FileHandler(log_file)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        customers = population(25, seed=21)
        victim, others = customers[0], customers[1:]
        demo_email = victim.identities()["email"][0]
        demo_phone = victim.identities()["phone"][0]
        victim.events = victim_events(victim.events, demo_email, demo_phone)
        identify = next(e for e in victim.events if e["type"] == "identify" and e["traits"])
        broken = identify | {"event_id": "not-a-uuid"}  # rejected: its sealed copy goes to the DLQ
        with InteractionProducer(settings) as producer:
            result = producer.send_and_wait([e for c in customers for e in c.events] + [broken], timeout=60)
        assert not result.failed and len(result.rejected) == 1

        reader = ProfileReader(Redis.from_url(settings.redis_address), settings)
        with worker_thread(settings):
            wait_until_caught_up(settings)
            before = {c.user_id: reader.read(f"user_id:{c.user_id}", now=NOW) for c in others}
            assert reader.read(f"email:{EMAIL}", now=NOW)["traits"]["first_name"] == FIRST
            exported = export(settings, f"email:{EMAIL}", "test", "access request 1")
            assert len(exported["events"]) == len(victim.events)
            assert exported["rejected_inputs"][0]["payload"]["identities"]["email"] == EMAIL
            _, members = reader.store.resolve(reader.namer.parse(f"email:{EMAIL}"))
            victim_keys = [m.rsplit(":", 1)[1] for m in members]
            with analytics_store(settings) as store:
                EventsSink(settings, store, batch_size=5000).run(until_caught_up=True)
                expected = aggregates(store, victim_keys)
                assert store.query(f"SELECT count() FROM event_log WHERE customer_key IN "
                                   f"({', '.join(repr(k) for k in victim_keys)})").scalar() == len(victim.events)

            wanted = needles(EMAIL, PHONE, FIRST, LAST)
            redis = Redis.from_url(settings.redis_address)
            assert redis_hits(redis, wanted)  # the live profile holds them (and the scan finds them)
            assert kafka_hits(settings, [settings.topics.interactions, settings.topics.dlq], wanted) == []  # sealed at rest

            report = forget(settings, f"email:{EMAIL}", "test", "erasure request 7", analytics_store, wait_s=30)
            assert report.event_rows_deleted == len(victim.events) and report.data_keys_deleted >= 2
            assert report.consumers_behind == [] and "aof" in report.rewritten

            found = kafka_hits(settings, [settings.topics.interactions, settings.topics.dlq, settings.topics.audit], wanted)
            found += redis_hits(redis, wanted)
            found += file_hits(stack.data_dir / "redis", wanted)
            found += file_hits(stack.log_dir, wanted) + file_hits(log_file.parent, wanted)
            with analytics_store(settings) as store:
                for table in ("event_log", "daily_channel_stats", "profile_versions", "identity_links", "segment_membership"):
                    rows = store.query(f"SELECT * FROM {table}").rows
                    found += [f"{table}: {hit}" for hit in needles_in_rows(rows, wanted)]
                assert store.query(f"SELECT count() FROM event_log WHERE customer_key IN "
                                   f"({', '.join(repr(k) for k in victim_keys)})").scalar() == 0
                assert aggregates(store) == expected
                assert store.query("SELECT count() FROM system.parts WHERE database = currentDatabase() "
                                   "AND table = 'event_log' AND NOT active").scalar() == 0  # replaced parts gone from disk
            found += file_hits(settings.chdb_path, wanted)
            assert found == []
            # what a sink that does not decode would keep on a replay: nothing of the customer
            log = read_topic(settings, settings.topics.interactions)
            kept = Opener(settings).not_erased(log)
            assert len(log) - len(kept) == len(victim.events)
            assert not {m.key().decode() for m in kept} & set(victim_keys)

            after = {c.user_id: reader.read(f"user_id:{c.user_id}", now=NOW) for c in others}
            assert after == before
            with pytest.raises(ProfileNotFound):
                reader.read(f"email:{EMAIL}")

            audit = [orjson.loads(m.value()) for m in read_topic(settings, settings.topics.audit)]
            forgets = [a for a in audit if a["action"] == "privacy.forget"]
            assert [(a["subject"], a["reason"], a["outcome"]) for a in forgets] == [(report.customer_id, "erasure request 7", "ok")]
            assert any(a["action"] == "privacy.export" and a["outcome"] == "ok" for a in audit)

            # a new event of the forgotten identity is refused, and leaves nothing in the DLQ
            comeback = identify | {"event_id": str(uuid.uuid4())}
            with InteractionProducer(settings) as producer:
                refused = producer.send_and_wait([comeback])
            assert [e.code for e in refused.rejected.values()] == ["suppressed"]
            last = read_dead_letter(read_topic(settings, settings.topics.dlq)[-1].value())
            assert last["reason"] == "suppressed" and "sealed" not in last and "redacted" not in last
            wait_until_caught_up(settings)
            with pytest.raises(ProfileNotFound):
                reader.read(f"email:{EMAIL}")

            # consent given again lifts the block of the identities it carries (here the e-mail
            # only): new events are accepted, the old ones stay erased
            mail = next(e for e in victim.events if e["type"] == "email_sent")
            grant = consent_grant(EMAIL)
            with InteractionProducer(settings) as producer:
                fresh = mail | {"event_id": str(uuid.uuid4()), "received_at": time.time_ns() // 1000}
                accepted = producer.send_and_wait([grant, fresh, comeback])
            assert sorted(accepted.accepted) == [0, 1] and [e.code for e in accepted.rejected.values()] == ["suppressed"]
            wait_until_caught_up(settings)
            assert reader.read(f"email:{EMAIL}", now=NOW)["events"] == 2
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def needles_in_rows(rows, wanted) -> list[str]:
    text = orjson.dumps(rows, default=str)
    return [wanted[n] for n in wanted if n in text]


def consent_grant(email: str) -> dict:
    from connectors.channels.consent import ConsentConnector

    raw = {"id": f"grant-{uuid.uuid4()}", "email": email, "purpose": "marketing", "channel": "email", "granted": True,
           "method": "web_form", "occurred_at": "2026-01-02T10:00:00Z"}
    return ConsentConnector().to_events(raw, NOW)[0]
