"""Analytics views for BI, named for what they hold. Each reads deduplicated views
(``customer_events``, or ``profiles`` and ``segment_members``), so its numbers are exact at any
moment. ``docs/analytics.md`` documents the columns; ``test_analytics_truth.py`` and
``test_profile_views.py`` (``tests/integration/projections/``) recompute each in plain
Python from the same input.

The event-based views exist in two spaces (:class:`Space`). Migration 4 created them over
``events`` grouped by the routing identity (``customer_key``), so one person seen under an
anonymous id, an email and a user id counted three times. Migration 8 replaces them with
the same SQL over ``customer_events`` grouped by ``customer_id``: each identity's events
belong to the customer it is stitched to *now*, so a late stitch moves past activity too.
Migration 12 groups, joins and counts those customers by ``customer_hash`` (a UInt128 of
the id) instead of the id string: the same groups, cheaper to hash (``rfm`` still groups by
the id it outputs).
"""

from __future__ import annotations

from dataclasses import dataclass

CONVERSION_WINDOW_DAYS = 7
FUNNEL_WINDOW_SECONDS = 7 * 86_400
# rfm_score (3..15) at or above which a customer is in the tier
HIGH_TIER_SCORE = 11
MID_TIER_SCORE = 7


@dataclass(frozen=True)
class Space:
    """Where a view reads events, which of their columns names the customer (``customer``,
    what a view outputs) and which one a view groups, joins and counts customers by (``key``:
    the name itself, or a fixed-size stand-in that is one-to-one with it and cheaper to hash)."""

    events: str
    customer: str
    key: str


ROUTING_KEYS = Space("events", "customer_key", "customer_key")  # migration 4: each routing identity counts apart
CUSTOMERS = Space("customer_events", "customer_id", "customer_id")  # migration 8: identities stitched to customers
# migration 12: the same customers, grouped by the UInt128 hash of their id (ddl.customer_hash)
CUSTOMER_HASHES = Space("customer_events", "customer_id", "customer_hash")


def rfm(space: Space) -> str:
    """Recency, frequency, monetary value per customer who ordered.

    Each score is 1..5 by rank among customers (``1 + intDiv(5 * (rank - 1), customers)``,
    ties share a score); recency is in whole UTC days before the latest order in the data,
    so the view is stable under replay (that instant needs no customer: read from ``events``).
    """
    return f"""CREATE VIEW IF NOT EXISTS rfm AS
WITH
    (SELECT max(occurred_at) FROM events WHERE type = 'order_placed') AS as_of,
    per_customer AS (
        SELECT
            {space.customer},
            dateDiff('day', max(occurred_at), as_of) AS recency_days,
            count() AS frequency,
            sum(order_total_minor) AS monetary_minor
        FROM {space.events}
        WHERE type = 'order_placed'
        GROUP BY {space.customer}
    ),
    scored AS (
        SELECT
            *,
            1 + intDiv(5 * (rank() OVER (ORDER BY recency_days DESC) - 1), count() OVER ()) AS r_score,
            1 + intDiv(5 * (rank() OVER (ORDER BY frequency ASC) - 1), count() OVER ()) AS f_score,
            1 + intDiv(5 * (rank() OVER (ORDER BY monetary_minor ASC) - 1), count() OVER ()) AS m_score
        FROM per_customer
    )
SELECT
    {space.customer}, recency_days, frequency, monetary_minor, r_score, f_score, m_score,
    r_score + f_score + m_score AS rfm_score,
    multiIf(rfm_score >= {HIGH_TIER_SCORE}, 'high', rfm_score >= {MID_TIER_SCORE}, 'mid', 'low') AS value_tier
FROM scored"""


def cohort_retention(space: Space) -> str:
    """Customers by the month of their first order, and the share ordering again N months later."""
    return f"""CREATE VIEW IF NOT EXISTS cohort_retention AS
WITH
    orders AS (
        SELECT {space.key}, toStartOfMonth(occurred_at) AS month FROM {space.events} WHERE type = 'order_placed'
    ),
    firsts AS (SELECT {space.key}, min(month) AS cohort_month FROM orders GROUP BY {space.key}),
    sizes AS (SELECT cohort_month, count() AS cohort_size FROM firsts GROUP BY cohort_month)
SELECT
    f.cohort_month AS cohort_month,
    dateDiff('month', f.cohort_month, o.month) AS months_since_first,
    uniqExact(o.{space.key}) AS customers,
    any(s.cohort_size) AS cohort_size,
    customers / cohort_size AS retention
FROM orders AS o
INNER JOIN firsts AS f ON o.{space.key} = f.{space.key}
INNER JOIN sizes AS s ON s.cohort_month = f.cohort_month
GROUP BY cohort_month, months_since_first"""


