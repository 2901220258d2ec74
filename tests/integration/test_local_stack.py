"""`cdp up` / `status` / `down` on a stack of the test's own, through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from panorama.stack.ephemeral import private_settings
from panorama.stack.local import settings_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def cdp(settings, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDP_")} | settings_env(settings)
    return subprocess.run([sys.executable, "-m", "panorama.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def parts(settings) -> dict[str, dict]:
    done = cdp(settings, "status", "--json")
    return {p["name"]: p for p in json.loads(done.stdout)}


@pytest.fixture
def own_settings(tmp_path, monkeypatch):
    for var in ("CDP_KAFKA_BOOTSTRAP", "CDP_REDIS_URL", "CDP_CLICKHOUSE_URL"):
        monkeypatch.delenv(var, raising=False)
    settings = private_settings(tmp_path / "data")
    yield settings
    cdp(settings, "down")


def test_up_is_idempotent_status_reports_and_down_stops_only_ours(own_settings):
    first = cdp(own_settings, "up")
    assert first.returncode == 0, first.stderr + first.stdout
    before = parts(own_settings)
    assert {name: p["state"] for name, p in before.items()} == {
        "kafka": "running", "redis": "running", "clickhouse": "running", "api": "running", "worker": "running"}
    assert all(p["pid"] for n, p in before.items() if n != "clickhouse")
    assert before["kafka"]["log"].endswith("kafka.log")

    again = cdp(own_settings, "up")
    assert again.returncode == 0, again.stderr
    assert {n: p["pid"] for n, p in parts(own_settings).items()} == {n: p["pid"] for n, p in before.items()}

    # a stranger's process on a port we do not own is never touched by `down`
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        down = cdp(own_settings, "down")
        assert down.returncode == 0
        assert all(name in down.stderr for name in ("kafka", "redis", "api", "worker"))
        assert stranger.poll() is None
    finally:
        stranger.kill()
    after = parts(own_settings)
    assert {after[n]["state"] for n in ("kafka", "redis", "api", "worker")} == {"stopped"}
    assert cdp(own_settings, "status").returncode == 1


def test_kafka_restart_keeps_data_on_disk(own_settings):
    from producers import InteractionProducer
    from schemas.examples import example_records
    from tests.integration.kafka_reader import read_topic

    assert cdp(own_settings, "up", "--services-only").returncode == 0
    with InteractionProducer(own_settings) as producer:
        result = producer.send_and_wait(list(example_records().values()))
    assert result.ok and len(result.accepted) == len(example_records())
    assert cdp(own_settings, "down").returncode == 0
    assert cdp(own_settings, "up", "--services-only").returncode == 0
    assert len(read_topic(own_settings, own_settings.topics.interactions)) == len(example_records())


def test_port_in_use_is_a_clear_error(own_settings):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", own_settings.redis_port))
        blocker.listen()
        done = cdp(own_settings, "up", "--services-only")
    assert done.returncode == 2
    assert f"port {own_settings.redis_port} is in use" in done.stderr
    assert "CDP_REDIS_PORT" in done.stderr


def test_crashed_broker_is_reported_with_its_log(own_settings):
    assert cdp(own_settings, "up", "--services-only").returncode == 0
    kafka = parts(own_settings)["kafka"]
    os.kill(kafka["pid"], signal.SIGKILL)
    status = parts(own_settings)
    assert status["kafka"]["state"] == "stopped"
    # a broken config makes the broker exit during start-up: the error carries the log's tail
    (own_settings.data_dir / "kafka" / "logs" / "meta.properties").write_text("garbage=1\n")
    done = cdp(own_settings, "up", "--services-only")
    assert done.returncode == 2
    assert "kafka exited during start-up" in done.stderr and "kafka.log" in done.stderr
