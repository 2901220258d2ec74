"""Background processes owned by the local stack: pid files, logs, liveness, stop.

A process counts as *ours* only while its pid file exists and the live process's command
line still carries the marker we started it with (the data directory), so `cdp down`
never signals a stranger that reused the pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from panorama.errors import StackError


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return f"(no log at {path})"
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 64 * 1024))
        return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])


@dataclass
class ManagedProcess:
    name: str
    run_dir: Path
    log_dir: Path
    marker: str

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of our live process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _cmdline(pid) is None or self.marker not in _cmdline(pid):
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def start(self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + 5
        while self.marker not in (_cmdline(proc.pid) or "") and time.monotonic() < deadline:
            time.sleep(0.01)  # between fork and exec the child still shows our command line
        return proc.pid

    def wait_until(self, ready, timeout: float, what: str) -> None:
        """Poll ``ready()`` until it is true; fail with the log's last lines if the process
        dies or the timeout passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise StackError(
                    f"{self.name} exited during start-up. Last lines of {self.log_file}:\n{tail(self.log_file)}"
                )
            if ready():
                return
            time.sleep(0.2)
        raise StackError(
            f"{self.name} did not become {what} within {timeout:.0f}s. "
            f"Last lines of {self.log_file}:\n{tail(self.log_file)}"
        )

    def stop(self, timeout: float = 30.0, sig: int = signal.SIGTERM) -> bool:
        """Stop our process (SIGTERM, then SIGKILL after ``timeout``). False if none ran."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    if _cmdline(pid) is None:
        return False
    state = process_state(pid)  # a zombie child of ours still has a /proc entry
    return state is not None and state != "Z"


def process_state(pid: int) -> str | None:
    """The state letter of ``pid`` in /proc (R, S, T stopped, Z zombie, ...); None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
