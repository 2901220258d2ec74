"""The connector commands of `cdp`: `connectors list|new`, `import` (write keys: `cdp keys`, in
``panorama.security.cli``).

Registered on the main app by :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from panorama.settings import Settings

connectors_app = typer.Typer(no_args_is_help=True, help="Channel connectors: list them, scaffold a new one.")
console = Console(stderr=True)


_settings: Callable[[], Settings] = lambda: None  # noqa: E731  (set by register)


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Add `connectors` and `import` to ``app``; ``settings()`` gives the settings
    the main command parsed (``--config``, ``--data-dir``)."""
    global _settings
    _settings = settings
    app.add_typer(connectors_app, name="connectors")
    app.command("import")(import_command)


@connectors_app.command("list")
def list_connectors() -> None:
    """Every installed connector (built in or from the `panorama.connectors` entry points)."""
    from connectors import registry

    table = Table("name", "channel", "input", "settings", "description")
    for name in registry.names():
        cls = registry.get(name)
        settings = ", ".join(cls.Config.model_fields) or "-"
        table.add_row(name, cls.channel, "webhook " + cls.input_format if cls.input_format != "row" else "import rows",
                      settings, cls.description)
    Console().print(table)


@connectors_app.command("new")
def new_connector(
    name: Annotated[str, typer.Argument(help="connector name: lower-case letters, digits, _")],
    package_dir: Annotated[Path, typer.Option("--path", help="where the module goes")] = Path("connectors/channels"),
    tests_dir: Annotated[Path, typer.Option("--tests", help="where its test goes")] = Path("tests/unit/connectors/channels"),
) -> None:
    """Write a working connector skeleton and its passing test."""
    from connectors.scaffold import scaffold

    module, test, entry_point = scaffold(name, package_dir, tests_dir)
    console.print(f"wrote {module} and {test}")
    console.print('register it in pyproject.toml under [project.entry-points."panorama.connectors"]:')
    print(entry_point)
    console.print("then: pip install -e . && pytest " + str(test))


def import_command(
    file: Annotated[Path, typer.Argument(help="CSV, JSON Lines or Parquet file")],
    connector: Annotated[str, typer.Option("--connector", help="row connector: customers, orders, ...")],
    mapping: Annotated[Path | None, typer.Option("--mapping", help="TOML/JSON column mapping and settings")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=0, help="processes that map and encode rows (default: none where the columnar path does the work, "
                           "one per core for other files of 4 MiB or more; 0: none)")] = None,
) -> None:
    """Import a file of customers or transactions; re-importing it adds nothing."""
    from connectors.importer.run import import_file

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[rows]:,} rows"),
               TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"importing {file.name}", total=file.stat().st_size if file.is_file() else None, rows=0)
        report = import_file(_settings(), file, connector, mapping,
                             lambda done, rows: progress.update(task, completed=done, rows=rows), workers)
    console.print(f"rows read: {report.rows_read:,}   events produced: {report.events_produced:,}   "
                  f"rows rejected: {report.rows_rejected:,} (all listed in {report.rejects_file})")
    for row, field, problem in report.first_rejections:
        console.print(f"  row {row}: {field}: {problem}")
    if report.rows_rejected > len(report.first_rejections):
        console.print(f"  ... and {report.rows_rejected - len(report.first_rejections):,} more in {report.rejects_file}")
