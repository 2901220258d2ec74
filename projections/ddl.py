"""DDL of every analytics table, one function per entity.

Naming: a table keeps what the sinks write (``event_log``, ``profile_versions``,
``identity_links``); the view analysts query is named for what it holds (``events``,
``profiles``, ``identities``) and reads deduplicated rows with ``FINAL``, so counts are
exact whether or not ClickHouse has merged yet (ReplacingMergeTree only deduplicates at
merge time). Migrations (``projections/migrations.py``) call these functions; tests
snapshot their output.
"""

from __future__ import annotations

from projections.avro_input import sql_string
from projections.event_columns import column_definitions


def schema_migrations() -> str:
    return """CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY version"""


def event_log() -> str:
    """Every interaction, one row per event_id once merged or read through ``events``.

    The sorting key leads with ``type`` then ``customer_key``, serving both per-type
    scans (segments, funnels) and one customer's timeline; ``event_id`` closes it
    because ReplacingMergeTree deduplicates rows with equal sorting keys, and a
    redelivered event carries the same type, customer and time.
    """
    columns = ",\n".join(f"    `{name}` {type_} COMMENT {sql_string(doc)}" for name, type_, doc in column_definitions())
    return f"""CREATE TABLE IF NOT EXISTS event_log
(
{columns}
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (type, customer_key, occurred_at, event_id)"""


def events_view() -> str:
    """Deduplicated events. Duplicates of an event share ``occurred_at`` and therefore a
    partition, so FINAL need not merge across partitions — and skips the fully merged
    ones, which is what keeps it cheap once background merges have caught up."""
    return """CREATE VIEW IF NOT EXISTS events AS
SELECT * FROM event_log FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1"""


IDLE_PARTITION_MERGE_SECONDS = 600


def event_log_merge_idle_partitions() -> str:
    """Merge each partition of ``event_log`` into one part once it has had no insert for
    ten minutes. Background merges alone leave ~50 parts for 10 million events, and
    ``events`` (FINAL) merges those at every query: the segment query's p95 was 190 ms there
    against 154 ms with one part per month. The partition a running sink writes to keeps
    getting young parts, so only idle partitions (past months, a finished replay or import)
    are rewritten, once each."""
    return f"""ALTER TABLE event_log MODIFY SETTING
    min_age_to_force_merge_seconds = {IDLE_PARTITION_MERGE_SECONDS},
    min_age_to_force_merge_on_partition_only = 1"""


def profile_versions() -> str:
    """Customer profiles written by the streams stage; the highest ``version`` wins."""
    return """CREATE TABLE IF NOT EXISTS profile_versions
(
    customer_id String,
    version UInt64,
    first_seen_at DateTime64(6, 'UTC'),
    last_seen_at DateTime64(6, 'UTC'),
    lifecycle_stage LowCardinality(String),
    orders UInt32,
    revenue_minor Int64,
    currency LowCardinality(String),
    traits String COMMENT 'JSON of non-personal traits',
    deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version)
ORDER BY customer_id"""


def profiles_view() -> str:
    return """CREATE VIEW IF NOT EXISTS profiles AS
SELECT * FROM profile_versions FINAL WHERE deleted = 0"""


def identity_links() -> str:
    """Identity -> customer links written by identity resolution; identities are
    keyed hashes (like the routing key), never plaintext."""
    return """CREATE TABLE IF NOT EXISTS identity_links
(
    kind LowCardinality(String),
    identity_hash String,
    customer_id String,
    version UInt64,
    deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (kind, identity_hash)"""


def identities_view() -> str:
    return """CREATE VIEW IF NOT EXISTS identities AS
SELECT * FROM identity_links FINAL WHERE deleted = 0"""


def segment_membership() -> str:
    """History of segment membership: one row each time a customer enters or leaves."""
    return """CREATE TABLE IF NOT EXISTS segment_membership
(
    segment_id LowCardinality(String),
    customer_id String,
    is_member UInt8,
    changed_at DateTime64(6, 'UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (segment_id, customer_id, changed_at)"""


