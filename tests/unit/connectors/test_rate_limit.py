from connectors.collector.rate_limit import TokenBuckets, retry_after_header


def test_a_source_may_burst_one_second_of_its_rate_then_waits():
    buckets = TokenBuckets()
    assert buckets.take("shop", 100, 100) == 0.0
    wait = buckets.take("shop", 100, 50)
    assert 0.4 < wait <= 0.5
    assert buckets.take("other", 100, 100) == 0.0  # sources do not share a bucket


def test_retry_after_is_whole_seconds_at_least_one():
    assert retry_after_header(0.01) == "1" and retry_after_header(2.2) == "3"


def test_a_flood_of_distinct_names_stays_within_the_cap_and_the_flooder_is_still_limited():
    buckets = TokenBuckets(max_entries=1000)
    limited = 0
    for i in range(20_000):
        buckets.take(f"address:10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 5, 1)
        limited += buckets.take("address:attacker", 5, 1) > 0  # the guesser keeps its bucket: most recently used
    assert len(buckets) <= 1000
    assert limited >= 20_000 - 50  # a burst of 5, then one refill per 0.2 s the loop runs


def test_the_least_recently_used_bucket_is_evicted_first():
    buckets = TokenBuckets(max_entries=2)
    buckets.take("a", 1, 1)
    buckets.take("b", 1, 1)
    buckets.take("a", 1, 1)  # a is used again: b is now the oldest
    buckets.take("c", 1, 1)
    assert buckets.take("a", 1, 1) > 0  # a kept its empty bucket
    assert buckets.take("b", 1, 1) == 0.0  # b was evicted: it starts full
    assert len(buckets) == 2
