"""`python -m bench [--events N]`: start a private stack, run every benchmark, print."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench import (api_bench, collector_bench, import_bench, privacy_bench, producer_bench, projections_bench,
                   segments_bench, streams_bench)
from bench.report import console, machine, peak_rss_mib, print_figures
from panorama.stack.ephemeral import ephemeral_stack


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--events", type=int, default=500_000, help="events per producer run")
    parser.add_argument("--query-events", type=int, default=10_000_000, help="events generated for the query benchmarks")
    args = parser.parse_args()
    console.print(f"[bold]Panorama benchmarks[/bold] on {machine()}")
    with tempfile.TemporaryDirectory(prefix="cdp-bench-") as tmp, ephemeral_stack(Path(tmp)) as settings:
        print_figures("producer", producer_bench.run(settings, args.events))
        print_figures("collector", collector_bench.run(settings))
        print_figures("import", import_bench.run(settings))
        print_figures("streams", streams_bench.run(settings))
        print_figures("live segments", segments_bench.run(settings))
        print_figures("profile API (auth + audit)", api_bench.run(settings))
        print_figures("profile API at the target's load", api_bench.run(settings, rate=1000, seconds=8))
        print_figures("privacy: encryption overhead", privacy_bench.run(settings))
        print_figures("analytics store (chDB)", projections_bench.run(settings, query_events=args.query_events))
    console.print(f"peak RSS of the benchmark process: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