def campaign_performance(space: Space) -> str:
    """Per email campaign: sends, unique recipients/openers/clickers and rates, and the
    orders (count and revenue) a clicker placed within CONVERSION_WINDOW_DAYS of their
    first click on that campaign."""
    return f"""CREATE VIEW IF NOT EXISTS campaign_performance AS
WITH
    engagement AS (
        SELECT
            campaign_id,
            countIf(type = 'email_sent') AS sends,
            uniqExactIf({space.key}, type = 'email_sent') AS recipients,
            uniqExactIf({space.key}, type = 'email_opened') AS openers,
            uniqExactIf({space.key}, type = 'email_clicked') AS clickers
        FROM {space.events}
        WHERE type IN ('email_sent', 'email_opened', 'email_clicked') AND campaign_id != ''
        GROUP BY campaign_id
    ),
    first_clicks AS (
        SELECT campaign_id, {space.key}, min(occurred_at) AS clicked_at
        FROM {space.events}
        WHERE type = 'email_clicked' AND campaign_id != ''
        GROUP BY campaign_id, {space.key}
    ),
    conversions AS (
        SELECT c.campaign_id AS campaign_id, count() AS conversions, sum(o.order_total_minor) AS revenue_minor
        FROM first_clicks AS c
        INNER JOIN (
            SELECT {space.key}, occurred_at, order_total_minor FROM {space.events} WHERE type = 'order_placed'
        ) AS o ON o.{space.key} = c.{space.key}
        WHERE o.occurred_at >= c.clicked_at AND o.occurred_at < c.clicked_at + INTERVAL {CONVERSION_WINDOW_DAYS} DAY
        GROUP BY campaign_id
    )
SELECT
    e.campaign_id AS campaign_id, sends, recipients, openers, clickers,
    if(recipients = 0, 0, openers / recipients) AS open_rate,
    if(recipients = 0, 0, clickers / recipients) AS click_rate,
    cv.conversions AS conversions,
    cv.revenue_minor AS revenue_minor
FROM engagement AS e
LEFT JOIN conversions AS cv ON cv.campaign_id = e.campaign_id"""


def channel_mix(space: Space) -> str:
    """Per month and channel: events, customers and the channel's share of the month's events."""
    return f"""CREATE VIEW IF NOT EXISTS channel_mix AS
SELECT
    toStartOfMonth(occurred_at) AS month,
    channel,
    count() AS events,
    uniqExact({space.key}) AS customers,
    events / sum(events) OVER (PARTITION BY month) AS share_of_events
FROM {space.events}
GROUP BY month, channel"""


def email_to_order_funnel(space: Space) -> str:
    """windowFunnel example: how far customers get along opened -> clicked -> ordered
    within FUNNEL_WINDOW_SECONDS of the open (0 = never opened)."""
    return f"""CREATE VIEW IF NOT EXISTS email_to_order_funnel AS
SELECT steps_completed, count() AS customers
FROM (
    SELECT
        {space.key},
        windowFunnel({FUNNEL_WINDOW_SECONDS})(
            toDateTime(occurred_at), type = 'email_opened', type = 'email_clicked', type = 'order_placed'
        ) AS steps_completed
    FROM {space.events}
    WHERE type IN ('email_opened', 'email_clicked', 'order_placed')
    GROUP BY {space.key}
)
GROUP BY steps_completed"""


def lifecycle_distribution() -> str:
    """Live profiles per lifecycle stage and each stage's share. The stage is the one the
    profile stage computed (``streams/signals/rules.py``), not re-derived here: one rule,
    one place."""
    return """CREATE VIEW IF NOT EXISTS lifecycle_distribution AS
SELECT lifecycle_stage, count() AS customers, customers / sum(customers) OVER () AS share
FROM profiles
GROUP BY lifecycle_stage"""


def revenue_by_segment() -> str:
    """Per segment and currency: current members, members who bought, and the lifetime
    revenue of those buyers (from their profiles, so it is in customer-id space, like
    segment membership)."""
    return """CREATE VIEW IF NOT EXISTS revenue_by_segment AS
WITH sizes AS (SELECT segment_id, count() AS members FROM segment_members GROUP BY segment_id)
SELECT
    m.segment_id AS segment_id,
    p.currency AS currency,
    any(s.members) AS members,
    count() AS buyers,
    sum(p.revenue_minor) AS revenue_minor,
    intDiv(revenue_minor, members) AS revenue_per_member_minor
FROM segment_members AS m
INNER JOIN profiles AS p ON p.customer_id = m.customer_id
INNER JOIN sizes AS s ON s.segment_id = m.segment_id
WHERE p.orders > 0
GROUP BY segment_id, currency"""


def keyed_views(space: Space) -> tuple[str, ...]:
    """The event views that group, join or count customers by ``space.key`` (``rfm`` groups by
    the customer it outputs)."""
    return cohort_retention(space), campaign_performance(space), channel_mix(space), email_to_order_funnel(space)


def event_views(space: Space) -> tuple[str, ...]:
    """The views computed from events, in ``space``."""
    return rfm(space), *keyed_views(space)
