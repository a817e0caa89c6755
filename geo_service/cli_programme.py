"""``geo-service programme …``: the enquiry register and the programme indicators from the command line
(import/export of enquiries as CSV/XLSX, the synthetic demo history, indicator tables and the board report)."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from constraints.rules import load_rules
from geo_service.cli_common import WorkspaceOpt, out, settings_for, user_errors
from geo_service.stores import open_store
from layers.store import Store
from maps.programme_tables import table_bytes
from programme import indicators as ind
from programme.access import Actor
from programme.db import open_database
from programme.demo import seed_programme_demo
from programme.exchange import export_csv, export_xlsx, import_enquiries, read_rows
from programme.register import EnquiryRegister

programme_app = typer.Typer(help="Enquiries, planning capacity and programme indicators.", no_args_is_help=True)
QuarterOpt = Annotated[str | None, typer.Option(help="quarter, e.g. 2025-Q1")]


def _cli_actor() -> Actor:
    """Whoever runs the CLI on the server acts as an administrator (as for layers add)."""
    return Actor(f"cli:{getpass.getuser()}", "admin")


@contextmanager
def _register(workspace: Path | None) -> Iterator[tuple[Store, EnquiryRegister]]:
    with user_errors():
        settings = settings_for(workspace)
        store = open_store(settings)
        register = EnquiryRegister(open_database(store))
        try:
            yield store, register  # a ProgrammeError is a ValueError: one line on stderr, exit 2
        finally:
            register.db.close()
            close = getattr(store, "close", None)
            if close is not None:
                close()


@programme_app.command("demo")
def demo(workspace: WorkspaceOpt = None,
         land_history: Annotated[bool, typer.Option(help="also publish back-dated zoning versions")] = True) -> None:
    """Seed the SYNTHETIC demo history: three years of enquiries, capacity and zoning versions."""
    with _register(workspace) as (store, register):
        rules = load_rules(settings_for(workspace).effective_rules_file())
        counts = seed_programme_demo(store, register, rules, land_history=land_history)
        out.print(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()) + " (synthetic)",
                  highlight=False)


@programme_app.command("export")
def export(output: Annotated[Path, typer.Option("--output", "-o", help=".csv or .xlsx")],
           excel_no: Annotated[bool, typer.Option("--excel-no", help="CSV for Norwegian Excel (; , BOM)")] = False,
           workspace: WorkspaceOpt = None) -> None:
    """Write every enquiry to a CSV or XLSX file."""
    with _register(workspace) as (_, register):
        rows = register.list(_cli_actor())
        data = export_xlsx(rows) if output.suffix.lower() == ".xlsx" else export_csv(rows, excel_no=excel_no)
        output.write_bytes(data)
        out.print(f"wrote {len(rows)} enquiries to {output}", highlight=False, markup=False)


@programme_app.command("import")
def import_file(path: Annotated[Path, typer.Argument(help="CSV or XLSX with the export's columns")],
                workspace: WorkspaceOpt = None) -> None:
    """Register the enquiries of a CSV or XLSX file (every row checked first: all or none)."""
    with _register(workspace) as (_, register):
        if not path.is_file():
            raise ValueError(f"{path} is not a file")
        made = import_enquiries(register, _cli_actor(), read_rows(path.read_bytes(), path.name))
        out.print(f"imported {len(made)} enquiries", highlight=False)


@programme_app.command("indicators")
def indicators(output: Annotated[Path, typer.Option("--output", "-o", help="folder for the tables")],
               first: Annotated[str | None, typer.Option("--from", help="first quarter, e.g. 2025-Q1")] = None,
               last: Annotated[str | None, typer.Option("--to", help="last quarter")] = None,
               fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
               pdf: Annotated[Path | None, typer.Option("--pdf", help="also write the board report")] = None,
               lang: Annotated[str, typer.Option(help="nb or en (report)")] = "nb",
               workspace: WorkspaceOpt = None) -> None:
    """Write the indicator tables (land, enquiries, sectors, capacity) and optionally the PDF report."""
    with _register(workspace) as (store, register):
        if fmt not in ("csv", "xlsx"):
            raise ValueError(f"--format must be csv or xlsx, not {fmt!r}")
        enquiries, events, tasks = register.snapshot()
        result = ind.compute(store, enquiries, events, tasks, register.capacities(), first, last)
        output.mkdir(parents=True, exist_ok=True)
        for name, frame in result.tables().items():
            (output / f"{name}.{fmt}").write_bytes(table_bytes(frame, fmt, name)[0])
        if pdf is not None:
            from maps.page import is_synthetic  # folium and matplotlib: imported only when a PDF is asked for
            from maps.programme_pages import report_pdf

            pdf.write_bytes(report_pdf(result, lang, is_synthetic(store.list_layers()), result.quarters))
        out.print(f"{len(result.quarters)} quarters ({result.quarters[0] if result.quarters else '-'} – "
                  f"{result.quarters[-1] if result.quarters else '-'}) written to {output}", highlight=False,
                  markup=False)
