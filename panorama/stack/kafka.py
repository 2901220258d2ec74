"""A single-node Apache Kafka 4.x broker in KRaft mode, run from the jars that
``deploy/kafka/pom.xml`` resolves from Maven Central.

Storage is formatted on first start and kept under ``<data_dir>/kafka`` so a restart
keeps every event.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from panorama.errors import StackError
from panorama.kafka_config import client_config
from panorama.settings import Settings
from panorama.stack.process import ManagedProcess, port_in_use

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"


def kafka_answers(settings: Settings, timeout: float = 2.0) -> bool:
    """True when the broker of ``settings`` (with its TLS/SASL options) returns cluster metadata."""
    admin = AdminClient(client_config(settings) | {"log_level": 0})
    try:
        return bool(admin.list_topics(timeout=timeout).brokers)
    except KafkaException:
        return False


def jars_dir(settings: Settings) -> Path:
    return settings.cache_dir.resolve() / "kafka" / settings.kafka_version


def fetch_jars(settings: Settings) -> Path:
    """Copy the broker jars from Maven Central into the cache (once)."""
    target = jars_dir(settings)
    if any(target.glob("kafka_2.13-*.jar")):
        return target
    if shutil.which("mvn") is None:
        raise StackError("Maven (mvn) is needed once to fetch the Kafka jars: apt-get install maven")
    if not POM.exists():
        raise StackError(f"{POM} is missing; run from a checkout of the repository")
    cmd = [
        "mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
        f"-Dkafka.version={settings.kafka_version}", f"-DoutputDirectory={target}", "-DincludeScope=runtime",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"fetching Kafka {settings.kafka_version} jars failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return target


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError("Java 17+ is needed for the local Kafka broker: apt-get install openjdk-17-jre-headless")
    return java


def _cluster_id() -> str:
    """A random cluster id in Kafka's form (URL-safe base64 of 16 bytes). Like Kafka's own
    ``Uuid.randomUuid``, never one starting with '-': the storage tool would read it as an
    option and refuse to format (one start in 32 failed that way)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalKafka:
    name = "kafka"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.home = settings.data_dir.resolve() / "kafka"
        self.process = ManagedProcess("kafka", settings.run_dir, settings.log_dir, marker=str(self.home))

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    def _write_config(self) -> None:
        s = self.settings
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            "\n".join([
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{s.kafka_controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={self.home / 'logs'}",
                f"num.partitions={s.interactions_partitions}",
                "auto.create.topics.enable=false",
                "unclean.leader.election.enable=false",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=-1",
                "",
            ])
        )

    def _classpath(self) -> str:
        return str(fetch_jars(self.settings) / "*")

    def _java_argv(self, main: str, *args: str) -> list[str]:
        log4j = resources.files("panorama.stack") / "templates" / "log4j2.properties"
        return [
            _java(), f"-Xms256m", f"-Xmx{self.settings.kafka_heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={self.home}",
            "-cp", self._classpath(), main, *args,
        ]

    def _format_storage(self) -> None:
        if (self.home / "logs" / "meta.properties").exists():
            return
        argv = self._java_argv("kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(self.config_file))
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError(f"formatting Kafka storage in {self.home} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def ready(self) -> bool:
        return port_in_use(self.settings.kafka_port) and kafka_answers(self.settings)

    def start(self, timeout: float = 90.0) -> int:
        pid = self.process.pid()
        if pid is not None:
            return pid
        for port in (self.settings.kafka_port, self.settings.kafka_controller_port):
            if port_in_use(port):
                raise StackError(
                    f"port {port} is in use by another process, so the local Kafka broker cannot start. "
                    "Stop that process, or point CDP_KAFKA_BOOTSTRAP at it if it is a Kafka broker, "
                    "or choose other ports with CDP_KAFKA_PORT / CDP_KAFKA_CONTROLLER_PORT."
                )
        self._write_config()
        self._format_storage()
        pid = self.process.start(self._java_argv("kafka.Kafka", str(self.config_file)))
        self.process.wait_until(self.ready, timeout, "ready")
        return pid


if __name__ == "__main__":  # `python -m panorama.stack.kafka`: fetch the jars (used by `make setup`)
    from panorama.settings import load_settings

    print(fetch_jars(load_settings()))
