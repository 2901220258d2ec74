import asyncio
import gzip

import pytest

from connectors.collector.body import inflate, parse_json, read_body
from connectors.collector.errors import BadRequest


async def _chunks(data: bytes, size: int = 1000):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def read(data: bytes, encoding: str | None, limit: int) -> bytes:
    return asyncio.run(read_body(_chunks(data), encoding, limit))


def test_reads_plain_and_gzip_bodies():
    assert read(b'{"a": 1}', None, 100) == b'{"a": 1}'
    assert read(gzip.compress(b'{"a": 1}'), "gzip", 100) == b'{"a": 1}'


def test_refuses_an_oversize_body_before_reading_it_all():
    with pytest.raises(BadRequest) as raised:
        read(b"x" * 5000, None, 1000)
    assert raised.value.code == "body_too_large" and raised.value.status == 400


def test_gzip_bomb_is_refused_after_limit_bytes_of_work():
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB that inflates to 50 MB
    assert len(bomb) < 100_000
    with pytest.raises(BadRequest) as raised:
        inflate(bomb, 500 * 1024)
    assert raised.value.code == "body_too_large"


@pytest.mark.parametrize("body, code", [(b"not gzip", "bad_encoding"), (gzip.compress(b"{}")[:-6], "bad_encoding")])
def test_broken_gzip_is_a_400(body, code):
    with pytest.raises(BadRequest) as raised:
        inflate(body, 1000)
    assert raised.value.code == code and raised.value.status == 400


def test_unknown_encoding_is_refused():
    with pytest.raises(BadRequest) as raised:
        read(b"{}", "br", 100)
    assert raised.value.status == 415


def test_invalid_json_names_the_problem():
    with pytest.raises(BadRequest) as raised:
        parse_json(b'{"a": ')
    assert raised.value.code == "invalid_json" and "not valid JSON" in raised.value.problem
