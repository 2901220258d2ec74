"""Analytics store benchmarks: the events sink into chDB beside a plain columnar INSERT
of the same rows, query latencies over a generated data set, replay.

``run(settings, sink_events=..., query_events=...)`` — ``query_events`` is 10 million
for the issue's target; pass less for a quick run. The query data set is generated inside
ClickHouse (INSERT ... SELECT FROM numbers()), not through Kafka.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pyarrow as pa
from confluent_kafka import KafkaError

from bench.report import Figure, rate
from connectors.demo import generate_population
from panorama.log_reader import read_log
from panorama.settings import Settings
from panorama.stack.topics import ensure_topics
from producers import InteractionProducer
from projections import analytics, ddl
from projections.backend import Backend
from projections.avro_container import ContainerWriter
from projections.event_columns import event_log_insert
from projections.migrations import apply_migrations, drop_everything
from projections.replay import replay
from projections.sink import (BATCH_SIZE, INSERT_LANES, INSERT_SETTINGS, EventsSink, assign_from_beginning,
                              insert_lanes, sink_consumer)
from projections.store import analytics_store
from schemas.codec import InteractionCodec
from schemas.contract import current_schema

T = TypeVar("T")
IDENTITIES_PER_CUSTOMER = 3  # routing identities (user id, email, anonymous id) stitched to one customer


def segment_query(space: analytics.Space) -> str:
    """The size of a segment: customers grouped by the space's key."""
    return f"""SELECT count() FROM (
    SELECT {space.key} FROM {space.events}
    WHERE type = 'order_placed' AND occurred_at >= now64(6) - INTERVAL 180 DAY
    GROUP BY {space.key} HAVING count() >= 2 AND sum(order_total_minor) > 20000)"""


def join_space() -> analytics.Space:
    """Migration 8's ``customer_events`` (every query joins all of ``identities``) as a
    subquery, the baseline of migration 9's dictionary lookup."""
    body = ddl.customer_events_view().split(" AS\n", 1)[1]
    return analytics.Space(f"({body})", "customer_id", "customer_id")


def id_string_space() -> analytics.Space:
    """Migration 9's ``customer_events`` grouped by the id string, the baseline of
    migration 12's grouping by ``customer_hash``."""
    body = ddl.customer_events_from_dictionary().split(" AS\n", 1)[1]
    return analytics.Space(f"({body})", "customer_id", "customer_id")


def rfm_query(space: analytics.Space) -> str:
    """The tier summary over migration 8's ``rfm`` view body (or migration 4's, per routing key)."""
    body = analytics.rfm(space).split(" AS\n", 1)[1]
    return f"SELECT value_tier, count(), avg(monetary_minor) FROM ({body}) GROUP BY value_tier"


# Duplicates of an event share its customer_key, so a distinct count is exact over the
# table itself; the deduplicating view (FINAL) is the baseline, measured in the same run.
COUNT_DISTINCT_QUERY = "SELECT uniqExact(customer_key) FROM event_log"
COUNT_DISTINCT_THROUGH_VIEW = "SELECT uniqExact(customer_key) FROM events"
SINK_BATCH = BATCH_SIZE  # events per insert, as `cdp replay` batches them