def segment_members_view() -> str:
    return """CREATE VIEW IF NOT EXISTS segment_members AS
SELECT segment_id, customer_id, max(changed_at) AS since
FROM segment_membership FINAL
GROUP BY segment_id, customer_id
HAVING argMax(is_member, (changed_at, version)) = 1"""


def daily_channel_stats(partition: str = "toYYYYMM(day)") -> str:
    """Per day and channel: aggregate states that stay exact when a duplicate event is
    inserted twice — sets of event ids and customers, and revenue as a map event_id ->
    amount merged with max (a duplicate maps to the same amount)."""
    return f"""CREATE TABLE IF NOT EXISTS daily_channel_stats
(
    day Date,
    channel LowCardinality(String),
    currency LowCardinality(String),
    event_ids AggregateFunction(uniqExact, UUID),
    customers AggregateFunction(uniqExact, String),
    revenue AggregateFunction(maxMap, Array(UUID), Array(Int64))
)
ENGINE = AggregatingMergeTree
PARTITION BY {partition}
ORDER BY (day, channel, currency)"""


def daily_channel_stats_by_year() -> str:
    """:func:`daily_channel_stats` partitioned by year, its rows copied (re-runnable: a second
    run copies the yearly table into a new one). An insert writes one part per partition its
    rows touch into each table, and the materialized view's parts cost most of it: a sink batch
    of a year-spanning log (a replay, an import) wrote 13 monthly parts of aggregate states;
    now it writes 1-2, ~1.5 us less CPU per event in paired bench runs. Old years still never
    merge again, and an erasure still rewrites only the years it touched."""
    table = daily_channel_stats("toYear(day)").replace("CREATE TABLE IF NOT EXISTS", "CREATE OR REPLACE TABLE", 1)
    return f"{table}\nAS SELECT * FROM daily_channel_stats"


def daily_channel_stats_mv() -> str:
    return """CREATE MATERIALIZED VIEW IF NOT EXISTS daily_channel_stats_mv TO daily_channel_stats AS
SELECT
    toDate(occurred_at) AS day,
    channel,
    currency,
    uniqExactState(event_id) AS event_ids,
    uniqExactState(customer_key) AS customers,
    maxMapState(
        if(order_total_minor != 0 OR refund_minor != 0, [event_id], []),
        if(order_total_minor != 0 OR refund_minor != 0, [order_total_minor - refund_minor], [])
    ) AS revenue
FROM event_log
GROUP BY day, channel, currency"""


def daily_channel_activity_view() -> str:
    return """CREATE VIEW IF NOT EXISTS daily_channel_activity AS
SELECT
    day,
    channel,
    uniqExactMerge(event_ids) AS events,
    uniqExactMerge(customers) AS active_customers
FROM daily_channel_stats
GROUP BY day, channel"""


def daily_revenue_view() -> str:
    return """CREATE VIEW IF NOT EXISTS daily_revenue AS
SELECT day, channel, currency, arraySum(maxMapMerge(revenue).2) AS revenue_minor
FROM daily_channel_stats
WHERE currency != ''
GROUP BY day, channel, currency"""


def audit_log() -> str:
    """A copy of the audit topic for SQL (`cdp audit --load`); the topic stays the record.
    Loading re-reads from the newest row's time, so overlapping rows share the sorting key
    and ReplacingMergeTree folds them: query it with ``FINAL``."""
    return """CREATE TABLE IF NOT EXISTS audit_log
(
    audit_id UUID,
    at DateTime64(6, 'UTC'),
    actor String,
    role LowCardinality(String),
    action LowCardinality(String),
    subject String,
    reason String,
    outcome LowCardinality(String),
    details String COMMENT 'JSON object'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, audit_id)"""


def customer_signals() -> str:
    """Every lifecycle / churn-risk signal a customer was given (``<prefix>.signals``), one
    row per ``seq``: a redelivered record has the same sorting key and folds away."""
    return """CREATE TABLE IF NOT EXISTS customer_signals
(
    customer_id String,
    seq UInt64,
    stage LowCardinality(String),
    previous_stage LowCardinality(String) COMMENT 'empty for the first signal',
    churn_risk UInt8 COMMENT 'score 0..100',
    churn_level LowCardinality(String),
    reasons String COMMENT 'JSON array of {code, points, detail}',
    recorded_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (customer_id, seq)"""


