"""A fixed request rate offered by wrk, the HTTP load generator in C the field uses.

Why wrk: it spends a few µs of CPU per request where the Python generator spent tens
(both share the 2 cores with the server under test, so a costly generator adds its own
stalls to the server's tail and takes CPU from it), it is in Debian (`make bench` installs
it), and its latency histogram gives exact percentiles. It is closed loop; ``wrk_paced.lua``
paces it on a fixed timeline and measures how late each request left, so the offered rate
and coordinated omission are both checked, not assumed (see that script).
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("wrk_paced.lua")
CONNECTIONS = 32  # a stall shorter than 32 slots (32 ms at 1,000 req/s) holds no request back
WARM_UP_S = 1


@dataclass(frozen=True)
class Offered:
    """What a generator measured at a fixed offered rate: latencies and send lags in µs
    (lag: how late a request left after its due time), its own CPU per request in µs."""

    generator: str
    requests: int
    seconds: float
    p50: float
    p99: float
    p999: float
    lag_p99: float
    lag_max: float
    cpu_per_request: float

    @property
    def rate(self) -> float:
        """The achieved rate: requests answered per second of the run."""
        return self.requests / self.seconds


def wrk_installed() -> bool:
    return shutil.which("wrk") is not None


def offer_wrk(port: int, path: str, key: str, rate: int, seconds: float) -> Offered:
    """GET ``path`` at ``rate``/s for ``seconds`` (after a discarded warm-up second);
    raises RuntimeError naming the failures if any request failed."""
    _wrk(port, path, key, rate, WARM_UP_S)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = _wrk(port, path, key, rate, seconds)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Offered(f"wrk, 1 thread, {CONNECTIONS} connections, paced", result["requests"],
                   result["duration_us"] / 1e6, result["p50"], result["p99"], result["p999"],
                   result["lag_p99_ms"] * 1e3, result["lag_max_ms"] * 1e3, cpu / result["requests"] * 1e6)


def _wrk(port: int, path: str, key: str, rate: int, seconds: float) -> dict:
    command = ["wrk", "-t", "1", "-c", str(CONNECTIONS), "-d", f"{seconds:g}s", "--timeout", "10s",
               "-H", f"Authorization: Bearer {key}", "-s", str(SCRIPT), f"http://127.0.0.1:{port}{path}",
               "--", str(rate), "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((line for line in done.stdout.splitlines() if line.startswith("PACED ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    result = json.loads(line[len("PACED "):])
    failed = {kind: n for kind, n in result["errors"].items() if n}
    if failed:
        raise RuntimeError(f"requests to {path} failed under wrk: {failed} (status: HTTP >= 400)")
    return result
