"""Printing benchmark figures: one table, each figure beside its baseline as a ratio."""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

console = Console(width=180)  # wide tables even when output goes to a file or CI log


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, Python {platform.python_version()}"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    note: str = ""

    @property
    def ratio(self) -> str:
        return f"{self.value / self.baseline:.2f}" if self.baseline else ""


def rate(count: int, fn: Callable[[], object]) -> float:
    """Run ``fn`` once and return ``count`` / seconds it took."""
    started = time.perf_counter()
    fn()
    return count / (time.perf_counter() - started)


def print_figures(title: str, figures: list[Figure]) -> None:
    table = Table("figure", "value", "baseline", "baseline value", "ratio", "note", title=title)
    for f in figures:
        table.add_row(
            f.name, f"{f.value:,.0f} {f.unit}", f.baseline_name,
            f"{f.baseline:,.0f} {f.unit}" if f.baseline else "", f.ratio, f.note,
        )
    console.print(table)