def profile_times_nullable() -> str:
    """A profile record's first/last-seen are null before the customer's first event."""
    return """ALTER TABLE profile_versions
    MODIFY COLUMN first_seen_at Nullable(DateTime64(6, 'UTC')),
    MODIFY COLUMN last_seen_at Nullable(DateTime64(6, 'UTC'))
SETTINGS mutations_sync = 2"""


def replaced(view: str) -> str:
    """``view``'s statement as ``CREATE OR REPLACE``: a view keeps the column types its
    tables had when it was created, so one over an altered table is created again."""
    return view.replace("CREATE VIEW IF NOT EXISTS ", "CREATE OR REPLACE VIEW ", 1)


def merged_away() -> str:
    """Customer ids that are no longer customers: their own node now links elsewhere."""
    node = "concat(kind, ':', identity_hash)"
    return f"SELECT {node} FROM identities WHERE customer_id != {node}"


def customer_lifecycle_view() -> str:
    """Each current customer's latest signal; customers merged into another are left out."""
    return f"""CREATE VIEW IF NOT EXISTS customer_lifecycle AS
SELECT
    customer_id,
    argMax(stage, seq) AS lifecycle_stage,
    argMax(churn_risk, seq) AS churn_risk,
    argMax(churn_level, seq) AS churn_level,
    max(recorded_at) AS changed_at
FROM customer_signals
WHERE customer_id NOT IN ({merged_away()})
GROUP BY customer_id"""


def lifecycle_distribution_from_signals() -> str:
    """Replaces migration 5's view (which counted profile records) with one over the signals,
    which every customer gets from its first evaluation on."""
    return replaced("""CREATE VIEW IF NOT EXISTS lifecycle_distribution AS
SELECT lifecycle_stage, count() AS customers, customers / sum(customers) OVER () AS share
FROM customer_lifecycle
GROUP BY lifecycle_stage""")


def customer_events_view() -> str:
    """Every event in customer-id space: ``customer_key`` is the hash part of the routing
    identity's node, so an anonymous event follows its identity into whichever customer it
    is stitched to now — retroactively. An identity no record has named yet (no merge,
    signal or profile record sunk) keeps its bare ``customer_key`` as ``customer_id``."""
    return """CREATE VIEW IF NOT EXISTS customer_events AS
SELECT if(l.customer_id = '', e.customer_key, l.customer_id) AS customer_id, e.*
FROM events AS e
LEFT JOIN (SELECT identity_hash, customer_id FROM identities) AS l ON l.identity_hash = e.customer_key"""


IDENTITY_DICTIONARY = "identity_customers"
# Links written this long before the dictionary's last load are looked up in the table too,
# so a link committed while the load read its snapshot is never missed (a batch insert
# that takes longer than this to commit is the limit).
DICTIONARY_OVERLAP = "INTERVAL 5 MINUTE"


def identity_links_inserted_at() -> str:
    """When each link row was written: which links the dictionary may not hold yet.
    Rows from before this migration get the migration's time."""
    return """ALTER TABLE identity_links
    ADD COLUMN IF NOT EXISTS inserted_at DateTime64(6, 'UTC') MATERIALIZED now64(6) COMMENT 'when the row was written',
    MATERIALIZE COLUMN inserted_at
SETTINGS mutations_sync = 2"""


def customer_hash(customer_id: str) -> str:
    """SQL for the 128-bit SipHash of a customer id, as ``UInt128``. Grouping, joining and
    counting customers by it is as exact as ``uniqExact`` over the id strings, which keeps the
    same hash of each string; two ids would need to collide in 128 bits to be taken for one."""
    return f"reinterpretAsUInt128(sipHash128({customer_id}))"


