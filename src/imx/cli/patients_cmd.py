"""``imx patients import FILE``: bulk-load the patient index (MPI) from CSV or FHIR R4.

The ``patients`` group is ``patients_app`` below; other ``imx patients ...`` commands (such
as a network search) add themselves to it with ``@patients_app.command(...)`` rather than
registering a second group of the same name. Columns and formats:
``imx.services.patient_import`` and docs/conformance/responding-gateway.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console

from imx.cli.options import ConfigOption, settings_from
from imx.services.patient_import import (
    ImportRejection,
    ImportSummary,
    import_patients,
    parse_csv,
    parse_fhir_bundle,
    parse_fhir_ndjson,
)
from imx.storage import build_metadata_store

__all__ = ["patients_app", "register"]

patients_app = typer.Typer(no_args_is_help=True, help="The patient index (MPI).")

_FORMATS = ("auto", "csv", "fhir-bundle", "ndjson")


def register(app: typer.Typer) -> None:
    app.add_typer(patients_app, name="patients")


def _format_of(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    if suffix == ".json":
        return "fhir-bundle"
    raise typer.BadParameter("cannot tell the format from the file name: pass --format")


def _items(stream: TextIO, fmt: str, issuer: str) -> Iterator[object]:
    if fmt == "csv":
        return parse_csv(stream, issuer=issuer)
    if fmt == "ndjson":
        return parse_fhir_ndjson(stream, issuer=issuer)
    return parse_fhir_bundle(stream, issuer=issuer)


@patients_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="CSV, FHIR Bundle (.json) or NDJSON file.")],
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(_FORMATS)}.")] = "auto",
    issuer: Annotated[str | None, typer.Option(
        help="Assigning authority (OID) of rows without one; default: the node's "
             "default_assigning_authority.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=50_000)] = 2000,
    config: ConfigOption = None,
) -> None:
    """Import patients into the index, streaming, in batches (one transaction per batch).

    Rows that cannot be imported are listed by row/entry number with a reason (never their
    contents); the exit code is 1 if any were rejected.
    """
    if fmt not in _FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(_FORMATS)}")
    settings = settings_from(config)
    kind = _format_of(file, fmt)
    aa = issuer or settings.node.default_assigning_authority
    console = Console(stderr=True)
    rejected: list[ImportRejection] = []

    async def run() -> tuple[int, int, int]:
        store = await build_metadata_store(settings.storage, auto_upgrade=True)
        try:
            with file.open(encoding="utf-8-sig", newline="") as stream:
                summary = ImportSummary()
                last = time.monotonic()
                async for summary in import_patients(
                        store, _items(stream, kind, aa),  # type: ignore[arg-type]
                        batch_size=batch_size, rejected=rejected):
                    if time.monotonic() - last > 5:
                        console.print(f"{summary.imported:,} imported ...")
                        last = time.monotonic()
            return summary.imported, summary.rejected, summary.skipped
        finally:
            await store.close()

    started = time.monotonic()
    try:
        imported, n_rejected, skipped = asyncio.run(run())
    except ValueError as exc:  # header / Bundle structure: nothing sensible to import
        raise typer.BadParameter(str(exc)) from exc
    for r in rejected[:50]:
        console.print(f"rejected {'row' if kind == 'csv' else 'entry'} {r.position}: {r.reason}")
    with contextlib.suppress(ZeroDivisionError):
        rate = imported / (time.monotonic() - started)
        console.print(f"imported {imported:,} patients ({rate:,.0f}/s), rejected {n_rejected:,}"
                      + (f", skipped {skipped:,} non-Patient resources" if skipped else ""))
    if n_rejected:
        raise typer.Exit(1)
