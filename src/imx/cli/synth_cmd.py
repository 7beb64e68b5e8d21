"""``imx synth``: deterministic synthetic patients and studies written as DICOM files.

Layout: ``<out>/<PatientID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``. The same options and
seed write byte-identical files (see ``imx.dicom.synth``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from imx.dicom.synth import generate_patients, generate_study, iter_write_study

__all__ = ["register"]

_MODALITIES = ("CT", "MR", "MIXED")


def register(app: typer.Typer) -> None:
    """Add the ``synth`` command to the root app."""

    @app.command("synth")
    def synth(
        out: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
        patients: Annotated[int, typer.Option(min=1, help="Number of patients.")] = 3,
        studies_per_patient: Annotated[int, typer.Option(min=1)] = 2,
        series: Annotated[int, typer.Option(min=1, help="Series per study.")] = 2,
        instances: Annotated[int, typer.Option(min=1, help="Instances per series.")] = 20,
        rows: Annotated[int, typer.Option(min=8, help="Rows and columns of each image.")] = 512,
        seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 7,
        modality: Annotated[
            str, typer.Option(help="CT, MR or mixed (CT and MR studies alternate).")
        ] = "mixed",
    ) -> None:
        """Generate realistic CT/MR studies (16-bit pixels, non-ASCII names); same seed, same bytes.

        Example: imx synth --out ./synth --patients 5 --studies-per-patient 2 --modality CT
        """
        mode = modality.upper()
        if mode not in _MODALITIES:
            raise typer.BadParameter("choose CT, MR or mixed", param_hint="--modality")
        people = generate_patients(seed, patients)
        total = patients * studies_per_patient * series * instances
        written = size = 0
        t0 = time.perf_counter()
        with Progress(
            TextColumn("[bold]synth"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as progress:
            task = progress.add_task("instances", total=total)
            for p in people:
                for k in range(studies_per_patient):
                    mod = mode if mode != "MIXED" else ("CT" if k % 2 == 0 else "MR")
                    study = generate_study(
                        p,
                        seed=seed,
                        study_index=k,
                        modality=mod,
                        series_count=series,
                        instances_per_series=instances,
                        rows=rows,
                        columns=rows,
                    )
                    for path in iter_write_study(out / p.patient_id, study):
                        written += 1
                        size += path.stat().st_size
                        progress.advance(task)
        elapsed = time.perf_counter() - t0
        table = Table(title="imx synth", show_header=False)
        for label, value in (
            ("folder", str(out)),
            ("seed", str(seed)),
            ("patients", str(patients)),
            ("studies", str(patients * studies_per_patient)),
            ("series", str(patients * studies_per_patient * series)),
            ("instances", str(written)),
            ("size", f"{size / 1e6:.1f} MB"),
            ("time", f"{elapsed:.1f} s ({written / max(elapsed, 1e-9):.0f} instances/s)"),
        ):
            table.add_row(label, value)
        Console().print(table)
