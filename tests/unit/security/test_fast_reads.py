"""Which requests the profile read fast path takes, and how it reads the bearer key; the
answers themselves are compared with the FastAPI route's in the integration tests."""

from __future__ import annotations

import pytest

from panorama.profile_api import MAX_ID, MAX_PURPOSE, _hot_read
from panorama.security.auth import bearer_secret


def scope(path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    return {"type": "http", "method": method, "path": path, "headers": headers or []}


def test_a_profile_get_is_taken_with_its_key_and_first_purpose():
    headers = [(b"authorization", b"Bearer pk_1"), (b"x-purpose", b"ticket 1"), (b"x-purpose", b"second")]
    assert _hot_read(scope("/v1/profiles/c_42", headers=headers)) == ("c_42", "Bearer pk_1", "ticket 1")
    assert _hot_read(scope("/v1/profiles/user_id:x")) == ("user_id:x", None, None)


@pytest.mark.parametrize("request_scope", [
    scope("/v1/profiles"),  # find by identity: the FastAPI route
    scope("/v1/profiles/"),
    scope("/v1/profiles/c_42/identity"),
    scope("/v1/profiles/c_42/events"),
    scope("/v1/profiles/c_42", method="POST"),
    scope("/v1/keys/me"),
    scope("/v1/profiles/" + "c" * (MAX_ID + 1)),  # the FastAPI route answers 422 naming the field
    scope("/v1/profiles/c_42", headers=[(b"x-purpose", b"p" * (MAX_PURPOSE + 1))]),
    {"type": "websocket", "path": "/v1/profiles/c_42", "headers": []},
])
def test_anything_else_goes_on_to_fastapi(request_scope):
    assert _hot_read(request_scope) is None


@pytest.mark.parametrize(("header", "secret"), [
    ("Bearer pk_1", "pk_1"), ("bearer  pk_1 ", "pk_1"), ("BEARER pk_1", "pk_1"),
    (None, None), ("", None), ("Bearer", None), ("Bearer ", None), ("Basic pk_1", None), ("pk_1", None),
])
def test_the_bearer_key_is_read_as_fastapis_http_bearer_reads_it(header, secret):
    assert bearer_secret(header) == secret
