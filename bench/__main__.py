"""`python -m bench [--events N]`: start a private stack, run every benchmark, print."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench import producer_bench
from bench.report import console, machine, peak_rss_mib, print_figures
from panorama.stack.ephemeral import ephemeral_stack


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--events", type=int, default=500_000, help="events per producer run")
    args = parser.parse_args()
    console.print(f"[bold]Panorama benchmarks[/bold] on {machine()}")
    with tempfile.TemporaryDirectory(prefix="cdp-bench-") as tmp, ephemeral_stack(Path(tmp)) as settings:
        console.print("[dim]stack up; measuring the producer[/dim]")
        print_figures("producer", producer_bench.run(settings, args.events))
    console.print(f"peak RSS of the benchmark process: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
