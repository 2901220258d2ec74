"""schemathesis against the OpenAPI spec the running collector serves: generated requests,
valid and invalid by the spec, to every collector route on a real uvicorn server writing
to the real Kafka. No answer may be a 5xx, and every answer must be one the spec declares
(status code, content type, body schema). Bounded: a few examples per operation."""

import uuid
from pathlib import Path

import httpx
import orjson

import pytest
import schemathesis
from hypothesis import HealthCheck, settings as hypothesis_settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.checks import not_a_server_error

from connectors.collector.write_keys import WriteKeyStore
from panorama.stack.topics import ensure_topics
from tests.integration.connectors.server import running_api

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served(stack):
    """One server for every generated case (the settings fixture is per test)."""
    mine = stack.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}"})
    ensure_topics(mine)
    store = WriteKeyStore(mine)
    try:
        key = store.create("schemathesis", "ingest")
    finally:
        store.close()
    with running_api(mine) as url:
        yield url, key


# The spec kept in the repo; test_served_spec_is_the_kept_one holds it to the served one.
SPEC = Path(__file__).parents[3] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(SPEC).include(path_regex="^/v1/")


def test_served_spec_is_the_kept_one(served):
    url, _ = served
    assert httpx.get(f"{url}/openapi.json").json() == orjson.loads(SPEC.read_bytes())


@schema.parametrize()
@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_collector_conforms_to_its_spec(case, served):
    url, key = served
    case.call_and_validate(base_url=url, auth=(key, ""), checks=CHECKS)
