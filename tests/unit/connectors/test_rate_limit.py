from connectors.collector.rate_limit import TokenBuckets, retry_after_header


def test_a_source_may_burst_one_second_of_its_rate_then_waits():
    buckets = TokenBuckets()
    assert buckets.take("shop", 100, 100) == 0.0
    wait = buckets.take("shop", 100, 50)
    assert 0.4 < wait <= 0.5
    assert buckets.take("other", 100, 100) == 0.0  # sources do not share a bucket


def test_retry_after_is_whole_seconds_at_least_one():
    assert retry_after_header(0.01) == "1" and retry_after_header(2.2) == "3"
