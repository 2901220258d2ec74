"""Reading personal data back: `cdp tail` masks it, `--show-pii` opens it and is audited,
`cdp privacy export` prints the customer's events opened and its consent."""

from __future__ import annotations

import json
import subprocess
import sys

import orjson
import pytest

from panorama.log_reader import MASK, latest_events
from producers import InteractionProducer
from schemas.examples import example_records
from tests.integration.kafka_reader import read_topic
from tests.integration.projections.conftest import cdp_env
from tests.integration.streams.population import wait_until_caught_up, worker_thread

pytestmark = pytest.mark.integration


def test_tail_masks_by_default_and_opens_with_show_pii_under_audit(settings):
    record = example_records()["identify"]
    with InteractionProducer(settings) as producer:
        assert producer.send_and_wait([record]).ok
    [masked] = latest_events(settings, 5)
    assert masked["identities"]["email"] == MASK and "ana.martins" not in json.dumps(masked)
    [shown] = latest_events(settings, 5, mask_pii_fields=False)
    assert shown["identities"]["email"] == record["identities"]["email"]
    assert shown["traits"]["first_name"] == record["traits"]["first_name"]
    audit = [orjson.loads(m.value()) for m in read_topic(settings, settings.topics.audit)]
    assert [a["action"] for a in audit] == ["log.read_personal"]


def test_cli_export_prints_opened_events_and_consent(settings):
    record = example_records()["identify"]
    with InteractionProducer(settings) as producer:
        assert producer.send_and_wait([record]).ok
    with worker_thread(settings):
        wait_until_caught_up(settings)
    email = record["identities"]["email"]
    done = subprocess.run([sys.executable, "-m", "panorama.cli", "privacy", "export", f"email:{email}", "--reason", "t-1"],
                          env=cdp_env(settings), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stdout)
    assert exported["format"] == "panorama.export/1"
    assert [e["identities"]["email"] for e in exported["events"]] == [email]
    assert set(exported["consent"]["current"]) >= {"marketing", "third_party_sharing", "cross_border_transfer"}


def test_cli_forget_erases_and_reports(settings, tmp_path):
    settings = settings.model_copy(update={"data_dir": tmp_path})
    record = example_records()["identify"]
    with InteractionProducer(settings) as producer:
        assert producer.send_and_wait([record]).ok
    with worker_thread(settings):
        wait_until_caught_up(settings)
        email = record["identities"]["email"]
        done = subprocess.run([sys.executable, "-m", "panorama.cli", "privacy", "forget", f"email:{email}", "--yes",
                               "--reason", "ticket 9", "--wait", "5"],
                              env=cdp_env(settings), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["data_keys_deleted"] == 1 and report["identities"] >= 2 and report["redis_keys_deleted"] > 0
    audit = [orjson.loads(m.value()) for m in read_topic(settings, settings.topics.audit)]
    assert [(a["action"], a["reason"], a["outcome"]) for a in audit] == [("privacy.forget", "ticket 9", "ok")]
    assert email not in done.stdout + done.stderr
