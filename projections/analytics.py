"""Analytics views for BI, named for what they hold. Each reads deduplicated views
(``events``, or ``profiles`` and ``segment_members``), so its numbers are exact at any
moment. ``docs/analytics.md`` documents the columns; ``test_analytics_truth.py`` and
``test_profile_views.py`` (``tests/integration/projections/``) recompute each in plain
Python from the same input.

Until identity resolution lands, a customer is the routing identity (``customer_key``):
events of one person that carry different strongest identities count apart.
"""

from __future__ import annotations

CONVERSION_WINDOW_DAYS = 7
FUNNEL_WINDOW_SECONDS = 7 * 86_400
# rfm_score (3..15) at or above which a customer is in the tier
HIGH_TIER_SCORE = 11
MID_TIER_SCORE = 7


def rfm() -> str:
    """Recency, frequency, monetary value per customer who ordered.

    Each score is 1..5 by rank among customers (``1 + intDiv(5 * (rank - 1), customers)``,
    ties share a score); recency is in whole UTC days before the latest order in the data,
    so the view is stable under replay.
    """
    return f"""CREATE VIEW IF NOT EXISTS rfm AS
WITH
    (SELECT max(occurred_at) FROM events WHERE type = 'order_placed') AS as_of,
    per_customer AS (
        SELECT
            customer_key,
            dateDiff('day', max(occurred_at), as_of) AS recency_days,
            count() AS frequency,
            sum(order_total_minor) AS monetary_minor
        FROM events
        WHERE type = 'order_placed'
        GROUP BY customer_key
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
    customer_key, recency_days, frequency, monetary_minor, r_score, f_score, m_score,
    r_score + f_score + m_score AS rfm_score,
    multiIf(rfm_score >= {HIGH_TIER_SCORE}, 'high', rfm_score >= {MID_TIER_SCORE}, 'mid', 'low') AS value_tier
FROM scored"""


def cohort_retention() -> str:
    """Customers by the month of their first order, and the share ordering again N months later."""
    return """CREATE VIEW IF NOT EXISTS cohort_retention AS
WITH
    orders AS (
        SELECT customer_key, toStartOfMonth(occurred_at) AS month FROM events WHERE type = 'order_placed'
    ),
    firsts AS (SELECT customer_key, min(month) AS cohort_month FROM orders GROUP BY customer_key),
    sizes AS (SELECT cohort_month, count() AS cohort_size FROM firsts GROUP BY cohort_month)
SELECT
    f.cohort_month AS cohort_month,
    dateDiff('month', f.cohort_month, o.month) AS months_since_first,
    uniqExact(o.customer_key) AS customers,
    any(s.cohort_size) AS cohort_size,
    customers / cohort_size AS retention
FROM orders AS o
INNER JOIN firsts AS f ON o.customer_key = f.customer_key
INNER JOIN sizes AS s ON s.cohort_month = f.cohort_month
GROUP BY cohort_month, months_since_first"""


def campaign_performance() -> str:
    """Per email campaign: sends, unique recipients/openers/clickers and rates, and the
    orders (count and revenue) a clicker placed within CONVERSION_WINDOW_DAYS of their
    first click on that campaign."""
    return f"""CREATE VIEW IF NOT EXISTS campaign_performance AS
WITH
    engagement AS (
        SELECT
            campaign_id,
            countIf(type = 'email_sent') AS sends,
            uniqExactIf(customer_key, type = 'email_sent') AS recipients,
            uniqExactIf(customer_key, type = 'email_opened') AS openers,
            uniqExactIf(customer_key, type = 'email_clicked') AS clickers
        FROM events
        WHERE type IN ('email_sent', 'email_opened', 'email_clicked') AND campaign_id != ''
        GROUP BY campaign_id
    ),
    first_clicks AS (
        SELECT campaign_id, customer_key, min(occurred_at) AS clicked_at
        FROM events
        WHERE type = 'email_clicked' AND campaign_id != ''
        GROUP BY campaign_id, customer_key
    ),
    conversions AS (
        SELECT c.campaign_id AS campaign_id, count() AS conversions, sum(o.order_total_minor) AS revenue_minor
        FROM first_clicks AS c
        INNER JOIN (
            SELECT customer_key, occurred_at, order_total_minor FROM events WHERE type = 'order_placed'
        ) AS o ON o.customer_key = c.customer_key
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


def channel_mix() -> str:
    """Per month and channel: events, customers and the channel's share of the month's events."""
    return """CREATE VIEW IF NOT EXISTS channel_mix AS
SELECT
    toStartOfMonth(occurred_at) AS month,
    channel,
    count() AS events,
    uniqExact(customer_key) AS customers,
    events / sum(events) OVER (PARTITION BY month) AS share_of_events
FROM events
GROUP BY month, channel"""


def email_to_order_funnel() -> str:
    """windowFunnel example: how far customers get along opened -> clicked -> ordered
    within FUNNEL_WINDOW_SECONDS of the open (0 = never opened)."""
    return f"""CREATE VIEW IF NOT EXISTS email_to_order_funnel AS
SELECT steps_completed, count() AS customers
FROM (
    SELECT
        customer_key,
        windowFunnel({FUNNEL_WINDOW_SECONDS})(
            toDateTime(occurred_at), type = 'email_opened', type = 'email_clicked', type = 'order_placed'
        ) AS steps_completed
    FROM events
    WHERE type IN ('email_opened', 'email_clicked', 'order_placed')
    GROUP BY customer_key
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
