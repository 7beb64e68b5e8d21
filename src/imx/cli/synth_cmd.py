"""``imx synth``: deterministic synthetic patients and studies written as DICOM files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from imx.dicom.synth import generate_patients, generate_study, write_study


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth(
        out: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
        patients: Annotated[int, typer.Option(min=1)] = 3,
        studies_per_patient: Annotated[int, typer.Option(min=1)] = 2,
        series: Annotated[int, typer.Option(min=1)] = 2,
        instances: Annotated[int, typer.Option(min=1, help="Instances per series.")] = 20,
        rows: Annotated[int, typer.Option(min=8)] = 512,
        seed: int = 7,
        modality: Annotated[str, typer.Option(help="CT, MR or mixed.")] = "mixed",
    ) -> None:
        """Generate realistic CT/MR studies (16-bit pixels, non-ASCII names); same seed, same bytes."""
        people = generate_patients(seed, patients)
        total = patients * studies_per_patient * series * instances
        written = 0
        with Progress(TextColumn("[bold]synth"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), transient=True) as progress:
            task = progress.add_task("instances", total=total)
            for p in people:
                for k in range(studies_per_patient):
                    mod = modality.upper() if modality.upper() in ("CT", "MR") else (
                        "CT" if k % 2 == 0 else "MR")
                    study = generate_study(p, seed=seed, study_index=k, modality=mod,
                                           series_count=series, instances_per_series=instances,
                                           rows=rows, columns=rows)
                    for path in write_study(out / p.patient_id, study):
                        written += 1
                        progress.advance(task)
                        del path
        Console().print(f"wrote {written} instances for {patients} patients "
                        f"({patients * studies_per_patient} studies) to {out}")
