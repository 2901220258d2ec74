"""``POST /v1/sql``: read-only SQL over the analytics store for analysts, every statement audited.

Roles analyst and admin. The analytics store belongs to the deployment, not to a
workspace: its tables have no workspace column, and the sink fills them from the
deployment's own topics. So only keys of the deployment's own workspace may query it;
another workspace's key gets 403 ``workspace_not_served`` and never a row.

The statement runs wherever the store is (:mod:`projections.query_service`: the server,
the running sink's query socket, or the store opened for it), under ``readonly = 1``, a
30 s limit and ``max_rows``. Each one is audited as ``sql.query`` with the statement
(trimmed), the rows returned, whether they were cut and the time taken, or with the code
of the refusal. A statement naming a person (an e-mail or a phone number) is refused before
it runs: the store holds no plaintext personal data, and the audit log takes none.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from panorama.errors import ProjectionError, QueryError, ReadOnlyQueryError
from panorama.security.audit import refuse_personal_data
from panorama.security.auth import ApiProblem, refusals
from panorama.security.errors import AuditError
from panorama.security.guard import Guard
from panorama.security.keys import ApiKey
from panorama.security.routes import body_doc, body_of
from projections.query_service import run_read_only
from projections.readonly import DEFAULT_ROWS, MAX_ROWS, READ_STATEMENTS

READ_ROLES = ("analyst", "admin")
BODY_LIMIT = 64 * 1024
AUDITED_STATEMENT = 2_000  # characters of the statement kept in its audit record
PROBLEM_LENGTH = 1_000  # characters of an engine message answered


class SqlBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, description=f"one read-only statement: {', '.join(READ_STATEMENTS)}")
    max_rows: int = Field(DEFAULT_ROWS, ge=1, le=MAX_ROWS, description="answer at most this many rows; "
                                                                        "`truncated` says whether there were more")


class SqlColumn(BaseModel):
    name: str
    type: str = Field(description="the ClickHouse type, e.g. `UInt64`, `DateTime64(6, 'UTC')`")


class SqlResponse(BaseModel):
    """Documents the 200 answer (the route writes it with orjson, not through this model)."""

    columns: list[SqlColumn]
    rows: list[list[Any]] = Field(description="dates and times ISO 8601 (UTC), Decimals and integers beyond "
                                              "±(2^53 - 1) as strings, NaN and infinities null")
    rows_returned: int
    truncated: bool = Field(description="there were more rows than `max_rows`")
    elapsed_ms: float


_WHY = {
    400: "the engine refused the statement (`query_failed`: syntax, unknown table or column, a setting, the "
         "30 s limit; `error.problem` is its message), or the body is not JSON (`malformed`)",
    403: "the key's role may not run SQL (analyst or admin), or it belongs to another workspace than the "
         "deployment's (`workspace_not_served`)",
    422: "not one read statement (`read_only_query`), it names a person (`personal_data_in_query`), or a body "
         "field is invalid",
    503: "the analytics store cannot be reached or another process that does not answer queries holds it "
         "(`analytics_store_unavailable`), or the audit log did not take the record; retry after `Retry-After` seconds",
}


def sql_router(guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["analytics"])

    def refuse(key: ApiKey, problem: ApiProblem, statement: str | None, outcome: str = "failed") -> ApiProblem:
        """``problem``, once its refusal is audited (with the statement, trimmed, unless it named a person)."""
        details: dict[str, Any] = {"reason": problem.code}
        if statement is not None:
            details["statement"] = statement[:AUDITED_STATEMENT]
        guard.record(key, "sql.query", None, outcome=outcome, details=details)
        return problem

    @router.post("/sql", summary="Run a read-only SQL statement on the analytics store", openapi_extra=body_doc(SqlBody),
                 responses={200: {"model": SqlResponse, "description": "the rows, with their columns' ClickHouse types"}}
                 | refusals(400, 401, 403, 413, 422, 429, 503, why=_WHY))
    def sql(key: ApiKey = Depends(guard.require(*READ_ROLES)),
            wanted: SqlBody = Depends(body_of(SqlBody, BODY_LIMIT))) -> Response:
        """One statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS) over the tables and
        views of `docs/analytics.md`, under `readonly = 1` and a 30 s limit; audited."""
        if key.workspace != guard.settings.topic_prefix:
            raise refuse(key, ApiProblem(
                403, "workspace_not_served", f"the analytics store holds workspace {guard.settings.topic_prefix!r}'s data "
                f"only (its tables have no workspace column); a key of workspace {key.workspace!r} cannot query it"),
                wanted.query, outcome="denied")
        try:
            refuse_personal_data("query", wanted.query)
        except AuditError:
            raise refuse(key, ApiProblem(
                422, "personal_data_in_query", "the statement holds an e-mail address or a phone number; the analytics "
                "store holds none in plain text (query by customer_id or customer_hash)", field="query"), None) from None
        try:
            answer = run_read_only(guard.settings, wanted.query, wanted.max_rows)
        except ReadOnlyQueryError as e:
            raise refuse(key, ApiProblem(422, "read_only_query", str(e), field="query"), wanted.query) from None
        except QueryError as e:
            raise refuse(key, ApiProblem(400, "query_failed", str(e)[:PROBLEM_LENGTH], field="query"),
                         wanted.query) from None
        except ProjectionError as e:
            raise refuse(key, ApiProblem(
                503, "analytics_store_unavailable", f"{str(e)[:PROBLEM_LENGTH]}. Locally, run `cdp sink` (it answers "
                "queries while it holds the store) or wait for the other holder to finish", field="<clickhouse>",
                headers={"Retry-After": "5"}), wanted.query) from None
        guard.record(key, "sql.query", None, details={
            "statement": wanted.query[:AUDITED_STATEMENT], "rows_returned": len(answer.rows),
            "truncated": answer.truncated, "elapsed_ms": answer.elapsed_ms})
        return Response(orjson.dumps(answer.as_dict()), media_type="application/json")

    return router
