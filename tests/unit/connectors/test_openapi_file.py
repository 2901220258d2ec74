from connectors.openapi_file import SPEC_PATH, current_spec


def test_docs_openapi_json_is_what_the_app_serves():
    assert SPEC_PATH.read_text("utf-8") == current_spec(), (
        "docs/openapi.json is out of date: run `python -m connectors.openapi_file`")


def test_the_spec_documents_every_segment_call_and_the_webhooks():
    paths = set(__import__("json").loads(current_spec())["paths"])
    assert {f"/v1/{kind}" for kind in ("identify", "track", "page", "screen", "group", "alias", "batch")} <= paths
    assert "/v1/webhooks/{connector}" in paths