def run(settings: Settings, sink_events: int = 200_000, query_events: int = 10_000_000,
        customers: int | None = None, replay_events: int = 1_000_000) -> list[Figure]:
    """Every figure; topics of its own so other benchmarks' events do not count. The sink
    figures use ``sink_events``; more are produced before the replay so that it reads a log
    of ``replay_events``, where its fixed start counts as it would in a real rebuild."""
    settings = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}-projections-bench"})
    ensure_topics(settings)
    with analytics_store(settings) as store:
        figures = _sink_figures(settings, store, sink_events)
        _produce_population(settings, max(0, replay_events - sink_events), seed=2)
        figures += [*_replay_figures(settings, store), _freshness_figure(settings, store)]
        figures += _query_figures(store, query_events, customers or max(1, query_events // 10))
        figures += record_sink_figures(settings, store)
    return figures


def _produce_population(settings: Settings, events: int, seed: int = 1) -> list:
    """Produce about ``events`` demo events (whole customers); return the Kafka messages' records."""
    produced: list = []
    if events <= 0:
        return produced
    with InteractionProducer(settings) as producer:
        for record in generate_population(events // 13 + 1, seed=seed):
            producer.send(record)
            produced.append(record)
            if len(produced) >= events:
                break
    return produced


def _sink_figures(settings: Settings, store: Backend, events: int) -> list[Figure]:
    """The sink beside a plain Arrow INSERT of the very rows it wrote, in the order it wrote
    them (Kafka order). Rows read back in the table's sorting order insert up to twice as
    fast (the sort and the materialized view's hash tables get pre-ordered input), so that
    order is shown as a figure of its own, not used as the baseline."""
    records = _produce_population(settings, events)
    n = len(records)
    started = time.perf_counter()
    committed: list[tuple[float, int]] = []  # (when, events) of each committed batch
    EventsSink(settings, store, batch_size=SINK_BATCH,
               on_batch=lambda _s, k: committed.append((time.perf_counter(), k))).run(until_caught_up=True)
    end_to_end = n / (time.perf_counter() - started)
    steady = _steady(committed)
    in_kafka_order = pa.Table.from_pylist(
        store.query("SELECT * FROM event_log ORDER BY kafka_partition, kafka_offset").as_dicts())
    in_table_order = pa.Table.from_pylist(
        store.query("SELECT * FROM event_log ORDER BY type, customer_key, occurred_at, event_id").as_dicts())

    messages = sorted(((m.partition(), m.offset(), m.key(), m.value()) for m in
                       read_log(settings, settings.topics.interactions, lambda low, _high: low)), key=lambda m: m[:2])
    codec = InteractionCodec()
    decode = rate(n, lambda: [codec.decode(value) for *_, value in messages])
    writer = ContainerWriter(current_schema())
    writers = store.writers(INSERT_LANES)
    lanes = insert_lanes(SINK_BATCH, len(writers))

    def framed(parts: int) -> list[list[bytes]]:
        """The containers of each sink batch, ``parts`` each."""
        return [writer.containers([writer.row(key, partition, offset, value)
                                   for partition, offset, key, value in messages[start:start + SINK_BATCH]], parts)
                for start in range(0, n, SINK_BATCH)]
    batches: list[list[bytes]] = []
    framing = rate(n, lambda: batches.extend(framed(lanes)))
    one_lane = framed(1)
    statement = event_log_insert(current_schema())

    def sink(groups: list[list[bytes]]) -> float:
        _empty_event_tables(store)
        return rate(n, lambda: [_side_by_side(writers, lambda w, c: w.insert_avro(statement, c, INSERT_SETTINGS), g)
                                for g in groups])
    sink_insert, sink_one_lane = sink(batches), sink(one_lane)

    def plain(rows: pa.Table, table: str = "event_log", parts: int = 1) -> float:
        groups = []
        for start in range(0, n, SINK_BATCH):
            batch = rows.slice(start, SINK_BATCH)
            size = -(-batch.num_rows // parts)
            groups.append([batch.slice(i * size, size) for i in range(parts)])
        _empty_event_tables(store)
        return rate(n, lambda: [_side_by_side(writers, lambda w, b: w.insert(table, b, INSERT_SETTINGS), g)
                                for g in groups])
    plain_mv, plain_sorted, plain_lanes = plain(in_kafka_order), plain(in_table_order), plain(in_kafka_order, parts=lanes)
    store.command("CREATE TABLE bench_plain AS event_log ENGINE = ReplacingMergeTree "
                  "PARTITION BY toYYYYMM(occurred_at) ORDER BY (type, customer_key, occurred_at, event_id)")
    try:
        plain_no_mv = plain(in_kafka_order, "bench_plain")
    finally:
        store.command("DROP TABLE IF EXISTS bench_plain")
    name = f"sink insert: Avro containers -> event_log (+ its MV), ClickHouse decodes, {lanes} lane(s)"
    return [
        Figure(name, sink_insert, "rows/s", "plain Arrow INSERT of the same rows, same order, same table and MV",
               plain_mv, f"{n:,} demo events in Kafka order, batches of {SINK_BATCH:,}"),
        Figure(name, sink_insert, "rows/s", f"plain Arrow INSERTs of the same batches in the same {lanes} lane(s)",
               plain_lanes, "like for like: both insert each batch's parts side by side"),
        Figure(name, sink_insert, "rows/s", "the sink's insert with each batch as one container", sink_one_lane,
               "what the lanes add"),
        Figure(name, sink_insert, "rows/s", "plain Arrow INSERT of the same rows, table without MV", plain_no_mv),
        Figure(name, sink_insert, "rows/s", "plain Arrow INSERT of the same rows pre-sorted by the table's key",
               plain_sorted, "not a sink's input: shows what the insert order costs"),
        Figure("sink framing in Python: messages -> Avro container", framing, "events/s",
               "decoding them in Python (the previous sink)", decode, "one core"),
        Figure("sink end to end: Kafka -> chDB, committed", end_to_end, "events/s",
               "plain Arrow INSERT, same table and MV", plain_mv, "includes the consumer-group join"),
        Figure("sink end to end, after the first batch", steady, "events/s",
               "plain Arrow INSERT, same table and MV", plain_mv, "consume + frame + insert + commit"),
    ]


def _side_by_side(writers: list[Backend], insert: Callable[[Backend, T], None], parts: list[T]) -> None:
    """``insert(writer, part)`` for each part on its own writer at once, as the sink inserts a batch's lanes."""
    with ThreadPoolExecutor(len(parts)) as pool:
        list(pool.map(insert, writers, parts))


def _empty_event_tables(store: Backend) -> None:
    """Every timed insert starts from the same empty tables, none pays for another's merges."""
    for table in ("event_log", "daily_channel_stats"):
        store.command(f"TRUNCATE TABLE {table}")


def _replay_figures(settings: Settings, store: Backend) -> list[Figure]:
    """Replay as a whole, and after its first batch: the drop, the migrations, the first
    batch's consume (nothing to overlap it with yet) and the record topics' check are a
    fixed ~1.5 s that a long log hardly notices."""
    committed: list[tuple[float, int]] = []  # (when, events) of each committed batch
    started = time.perf_counter()
    n = replay(settings, store, on_progress=lambda k: committed.append((time.perf_counter(), k))).events
    value = n / (time.perf_counter() - started)
    consume = _consume_rate(settings)
    baseline = "consuming the same log only (no framing, no insert)"
    return [Figure("replay (drop + rebuild from Kafka)", value, "events/s", baseline, consume, f"{n:,} events"),
            Figure("replay, after the first batch", _steady(committed), "events/s", baseline, consume,
                   "consume + frame + insert + commit")]


def _consume_rate(settings: Settings) -> float:
    """Events per second a sink's consumer reads the whole interaction log at, doing nothing
    else: the ceiling of a replay that consumes in Python."""
    consumer = sink_consumer(settings, f"{settings.topic_prefix}.bench-consume", "bench-consume")
    try:
        partitions = {tp.partition for tp in assign_from_beginning(consumer, [settings.topics.interactions])}
        at_end: set[int] = set()
        n, started = 0, time.perf_counter()
        while at_end < partitions:
            for msg in consumer.consume(10_000, 1.0):
                if msg.error() is None:
                    n += 1
                elif msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
        return n / (time.perf_counter() - started)
    finally:
        consumer.close()


def _steady(committed: list[tuple[float, int]]) -> float:
    """Events per second from the first committed batch to the last."""
    if len(committed) < 2:
        return 0.0
    return sum(k for _, k in committed[1:]) / (committed[-1][0] - committed[0][0])


def _freshness_figure(settings: Settings, store: Backend, samples: int = 10) -> Figure:
    """Produce one event at a time with the sink running; time until `events` shows it."""
    stop = threading.Event()
    sink = EventsSink(settings, store, batch_seconds=0.2)
    worker = threading.Thread(target=sink.run, kwargs={"should_stop": stop.is_set})
    worker.start()
    delays = []
    try:
        with InteractionProducer(settings) as producer:
            for record in list(generate_population(samples, seed=99))[:samples]:
                started = time.perf_counter()
                producer.send_and_wait([record])
                while not store.query(f"SELECT count() FROM event_log WHERE event_id = '{record['event_id']}'").scalar():
                    time.sleep(0.01)
                delays.append(time.perf_counter() - started)
    finally:
        stop.set()
        worker.join()
    return Figure("produced -> queryable, p95", _p(delays, 95) * 1000, "ms", note=f"{samples} events, sink batches 0.2 s")


def _query_figures(store: Backend, events: int, customers: int) -> list[Figure]:
    drop_everything(store)
    apply_migrations(store)
    started = time.perf_counter()
    store.command(_generate_sql(events, customers))
    load = events / (time.perf_counter() - started)
    store.command(_identities_sql(customers))
    store.command(f"SYSTEM RELOAD DICTIONARY {ddl.IDENTITY_DICTIONARY}")
    figures = [Figure("load via INSERT ... SELECT numbers()", load, "rows/s",
                      note=f"{events:,} events, {customers:,} routing identities, {IDENTITIES_PER_CUSTOMER} per customer")]
    figures += _state_figures(store, "right after the load", "queried at once, no OPTIMIZE")
    settled = _wait_for_merges(store)
    figures += _state_figures(store, "merges settled", f"background merges only, quiet after {settled:.0f} s")
    _live_month(store, customers)
    figures += _state_figures(store, "live", f"past months one part each (migration 11), this month "
                                             f"{LIVE_INSERTS} more sink-sized inserts")
    store.command("OPTIMIZE TABLE event_log FINAL")
    return figures + _state_figures(store, "OPTIMIZE FINAL", "one part per month")


LIVE_INSERTS, LIVE_INSERT_EVENTS = 20, 10_000


def _live_month(store: Backend, customers: int) -> None:
    """The state of a running deployment: every past month merged into one part, as migration
    11 merges a partition once it has been idle ten minutes (done here with OPTIMIZE so the
    bench need not wait), and the current month taking the sink's inserts, background merges
    settling them."""
    current = store.query("SELECT toYYYYMM(now64(6))").scalar()
    past = [p for p, in store.query("SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() "
                                    f"AND table = 'event_log' AND active AND partition != '{current}'").rows]
    for partition in past:
        store.command(f"OPTIMIZE TABLE event_log PARTITION {partition} FINAL")
    this_month = "dateDiff('second', toStartOfMonth(now64(6)), now64(6)) + 1"
    for i in range(LIVE_INSERTS):
        store.command(_generate_sql(LIVE_INSERT_EVENTS, customers, first=(i + 1) * 10**9, spread_s=this_month))
    _wait_for_merges(store)


def _state_figures(store: Backend, state: str, how: str) -> list[Figure]:
    """The latencies in one merge state of ``event_log``, after a figure saying what that state is."""
    parts = store.query("SELECT count() FROM system.parts WHERE database = currentDatabase() "
                        "AND table = 'event_log' AND active").scalar()
    merging = _merges(store)
    return [Figure(f"event_log active parts ({state})", parts, "parts", note=f"{how}; {merging} merges running"),
            *_latency_figures(store, state), Figure(f"merges running after the queries ({state})", _merges(store), "")]


def _merges(store: Backend) -> int:
    return store.query("SELECT count() FROM system.merges WHERE database = currentDatabase() "
                       "AND table = 'event_log'").scalar()


def _wait_for_merges(store: Backend, quiet_s: float = 5.0, timeout_s: float = 600.0) -> float:
    """Seconds until no merge of ``event_log`` has run for ``quiet_s`` (background merges
    alone, no OPTIMIZE): the state a table is in when the sink has been idle a while."""
    started = quiet_since = time.perf_counter()
    while time.perf_counter() - quiet_since < quiet_s and time.perf_counter() - started < timeout_s:
        if _merges(store):
            quiet_since = time.perf_counter()
        time.sleep(0.5)
    return time.perf_counter() - started


def _latency_figures(store: Backend, state: str) -> list[Figure]:
    """Each query per customer (migration 12: identities looked up in the dictionary,
    customers grouped by ``customer_hash``) beside the same query per routing key over
    ``events``, per customer grouped by the id string (migration 9) and through migration 8's
    join of every identity, measured in the same run."""
    baselines = (("per routing key", analytics.ROUTING_KEYS), ("grouped by the id string (migration 9)", id_string_space()),
                 ("joining all identities (migration 8)", join_space()))
    figures = []
    for name, query, runs in (("segment query per customer", segment_query, 20),
                              ("RFM over all customers", rfm_query, 3)):
        timings = _latencies(store, query(analytics.CUSTOMER_HASHES), runs)
        for baseline_name, space in baselines:
            other = _latencies(store, query(space), runs)
            figures += [Figure(f"{name}, p{p} ({state})", _p(timings, p) * 1000, "ms", baseline_name,
                               _p(other, p) * 1000, f"{runs} runs after one warm-up" if p == 95 else "")
                        for p in (50, 95)]
    timings, through_view = _latencies(store, COUNT_DISTINCT_QUERY, 5), _latencies(store, COUNT_DISTINCT_THROUGH_VIEW, 5)
    return figures + [Figure(f"exact count-distinct routing keys (event_log), p{p} ({state})", _p(timings, p) * 1000,
                             "ms", "the same through the events view (FINAL)", _p(through_view, p) * 1000)
                      for p in (50, 95)]


def _generate_sql(events: int, customers: int, first: int = 0, spread_s: int | str = 365 * 86400) -> str:
    """``events`` events numbered from ``first``, at random instants of the last ``spread_s`` seconds."""
    return f"""INSERT INTO event_log (event_id, type, channel, connector, occurred_at, received_at, order_id,
    order_total_minor, currency, campaign_id, customer_key, kafka_partition, kafka_offset)
SELECT
    generateUUIDv4(number) AS event_id,
    multiIf(h % 100 < 45, 'page', h % 100 < 65, 'email_sent', h % 100 < 73, 'email_opened',
            h % 100 < 76, 'email_clicked', h % 100 < 88, 'order_placed', h % 100 < 93, 'identify', 'ticket_opened') AS type,
    multiIf(type LIKE 'email%', 'email', type LIKE 'ticket%', 'support', 'web') AS channel,
    'bench' AS connector,
    now64(6) - toIntervalSecond(cityHash64(number, 2) % ({spread_s})) AS occurred_at,
    occurred_at AS received_at,
    if(type = 'order_placed', concat('o-', toString(number)), '') AS order_id,
    if(type = 'order_placed', toInt64(1000 + h % 20000), 0) AS order_total_minor,
    if(type = 'order_placed', 'EUR', '') AS currency,
    if(type LIKE 'email%', concat('cmp-', toString(h % 12)), '') AS campaign_id,
    lower(hex(MD5(toString(cityHash64(number, 1) % {customers})))) AS customer_key,
    toUInt32(number % 6) AS kafka_partition,
    number AS kafka_offset
FROM (SELECT number, cityHash64(number) AS h FROM numbers({first}, {events}))"""


def _identities_sql(customers: int) -> str:
    """Links every generated routing key to a customer, IDENTITIES_PER_CUSTOMER keys each,
    written an hour ago: the dictionary holds them, as it holds all but the newest links."""
    return f"""INSERT INTO identity_links (kind, identity_hash, customer_id, version, inserted_at)
SETTINGS insert_allow_materialized_columns = 1
SELECT
    ['user_id', 'email', 'anonymous_id'][number % {IDENTITIES_PER_CUSTOMER} + 1] AS kind,
    lower(hex(MD5(toString(number)))) AS identity_hash,
    concat('user_id:', lower(hex(MD5(toString(intDiv(number, {IDENTITIES_PER_CUSTOMER})))))) AS customer_id,
    1 AS version,
    now64(6) - INTERVAL 1 HOUR AS inserted_at
FROM numbers({customers})"""


def _latencies(store: Backend, sql: str, runs: int) -> list[float]:
    store.query(sql)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        store.query(sql)
        timings.append(time.perf_counter() - started)
    return timings


def _p(values: list[float], percentile: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1] if len(values) > 1 else values[0]


def record_sink_figures(settings: Settings, store: Backend, records: int = 60_000, batch: int = 5_000) -> list[Figure]:
    """The record sink (profiles and segment records -> customer tables, committed) beside
    a plain Arrow INSERT of the same rows in the same batches; both per record."""
    from confluent_kafka import Producer

    import orjson

    from panorama.kafka_config import client_config
    from projections import records as mapping
    from projections.record_sink import RecordSink

    topics = settings.topics
    made = [(topics.profiles, mapping.profile, {
        "id": f"p{n}", "customer_id": f"user_id:{n:032x}", "version": 1, "first_seen_at": n, "last_seen_at": n,
        "lifecycle_stage": "active", "orders": n % 7, "revenue_minor": n % 7 * 1000, "currency": "EUR",
        "traits": {"tier": "gold"}, "deleted": False, "recorded_at": n}) if n % 2 else (topics.segments, mapping.segment, {
        "id": f"s{n}", "segment_id": f"seg{n % 20}", "customer_id": f"user_id:{n:032x}", "is_member": True,
        "version": 1, "changed_at": n, "recorded_at": n}) for n in range(records)]
    producer = Producer(client_config(settings) | {"linger.ms": 20})
    for topic, _, record in made:
        producer.produce(topic, orjson.dumps(record), key=record["customer_id"].encode())
        producer.poll(0)
    producer.flush(60)
    producer.close()
    committed: list[tuple[float, int]] = []
    started = time.perf_counter()
    RecordSink(settings, store, batch_size=batch,
               on_batch=lambda _s, k: committed.append((time.perf_counter(), k))).run(until_caught_up=True)
    end_to_end = records / (time.perf_counter() - started)
    steady = _steady(committed)

    def plain_inserts() -> None:
        for start in range(0, records, batch):
            rows = mapping.Rows()
            for _, mapper, record in made[start:start + batch]:
                mapper(record, rows)
            for table, data in rows.tables().items():
                store.insert(table, data, INSERT_SETTINGS)
    plain = rate(records, plain_inserts)
    note = f"{records:,} records (half profiles: 2 rows each), batches of {batch:,}"
    return [Figure("record sink end to end: Kafka -> chDB, committed", end_to_end, "records/s",
                   "map + plain Arrow INSERT of the same rows", plain, note + "; includes the group join"),
            Figure("record sink, after the first batch", steady, "records/s",
                   "map + plain Arrow INSERT of the same rows", plain, "consume + JSON + map + insert + commit")]
