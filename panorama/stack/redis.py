"""A local ``redis-server`` from the OS packages, with an append-only file on disk."""

from __future__ import annotations

import shutil

import redis

from panorama.errors import StackError
from panorama.settings import Settings
from panorama.stack.process import ManagedProcess, port_in_use


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise StackError(
            "redis-server is not installed. Run `make setup` as root (it installs it), "
            "or install it yourself: apt-get install redis-server; "
            "or point CDP_REDIS_URL at an existing Redis."
        )
    return binary


class LocalRedis:
    name = "redis"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.home = settings.data_dir.resolve() / "redis"
        self.process = ManagedProcess("redis", settings.run_dir, settings.log_dir, marker=f":{settings.redis_port}")

    def ready(self) -> bool:
        return redis_answers(self.settings.redis_address)

    def start(self, timeout: float = 30.0) -> int:
        pid = self.process.pid()
        if pid is not None:
            return pid
        if port_in_use(self.settings.redis_port):
            raise StackError(
                f"port {self.settings.redis_port} is in use by another process, so the local redis-server "
                "cannot start. Stop it, point CDP_REDIS_URL at it if it is a Redis, or set CDP_REDIS_PORT."
            )
        self.home.mkdir(parents=True, exist_ok=True)
        argv = [
            redis_server_binary(), "--bind", "127.0.0.1", "--port", str(self.settings.redis_port),
            "--dir", str(self.home), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--daemonize", "no", "--protected-mode", "yes",
        ]
        pid = self.process.start(argv)
        self.process.wait_until(self.ready, timeout, "ready")
        return pid