def _identity_dictionary(create: str, attributes: dict[str, tuple[str, str]]) -> str:
    """``identities`` as a dictionary keyed by ``identity_hash``; ``attributes`` maps each
    attribute to its type and the source expression computing it from an ``identities`` row."""
    columns = "".join(f",\n    {name} {type_}" for name, (type_, _) in attributes.items())
    source = ", ".join(expr if expr == name else f"{expr} AS {name}" for name, (_, expr) in attributes.items())
    return f"""{create} {IDENTITY_DICTIONARY}
(
    identity_hash String{columns}
)
PRIMARY KEY identity_hash
SOURCE(CLICKHOUSE(QUERY 'SELECT identity_hash, {source} FROM identities'))
LIFETIME(MIN 30 MAX 60)
LAYOUT(COMPLEX_KEY_HASHED())"""


def identity_customers_dictionary() -> str:
    """``identities`` as an in-memory hash table (identity_hash -> customer_id), reloaded
    every 30-60 s, so a per-customer query looks customers up instead of building a hash
    table of every identity each time. It may lag: ``customer_events`` corrects it."""
    return _identity_dictionary("CREATE DICTIONARY IF NOT EXISTS", {"customer_id": ("String", "customer_id")})


def identity_customers_with_hash() -> str:
    """:func:`identity_customers_dictionary` plus each customer's :func:`customer_hash`,
    computed once per load rather than once per event and query."""
    return _identity_dictionary("CREATE OR REPLACE DICTIONARY", {
        "customer_id": ("String", "customer_id"), "customer_hash": ("UInt128", customer_hash("customer_id"))})


def _recent_links() -> str:
    """The live links of every identity with a link row written since shortly before the
    dictionary's last successful load (all of them if it never loaded)."""
    loaded = (f"(SELECT ifNull(max(last_successful_update_time), toDateTime(0)) FROM system.dictionaries "
              f"WHERE database = currentDatabase() AND name = '{IDENTITY_DICTIONARY}')")
    return f"""SELECT identity_hash, customer_id, deleted FROM identity_links FINAL
    WHERE identity_hash IN (SELECT identity_hash FROM identity_links WHERE inserted_at >= {loaded} - {DICTIONARY_OVERLAP})"""


def _customer_from(attribute: str, default: str, of_link: str) -> str:
    """The customer ``attribute`` of an event: the recent link's (``of_link`` of its id;
    ``default`` of the event's own key if the link is deleted), else the dictionary's."""
    return f"""multiIf(
    r.identity_hash = '', dictGetOrDefault('{IDENTITY_DICTIONARY}', '{attribute}', tuple(e.customer_key), {default}),
    r.deleted = 1, {default},
    {of_link})"""


def customer_events_from_dictionary() -> str:
    """``customer_events`` reading the customer from :func:`identity_customers_dictionary`,
    exact at query time: every identity with a link row written since shortly before the
    dictionary's last successful load (all of them if it never loaded) is resolved from
    ``identity_links FINAL`` as ``identities`` does — a newer link, an unmerge or a
    deletion wins over the dictionary's stale entry. Only those few identities are joined."""
    return f"""CREATE OR REPLACE VIEW customer_events AS
SELECT {_customer_from("customer_id", "e.customer_key", "r.customer_id")} AS customer_id,
    e.*
FROM events AS e
LEFT JOIN (
    {_recent_links()}
) AS r ON r.identity_hash = e.customer_key"""


def customer_events_with_hash() -> str:
    """:func:`customer_events_from_dictionary` with a ``customer_hash`` column
    (:func:`customer_hash` of ``customer_id``, from :func:`identity_customers_with_hash`):
    grouping ~600,000 order rows by it instead of by the id string took the segment query
    from ~105 to ~80 ms (10 million events, one part per month). ``ANY`` keeps an event one
    row even if two kinds' links shared a hash, and the plain ``hash`` join of the few recent
    links cost ~15 ms less than the default concurrent one."""
    return f"""CREATE OR REPLACE VIEW customer_events AS
SELECT {_customer_from("customer_id", "e.customer_key", "r.customer_id")} AS customer_id,
    {_customer_from("customer_hash", customer_hash("e.customer_key"), customer_hash("r.customer_id"))} AS customer_hash,
    e.*
FROM events AS e
LEFT ANY JOIN (
    {_recent_links()}
) AS r ON r.identity_hash = e.customer_key
SETTINGS join_algorithm = 'hash'"""
