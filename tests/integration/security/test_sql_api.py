"""``POST /v1/sql`` on a real uvicorn server, Kafka and Redis, answered by a real `cdp sink`
holding chDB in another process (its query socket) over events it sank from the log:
roles, workspaces, refused statements, engine errors, truncation, JSON typing, audit."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from contextlib import ExitStack

import httpx
import pytest

from panorama.security.audit_search import AuditQuery, search_audit
from panorama.security.keys import KeyStore
from panorama.stack.topics import ensure_topics
from producers import InteractionProducer
from tests.integration.connectors.server import running_api
from tests.integration.projections.population import population
from tests.integration.projections.sink_process import held_store, running_sink, wait_until_sunk

pytestmark = pytest.mark.integration

ROLES = ("admin", "analyst", "marketing", "support", "auditor", "ingest")


@pytest.fixture(scope="module")
def world(stack, tmp_path_factory):
    """Workspace ``a``'s server, its store filled by a running sink, keys by role (and an
    analyst of workspace ``b``)."""
    a = stack.model_copy(update={"topic_prefix": f"q{uuid.uuid4().hex[:8]}", "data_dir": tmp_path_factory.mktemp("sql")})
    ensure_topics(a)
    records = population(25, seed=7)
    with InteractionProducer(a) as producer:
        assert producer.send_and_wait(records, timeout=60).ok
    with ExitStack() as context:
        context.enter_context(running_sink(a, a.data_dir / "sink.log"))
        wait_until_sunk(a, len(records))
        url = context.enter_context(running_api(a))
        store = KeyStore(a)
        keys = {role: store.create(f"{role}-1", role) for role in ROLES}
        keys["analyst@b"] = store.create("analyst-b", "analyst", workspace=a.topic_prefix + "b")
        store.close()
        client = context.enter_context(httpx.Client(base_url=url, timeout=60))
        yield {"a": a, "client": client, "keys": keys, "records": records}


def sql(world, query: str, key: str | None = "analyst", **body) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world['keys'][key][0]}"} if key else {}
    return world["client"].post("/v1/sql", json={"query": query, **body}, headers=headers)


def rows(world, query: str, key: str = "analyst", **body) -> list[list]:
    answer = sql(world, query, key, **body)
    assert answer.status_code == 200, answer.text
    return answer.json()["rows"]


def refused(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code, answer.text
    return answer.json()["error"]["problem"]


def audit_trail(world, key: str, at_least: int) -> list[dict]:
    query = AuditQuery(actor=f"key:{world['keys'][key][1].key_id}", action="sql.query", limit=1000)
    deadline = time.monotonic() + 10
    while len(found := search_audit(world["a"], query)) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def test_an_analyst_reads_the_sunk_events(world):
    records = world["records"]
    answer = sql(world, "SELECT type, count() AS n FROM events GROUP BY type ORDER BY type")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["columns"] == [{"name": "type", "type": "LowCardinality(String)"}, {"name": "n", "type": "UInt64"}]
    assert body["rows"] == sorted(map(list, Counter(r["type"] for r in records).items()))
    assert body["rows_returned"] == len(body["rows"]) and body["truncated"] is False and body["elapsed_ms"] > 0
    assert rows(world, "SELECT count() FROM events", "admin") == [[len(records)]]


@pytest.mark.parametrize("key", ["marketing", "support", "auditor"])
def test_other_roles_are_forbidden(world, key):
    refused(sql(world, "SELECT 1", key), 403, "wrong_role")


@pytest.mark.parametrize(("key", "code"), [(None, "missing_key"), ("ingest", "write_key_not_accepted")])
def test_no_key_or_a_write_key_is_not_a_credential(world, key, code):
    refused(sql(world, "SELECT 1", key), 401, code)


def test_another_workspaces_analyst_gets_no_rows_and_is_told_why(world):
    problem = refused(sql(world, "SELECT count() FROM events", "analyst@b"), 403, "workspace_not_served")
    assert world["a"].topic_prefix in problem and "no workspace column" in problem


@pytest.mark.parametrize("query", [
    "INSERT INTO event_log (type) VALUES ('x')", "DROP TABLE events", "SELECT 1; DROP TABLE event_log",
    "ALTER TABLE event_log DELETE WHERE 1", "SELECT 1 INTO OUTFILE '/tmp/panorama-sql-test'",
    "SELECT file('/proc/self/environ')",
])
def test_writes_and_escapes_are_refused_and_change_nothing(world, query):
    problem = refused(sql(world, query), 422, "read_only_query")
    assert any(word in problem for word in ("only read queries", "one statement", "not allowed")), problem
    assert rows(world, "SELECT count() FROM events") == [[len(world["records"])]]
    assert rows(world, "EXISTS TABLE event_log") == [[1]]


@pytest.mark.parametrize("query", ["SELECT 1 SETTINGS readonly = 0", "SELECT count() FROM events SETTINGS readonly = 2"])
def test_setting_readonly_from_the_statement_is_refused_by_the_engine(world, query):
    assert "readonly" in refused(sql(world, query), 400, "query_failed")


def test_bad_sql_names_the_problem(world):
    assert "no_such_column" in refused(sql(world, "SELECT no_such_column FROM events"), 400, "query_failed")
    assert "Syntax error" in refused(sql(world, "SELECT FROM WHERE"), 400, "query_failed")


def test_rows_past_max_rows_are_cut_and_said_so(world):
    cut = sql(world, "SELECT number FROM numbers(50)", max_rows=5).json()
    assert (cut["rows"], cut["rows_returned"], cut["truncated"]) == ([[n] for n in range(5)], 5, True)
    assert sql(world, "SELECT number FROM numbers(5)", max_rows=5).json()["truncated"] is False


def test_json_values_keep_their_precision_and_times_are_iso(world):
    [[customer_hash, as_text, occurred_at, iso, small]] = rows(
        world, "SELECT customer_hash, toString(customer_hash), occurred_at, "
               "formatDateTime(occurred_at, '%Y-%m-%dT%H:%i:%S.%fZ'), toUInt64(7) FROM customer_events LIMIT 1")
    assert isinstance(customer_hash, str) and customer_hash == as_text and int(customer_hash) > 2**53
    assert occurred_at == iso and small == 7
    assert rows(world, "SELECT toInt64(-9007199254740993), toInt64(-9007199254740991)") == [
        ["-9007199254740993", -9007199254740991]]


@pytest.mark.parametrize(("body", "field"), [
    ({"query": "SELECT 1", "max_rows": 0}, "max_rows"), ({"query": "SELECT 1", "max_rows": 100_001}, "max_rows"),
    ({"query": "SELECT 1", "database": "system"}, "database"), ({"query": ""}, "query"), ({}, "query"),
])
def test_bad_bodies_name_the_field(world, body, field):
    answer = world["client"].post("/v1/sql", json=body, headers={"Authorization": f"Bearer {world['keys']['analyst'][0]}"})
    assert refused(answer, 422, "invalid_field") and answer.json()["error"]["field"] == field


def test_bodies_up_to_64_kib_are_read(world):
    padding = "-- " + "x" * 60_000 + "\n"
    assert rows(world, padding + "SELECT 1") == [[1]]
    refused(sql(world, "-- " + "x" * 70_000 + "\nSELECT 1"), 413, "body_too_large")


def test_a_statement_naming_a_person_is_refused_before_it_runs(world):
    answer = sql(world, "SELECT count() FROM events WHERE properties LIKE '%ana.lopez@example.com%'")
    assert refused(answer, 422, "personal_data_in_query") and answer.json()["error"]["field"] == "query"


def test_every_statement_is_audited_with_its_outcome(world):
    marker = uuid.uuid4().hex
    seen = len(audit_trail(world, "admin", 0))
    assert sql(world, f"SELECT '{marker}' AS marker, number FROM numbers(3)", "admin", max_rows=2).status_code == 200
    sql(world, f"DROP TABLE events -- {marker}", "admin")
    sql(world, f"SELECT nope_{marker}", "admin")
    trail = [e for e in audit_trail(world, "admin", seen + 3) if marker in e["details"].get("statement", "")]
    assert [(e["outcome"], e["details"].get("reason")) for e in trail] == [
        ("ok", None), ("failed", "read_only_query"), ("failed", "query_failed")]
    assert trail[0]["details"] | {"elapsed_ms": 0} == {
        "workspace": world["a"].topic_prefix, "key_name": "admin-1", "statement": f"SELECT '{marker}' AS marker, number "
        "FROM numbers(3)", "rows_returned": 2, "truncated": True, "elapsed_ms": 0}
    assert trail[0]["role"] == "admin" and trail[0]["subject"] is None
    sql(world, f"SELECT '{marker}'", "analyst@b")
    [denied] = [e for e in audit_trail(world, "analyst@b", 1) if marker in e["details"]["statement"]]
    assert (denied["outcome"], denied["details"]["reason"]) == ("denied", "workspace_not_served")


def test_a_store_held_by_a_process_that_serves_no_queries_is_a_503_to_retry(stack, tmp_path):
    mine = stack.model_copy(update={"topic_prefix": f"q{uuid.uuid4().hex[:8]}", "data_dir": tmp_path})
    ensure_topics(mine)
    store = KeyStore(mine)
    key, _ = store.create("analyst-1", "analyst")
    store.close()
    with held_store(mine) as holder, running_api(mine) as url:
        answer = httpx.post(url + "/v1/sql", json={"query": "SELECT 1"}, headers={"Authorization": f"Bearer {key}"},
                            timeout=60)
    assert f"PID: {holder.pid}" in refused(answer, 503, "analytics_store_unavailable")
    assert answer.headers["Retry-After"] == "5"
