"""`cdp up` / `cdp down` / `cdp status`: the whole local platform in one place.

Parts named by ``CDP_KAFKA_BOOTSTRAP`` / ``CDP_REDIS_URL`` / ``CDP_CLICKHOUSE_URL`` are
external: checked, never started or stopped. Everything else is started here, in the
background, and stopped only by ``down`` (which signals nothing it did not start).
"""

from __future__ import annotations

import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass

from panorama.errors import StackError
from panorama.settings import Settings
from panorama.stack.clickhouse import chdb_version, server_version
from panorama.stack.kafka import LocalKafka, kafka_answers
from panorama.stack.process import ManagedProcess, port_in_use
from panorama.stack.redis import LocalRedis, redis_answers
from panorama.stack.topics import ensure_topics
from projections import migrate


SERVICES = ("kafka", "redis", "clickhouse")


@dataclass
class PartStatus:
    name: str
    state: str  # running | external | stopped | unhealthy
    address: str
    pid: int | None = None
    log: str | None = None
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.state in ("running", "external")

    def as_dict(self) -> dict:
        return asdict(self) | {"healthy": self.healthy}


@dataclass(frozen=True)
class PlatformProcess:
    """One of the platform's own processes that `cdp up` runs in the background: the
    foreground command ``cdp <command>`` (the way production runs it), and how to tell it
    is ready (None: alive after start-up counts as ready)."""

    name: str
    command: tuple[str, ...]
    ready: Callable[[Settings], bool] | None = None
    port: Callable[[Settings], int] | None = None


def _api_answers(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(f"http://{settings.api_host}:{settings.api_port}/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


PLATFORM = (
    PlatformProcess("api", ("serve",), _api_answers, port=lambda s: s.api_port),
    PlatformProcess("worker", ("worker",)),
)


def platform_process(settings: Settings, name: str) -> ManagedProcess:
    return ManagedProcess(name, settings.run_dir, settings.log_dir, marker=str(settings.data_dir.resolve()))


def _start_platform(settings: Settings, spec: PlatformProcess) -> int:
    proc = platform_process(settings, spec.name)
    pid = proc.pid()
    if pid is not None:
        return pid
    if spec.port and port_in_use(spec.port(settings)):
        raise StackError(
            f"port {spec.port(settings)} is in use by another process, so the {spec.name} cannot start. "
            f"Stop it or choose another port with CDP_{spec.name.upper()}_PORT."
        )
    argv = [sys.executable, "-m", "panorama.cli", "--data-dir", str(settings.data_dir.resolve()), *spec.command]
    pid = proc.start(argv, env=settings_env(settings))
    if spec.ready is None:
        time.sleep(1.0)
        proc.wait_until(lambda: True, 5, "ready")
    else:
        proc.wait_until(lambda: spec.ready(settings), 30, "ready")
    return pid


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as ``CDP_*`` variables, so a child process sees exactly what we see."""
    env = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"CDP_{name.upper()}"] = str(value)
    return env


def up(settings: Settings, with_platform: bool = True, progress: Callable[[str], None] = lambda _: None) -> list[PartStatus]:
    """Start what is missing, wait until each part answers, create the topics. Idempotent."""
    started = time.monotonic()
    if settings.kafka_bootstrap is None:
        kafka = LocalKafka(settings)
        _start("Kafka (KRaft, single node)", kafka.process, kafka.start, progress)
    if settings.redis_url is None:
        redis = LocalRedis(settings)
        _start("redis-server", redis.process, redis.start, progress)
    progress(f"ClickHouse: {_clickhouse_status(settings, raise_on_error=True).detail}")
    applied = migrate(settings)
    progress(f"analytics schema: applied migrations {applied}" if applied else "analytics schema: up to date")
    created = ensure_topics(settings)
    progress(f"topics: created {', '.join(created)}" if created else "topics: all present")
    if with_platform:
        for spec in PLATFORM:
            _start(spec.name, platform_process(settings, spec.name), lambda: _start_platform(settings, spec), progress)
    progress(f"stack up in {time.monotonic() - started:.1f}s")
    return status(settings)


def _start(what: str, proc: ManagedProcess, start: Callable[[], int], progress: Callable[[str], None]) -> None:
    pid = proc.pid()
    if pid is not None:
        progress(f"{what}: already running (pid {pid})")
        return
    progress(f"{what}: starting")
    progress(f"{what}: ready (pid {start()})")


def down(settings: Settings) -> list[str]:
    """Stop what ``up`` started (the platform first, the broker last); return the names stopped."""
    stopped = []
    platform = [platform_process(settings, spec.name) for spec in reversed(PLATFORM)]
    for proc in (*platform, LocalRedis(settings).process, LocalKafka(settings).process):
        if proc.stop():
            stopped.append(proc.name)
    return stopped


def status(settings: Settings) -> list[PartStatus]:
    services = [_kafka_status(settings), _redis_status(settings), _clickhouse_status(settings)]
    return services + [_platform_status(settings, spec) for spec in PLATFORM]


def _managed_status(name: str, proc: ManagedProcess, address: str, answers: bool) -> PartStatus:
    pid = proc.pid()
    if pid is None:
        return PartStatus(name, "stopped", address, detail="run `cdp up`")
    state = "running" if answers else "unhealthy"
    return PartStatus(name, state, address, pid, str(proc.log_file), "" if answers else f"not answering; see {proc.log_file}")


def _kafka_status(settings: Settings) -> PartStatus:
    if settings.kafka_bootstrap:
        ok = kafka_answers(settings)
        return PartStatus("kafka", "external" if ok else "unhealthy", settings.kafka_bootstrap)
    kafka = LocalKafka(settings)
    return _managed_status("kafka", kafka.process, settings.kafka_address, kafka.ready())


def _redis_status(settings: Settings) -> PartStatus:
    if settings.redis_url:
        ok = redis_answers(settings.redis_url)
        return PartStatus("redis", "external" if ok else "unhealthy", settings.redis_url)
    redis = LocalRedis(settings)
    return _managed_status("redis", redis.process, settings.redis_address, redis.ready())


def _clickhouse_status(settings: Settings, raise_on_error: bool = False) -> PartStatus:
    try:
        if settings.clickhouse_url:
            return PartStatus("clickhouse", "external", settings.clickhouse_url, detail=server_version(settings.clickhouse_url))
        version = chdb_version(settings.chdb_path)
        return PartStatus("clickhouse", "running", f"chdb:{settings.chdb_path}", detail=f"chDB {version} (embedded)")
    except StackError as e:
        if raise_on_error:
            raise
        return PartStatus("clickhouse", "unhealthy", settings.clickhouse_url or f"chdb:{settings.chdb_path}", detail=str(e))


def _platform_status(settings: Settings, spec: PlatformProcess) -> PartStatus:
    proc = platform_process(settings, spec.name)
    address = f"http://{settings.api_host}:{spec.port(settings)}" if spec.port else f"cdp {' '.join(spec.command)}"
    answers = spec.ready(settings) if spec.ready else proc.pid() is not None
    return _managed_status(spec.name, proc, address, answers)
